"""End to end against a real HTTP server (pytest-django's ``live_server``) with a real client (httpx).

A random multi-megabyte file goes up in uneven chunks, half of them multipart and half raw bodies;
the client "forgets" where it was halfway, asks the server for the offset and resumes from there.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from chunked_uploads.models import ChunkedUpload, UploadStatus

from .helpers import LIST_URL, stored_bytes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def http(live_server: Any) -> Iterator[httpx.Client]:
    user = get_user_model().objects.create_user("e2e")
    token = Token.objects.create(user=user)
    headers = {"Authorization": f"Token {token.key}"}
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=30) as client:
        yield client


def uneven_bounds(total: int, chunks: int, seed: int) -> list[tuple[int, int]]:
    """``chunks`` (start, end-exclusive) pairs of different lengths covering ``total`` bytes."""
    cuts = sorted(random.Random(seed).sample(range(1, total), chunks - 1))
    edges = [0, *cuts, total]
    return list(itertools.pairwise(edges))


def put_slice(
    client: httpx.Client, url: str, data: bytes, start: int, end: int, *, raw: bool
) -> httpx.Response:
    """PUT ``data[start:end]`` through pytest-django's live server (``http`` carries the token)."""
    headers = {"Content-Range": f"bytes {start}-{end - 1}/{len(data)}"}
    if raw:
        headers["Content-Type"] = "application/octet-stream"
        headers["Content-Disposition"] = 'attachment; filename="random.bin"'
        return client.put(url, content=data[start:end], headers=headers)
    files = {"file": ("random.bin", data[start:end], "application/octet-stream")}
    return client.put(url, files=files, headers=headers)


def test_multi_chunk_upload_with_resume(http: httpx.Client) -> None:
    data = os.urandom(5 * 1024 * 1024 + 123)
    bounds = uneven_bounds(len(data), 7, seed=len(data))
    assert len({end - start for start, end in bounds}) == 7

    start, end = bounds[0]
    response = put_slice(http, LIST_URL, data, start, end, raw=False)
    assert response.status_code == 200, response.text
    url = response.json()["url"]
    assert url.startswith(str(http.base_url))
    for index, (start, end) in enumerate(bounds[1:4], start=1):
        response = put_slice(http, url, data, start, end, raw=index % 2 == 1)
        assert response.status_code == 200, response.text
        assert response.json()["offset"] == end

    # The client lost track: it asks the server where to continue.
    response = http.get(url)
    assert response.status_code == 200
    offset = response.json()["offset"]
    assert offset == bounds[3][1]
    # Resending an acknowledged chunk is refused with the offset to continue from.
    response = put_slice(http, url, data, bounds[2][0], bounds[2][1], raw=True)
    assert response.status_code == 400
    assert response.json()["expected_offset"] == offset

    remaining = [(start, end) for start, end in bounds if start >= offset]
    for index, (start, end) in enumerate(remaining):
        response = put_slice(http, url, data, start, end, raw=index % 2 == 0)
        assert response.status_code == 200, response.text
    assert response.json()["offset"] == len(data)

    digest = hashlib.md5(data).hexdigest()
    response = http.post(url, data={"md5": digest})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "complete"

    upload = ChunkedUpload.objects.get()
    assert upload.status == UploadStatus.COMPLETE
    assert upload.checksum == digest
    assert upload.filename == "random.bin"
    stored = stored_bytes(upload)
    assert len(stored) == len(data)
    assert hashlib.md5(stored).hexdigest() == digest
    assert stored == data


def test_single_shot_upload(http: httpx.Client) -> None:
    data = os.urandom(700_001)
    digest = hashlib.md5(data).hexdigest()
    files = {"file": ("whole.bin", data, "application/octet-stream")}
    response = http.post(LIST_URL, files=files, data={"md5": digest.upper()})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["offset"], body["size"]) == ("complete", len(data), len(data))
    upload = ChunkedUpload.objects.get(pk=body["id"])
    assert stored_bytes(upload) == data
    assert http.get(body["url"]).json()["status"] == "complete"


def test_single_shot_with_a_wrong_checksum_leaves_nothing(
    http: httpx.Client, media_root: Path
) -> None:
    files = {"file": ("whole.bin", b"some bytes", "application/octet-stream")}
    response = http.post(LIST_URL, files=files, data={"md5": "0" * 32})
    assert response.status_code == 400
    assert response.json()["detail"] == "checksum does not match"
    assert not ChunkedUpload.objects.exists()
    assert [path for path in media_root.rglob("*") if path.is_file()] == []
