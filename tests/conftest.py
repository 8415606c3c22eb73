"""Shared fixtures: users, authenticated API clients, random files (helpers: ``tests/helpers.py``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

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
def payload() -> bytes:
    """300 kB of random bytes: three 100 kB chunks."""
    return os.urandom(300_000)


@pytest.fixture
def slow_link(server: Any) -> Iterator[SlowLink]:
    """A 16 MiB/s link in front of the test module's live ``server`` fixture (``slow_link.py``)."""
    link = SlowLink(server.port, rate=16 * 1024 * 1024)
    yield link
    link.close()
