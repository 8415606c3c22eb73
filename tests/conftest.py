"""Shared fixtures: users, authenticated API clients, random files and a chunk-sending helper."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

LIST_URL = "/api/uploads/"

# Debian's Chromium, driven by Playwright (never a downloaded browser); the flags keep it off the
# network, which this machine does not have.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    """Every test stores bytes in its own folder."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = str(root)
    return root


@pytest.fixture
def user(db: None) -> Any:
    return get_user_model().objects.create_user("alice", password="alice-password")


@pytest.fixture
def other_user(db: None) -> Any:
    return get_user_model().objects.create_user("bob", password="bob-password")


def client_for(user: Any) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api(user: Any) -> APIClient:
    return client_for(user)


@pytest.fixture
def other_api(other_user: Any) -> APIClient:
    return client_for(other_user)


@pytest.fixture
def payload() -> bytes:
    """300 kB of random bytes: three 100 kB chunks."""
    return os.urandom(300_000)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def put_chunk(
    client: APIClient,
    url: str,
    data: bytes,
    start: int,
    total: int,
    *,
    field: str = "file",
    filename: str = "payload.bin",
    raw: bool = False,
    **extra: Any,
) -> Any:
    """PUT one chunk as multipart (or as a raw octet-stream body) with its Content-Range."""
    headers = {"HTTP_CONTENT_RANGE": f"bytes {start}-{start + len(data) - 1}/{total}", **extra}
    if raw:
        return client.put(
            url,
            data,
            content_type="application/octet-stream",
            HTTP_CONTENT_DISPOSITION=f'attachment; filename="{filename}"',
            **headers,
        )
    from django.core.files.uploadedfile import SimpleUploadedFile

    body = {field: SimpleUploadedFile(filename, data)}
    return client.put(url, body, format="multipart", **headers)


def upload_in_chunks(
    client: APIClient, data: bytes, chunk_size: int = 100_000, **kwargs: Any
) -> Any:
    """Create an upload and append every chunk; return the last response."""
    response = put_chunk(client, LIST_URL, data[:chunk_size], 0, len(data), **kwargs)
    assert response.status_code == 200, response.content
    url = response.json()["url"]
    for start in range(chunk_size, len(data), chunk_size):
        response = put_chunk(
            client, url, data[start : start + chunk_size], start, len(data), **kwargs
        )
        assert response.status_code == 200, response.content
    return response


def stored_bytes(upload: Any) -> bytes:
    """The bytes an upload's store holds, read through the storage API."""
    with upload.file.storage.open(upload.file.name, "rb") as handle:
        data: bytes = handle.read()
    return data


def file_name(upload: Any) -> str:
    """The name of an upload's bytes in its storage; fails the test if it has none."""
    name = upload.file.name
    assert name, f"{upload!r} has no stored file"
    return str(name)
