"""Helpers shared by the test files: sending chunks, completing uploads, stored bytes, free ports.

Chunks go two ways. ``put_chunk``, ``upload_in_chunks`` and ``complete`` go through DRF's
``APIClient`` (in process, in the test's transaction); ``put_chunk_live`` and ``complete_live`` go
through httpx to a gunicorn ``LiveServer`` (``tests/servers.py``), each on a connection of its own.
Fixtures stay in ``conftest.py``.
"""

from __future__ import annotations

import hashlib
import socket
from typing import TYPE_CHECKING, Any

import httpx
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from chunked_uploads.models import ChunkedUpload

if TYPE_CHECKING:
    from .servers import LiveServer

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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def content_range(data: bytes, start: int, total: int) -> str:
    return f"bytes {start}-{start + len(data) - 1}/{total}"


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
    headers = {"HTTP_CONTENT_RANGE": content_range(data, start, total), **extra}
    if raw:
        return client.put(
            url,
            data,
            content_type="application/octet-stream",
            HTTP_CONTENT_DISPOSITION=f'attachment; filename="{filename}"',
            **headers,
        )
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


def complete(client: APIClient, url: str, data: bytes) -> ChunkedUpload:
    """Complete the upload at ``url`` with the md5 of ``data``; the completed upload."""
    response = client.post(url, {"md5": md5(data)}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "complete"
    return ChunkedUpload.objects.get(pk=response.json()["id"])


def put_chunk_live(
    server: LiveServer,
    url: str,
    data: bytes,
    start: int,
    total: int,
    *,
    filename: str = "payload.bin",
    raw: bool = False,
) -> httpx.Response:
    """``put_chunk`` over HTTP to a live server, on a fresh connection."""
    headers = {**server.headers, "Content-Range": content_range(data, start, total)}
    if not raw:
        return httpx.put(url, headers=headers, files={"file": (filename, data)}, timeout=60)
    headers["Content-Type"] = "application/octet-stream"
    headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return httpx.put(url, content=data, headers=headers, timeout=60)


def complete_live(server: LiveServer, url: str, data: bytes) -> httpx.Response:
    """Complete the upload at ``url`` on a live server with the md5 of ``data``."""
    return httpx.post(url, headers=server.headers, json={"md5": md5(data)}, timeout=60)


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
