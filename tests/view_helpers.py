"""What the ``test_views_*`` files share: the protocol's constants, request builders and assertions."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from chunked_uploads.models import ChunkedUpload

from .helpers import LIST_URL, put_chunk, stored_bytes

UTC = timezone.utc  # datetime.UTC needs Python 3.11

CHUNK = 100_000
TOTAL = 300_000
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
BODY_KEYS = {
    "id",
    "url",
    "offset",
    "expires",
    "filename",
    "size",
    "status",
    "created_at",
    "completed_at",
    "checksum_algorithm",
    "parallel",
    "ranges",
}
hooks_urls = pytest.mark.urls("tests.urls_hooks")

NO_CHUNK = "No chunk file was submitted"
SIZE_LIMIT = "Size of file exceeds the limit (1000 bytes)"


def detail(upload_id: str, prefix: str = LIST_URL) -> str:
    return f"{prefix}{upload_id}/"


def start(client: APIClient, payload: bytes, prefix: str = LIST_URL, **kwargs: Any) -> str:
    """Send the first 100 kB chunk of ``payload``; return the upload's id."""
    response = put_chunk(client, prefix, payload[:CHUNK], 0, len(payload), **kwargs)
    assert response.status_code == 200, response.content
    upload_id: str = response.json()["id"]
    return upload_id


def assert_error(
    response: Any, status: int, code: str, detail: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str)
    if detail is not None:
        assert body["detail"] == detail
    return body


def assert_unchanged(upload_id: str, acknowledged: bytes) -> None:
    """The upload's offset and acknowledged bytes did not move.

    Bytes of a refused chunk may linger past the offset until the next writer truncates them
    (``store.py``); they are never acknowledged, so only the prefix is compared here and
    ``assert_heals`` checks that the next chunk leaves exactly the acknowledged bytes.
    """
    upload = ChunkedUpload.objects.get(pk=upload_id)
    assert upload.offset == len(acknowledged)
    assert upload.status == "uploading"
    assert stored_bytes(upload)[: len(acknowledged)] == acknowledged


def assert_heals(client: APIClient, upload_id: str, payload: bytes, offset: int) -> None:
    """The next correct chunk is accepted and the store then holds exactly the acknowledged bytes."""
    response = put_chunk(
        client, detail(upload_id), payload[offset : offset + 10], offset, len(payload)
    )
    assert response.status_code == 200, response.content
    assert stored_bytes(ChunkedUpload.objects.get(pk=upload_id)) == payload[: offset + 10]


def stored_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def raw_put(client: APIClient, url: str, data: bytes, content_range: str, **extra: Any) -> Any:
    return client.put(
        url,
        data,
        content_type="application/octet-stream",
        HTTP_CONTENT_RANGE=content_range,
        **extra,
    )


def single_shot(client: APIClient, data: bytes, prefix: str = LIST_URL, **fields: Any) -> Any:
    body = {"file": SimpleUploadedFile("whole.bin", data), **fields}
    return client.post(prefix, body, format="multipart")
