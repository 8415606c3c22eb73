"""Per-user limits on unfinished uploads (``quotas.py``): refused with a 403 before the body is read.

Tried: the count limit on first chunks and single shots, what frees a slot (completion, abort,
expiry), other users' uploads not counting, the bytes quota from ``Content-Range`` totals and from
a single shot's ``Content-Length``, and that a refused request stores nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from chunked_uploads.models import ChunkedUpload
from chunked_uploads.quotas import declared_total
from chunked_uploads.ranges import ContentRange

from .helpers import LIST_URL, md5, put_chunk


def start(api: Any, data: bytes = b"x" * 10, total: int = 100) -> Any:
    return put_chunk(api, LIST_URL, data, 0, total, raw=True)


@override_settings(DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_UPLOADS=2)
def test_count_limit_refuses_the_next_upload(api: Any, other_api: Any) -> None:
    assert start(api).status_code == 200
    assert start(api).status_code == 200
    response = start(api)
    assert response.status_code == 403
    assert response.json()["code"] == "too_many_unfinished_uploads"
    assert response.json()["limit"] == 2
    assert ChunkedUpload.objects.count() == 2
    assert start(other_api).status_code == 200  # another user has slots of their own


@override_settings(DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_UPLOADS=1)
def test_single_shot_is_counted_too(api: Any) -> None:
    assert start(api).status_code == 200
    response = api.post(LIST_URL, {"file": b"abc", "md5": md5(b"abc")}, format="multipart")
    assert response.status_code == 403
    assert response.json()["code"] == "too_many_unfinished_uploads"


@override_settings(DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_UPLOADS=1)
def test_abort_and_expiry_free_a_slot(api: Any) -> None:
    url = start(api).json()["url"]
    assert start(api).status_code == 403
    assert api.delete(url).status_code == 204
    assert start(api).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert start(api).status_code == 200  # the expired one no longer counts


@override_settings(DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_UPLOADS=1)
def test_appending_is_not_limited(api: Any) -> None:
    url = start(api, b"x" * 10, 20).json()["url"]
    response = put_chunk(api, url, b"y" * 10, 10, 20, raw=True)
    assert response.status_code == 200


@override_settings(DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_BYTES=1000)
def test_bytes_quota_counts_declared_totals(api: Any) -> None:
    assert start(api, total=600).status_code == 200
    response = start(api, total=500)
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "unfinished_bytes_quota_exceeded"
    assert (body["limit"], body["declared"]) == (1000, 1100)
    assert start(api, total=400).status_code == 200
    assert ChunkedUpload.objects.count() == 2


@override_settings(DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_BYTES=1000)
def test_bytes_quota_bounds_a_single_shot_by_its_length(api: Any) -> None:
    data = b"z" * 2000
    response = api.post(
        LIST_URL + f"?md5={md5(data)}", data, content_type="application/octet-stream"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "unfinished_bytes_quota_exceeded"
    assert ChunkedUpload.objects.count() == 0


@pytest.mark.parametrize(
    ("byte_range", "body_length", "total"),
    [
        (ContentRange(0, 9, 500), None, 500),
        (ContentRange(0, 9, 500), 7, 500),
        (ContentRange(0, 9, None), None, 10),  # a length not known yet: the first request's
        (ContentRange(0, -1, None), None, 0),  # ... which may be empty
        (None, 7, 7),  # a single shot: its Content-Length
        (None, None, 0),  # a malformed range: refused by the protocol's checks next
    ],
)
def test_declared_total(
    byte_range: ContentRange | None, body_length: int | None, total: int
) -> None:
    assert declared_total(byte_range, body_length) == total
