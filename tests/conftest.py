"""Shared fixtures: users, authenticated API clients, random files, the Python client's token and
URL on pytest-django's live server (helpers: ``tests/helpers.py``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from chunked_uploads import client, signals

from . import tus_js_client
from .slow_link import SlowLink


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
def token(transactional_db: None) -> client.TokenAuth:
    """The Python client's credentials of a new user (for tests against ``live_server``)."""
    user = get_user_model().objects.create_user("carol", password="carol-password")
    return client.TokenAuth(Token.objects.create(user=user).key)


@pytest.fixture
def list_url(live_server: Any) -> str:
    """The native protocol's creation URL on pytest-django's ``live_server``."""
    return f"{live_server.url}/api/uploads/"


@pytest.fixture
def chunks_seen() -> Iterator[list[tuple[int, int]]]:
    """Every chunk the server acknowledged, as ``(start, end)``."""
    seen: list[tuple[int, int]] = []

    def record(sender: Any, upload: Any, start: int, end: int, **kwargs: Any) -> None:
        seen.append((start, end))

    signals.chunk_received.connect(record)
    yield seen
    signals.chunk_received.disconnect(record)


@pytest.fixture
def payload() -> bytes:
    """300 kB of random bytes: three 100 kB chunks."""
    return os.urandom(300_000)


@pytest.fixture
def slow_link(server: Any) -> Iterator[SlowLink]:
    """A 16 MiB/s link in front of the test module's live ``server`` fixture (``slow_link.py``)."""
    link = SlowLink(server.port, rate=16 * 1024 * 1024)
    yield link
    link.close()


@pytest.fixture(scope="module")
def tusjs() -> Path:
    """tus-js-client's application, installed (``tus_js_client.py``); skips without Node."""
    return tus_js_client.install()
