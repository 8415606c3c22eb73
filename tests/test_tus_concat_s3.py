"""tus concatenation on the S3 multipart store (moto's S3 server): partials of 5 MiB or more are
copied into parts by S3 (``UploadPartCopy``); smaller ones go through the server into a part of
5 MiB with their neighbours (``stores/s3_adoption.py``)."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import crc32c
import pytest
from rest_framework.test import APIClient

from chunked_uploads.models import ChunkedUpload

from .s3server import Bucket, s3_bucket, s3_endpoint  # noqa: F401
from .test_tus import head, upload_of
from .test_tus_concat import assert_used_up, final, new_partial

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024
STORE = "chunked_uploads.stores.s3.S3MultipartStore"


@pytest.fixture
def bucket(
    request: Any,
    s3_bucket: Bucket,  # noqa: F811
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> Bucket:
    settings.DRF_CHUNKED_UPLOAD_STORAGE_CLASS = s3_bucket.storage()
    settings.DRF_CHUNKED_UPLOAD_STORE = STORE
    settings.DRF_CHUNKED_UPLOAD_CHECKSUM = getattr(request, "param", "md5")
    # Deleted uploads' objects go once the deletion commits: ``concatenate`` runs those callbacks.
    s3_bucket.on_commit = django_capture_on_commit_callbacks  # type: ignore[attr-defined]
    return s3_bucket


def checksum(data: bytes, algorithm: str) -> str:
    if algorithm == "crc32c":
        return f"{crc32c.crc32c(data):08x}"
    return hashlib.new(algorithm, data).hexdigest()


def concatenate(api: APIClient, bucket: Bucket, sizes: list[int]) -> tuple[ChunkedUpload, bytes]:
    pieces = [os.urandom(size) for size in sizes]
    urls = [new_partial(api, piece) for piece in pieces]
    keys = [bucket.storage().location + "/" + upload_of(url).file.name for url in urls]
    with bucket.on_commit(execute=True):  # type: ignore[attr-defined]
        response = final(api, urls)
    assert response.status_code == 201, response.content
    upload = upload_of(response["Location"])
    data = b"".join(pieces)
    assert bucket.read(upload.store_state["key"]) == data
    assert upload.checksum == checksum(data, upload.checksum_algorithm)
    assert head(api, response["Location"])["Upload-Offset"] == str(len(data))
    # The partials' objects are gone (their records stay, used up); no multipart upload is open.
    assert_used_up(api, upload, urls)
    assert not set(keys) & set(bucket.object_keys())
    assert bucket.multipart_uploads() == []
    return upload, data


def test_large_partials_are_copied_by_s3(bucket: Bucket, api: APIClient) -> None:
    upload, _ = concatenate(api, bucket, [6 * MiB, 5 * MiB, 1 * MiB])
    stored = upload.parts["stored"]
    assert [(start, end - start) for start, end, *_ in stored] == [
        (0, 6 * MiB),
        (6 * MiB, 5 * MiB),
        (11 * MiB, MiB),
    ]
    # One source each, copied whole (the last one may be small: it is the last part).
    for start, end, record, _ in stored:
        assert len(record["sources"]) == 1 and record["sources"][0][1:] == [0, end - start]
        assert [part[2] for part in record["parts"]] == [end - start]


def test_small_partials_go_through_the_server_with_their_neighbours(
    bucket: Bucket, api: APIClient
) -> None:
    upload, _ = concatenate(api, bucket, [6 * MiB, MiB, 7 * MiB, 2 * MiB])
    stored = upload.parts["stored"]
    # 6 copied; 1 is too small for a part and 7 - 4 = 3 would be too: both through the server;
    # the last 2 copied.
    assert [(start, end - start, len(r["sources"])) for start, end, r, _ in stored] == [
        (0, 6 * MiB, 1),
        (6 * MiB, 8 * MiB, 2),
        (14 * MiB, 2 * MiB, 1),
    ]
    assert [[source[1:] for source in r["sources"]] for *_, r, _ in stored][1] == [
        [0, MiB],
        [0, 7 * MiB],
    ]


# With crc32c the copied rest's CRC follows from the partial's and its head's (linearity).
@pytest.mark.parametrize("bucket", ["md5", "crc32c"], indirect=True)
def test_a_large_partial_after_small_ones_lends_them_its_head(
    bucket: Bucket, api: APIClient
) -> None:
    upload, _ = concatenate(api, bucket, [2 * MiB, 10 * MiB, 3 * MiB])
    stored = upload.parts["stored"]
    # 2 MiB + the first 3 MiB of the 10 through the server (one 5 MiB part), the other 7 copied
    # by S3 from offset 3 MiB, the last 3 copied.
    assert [(start, end - start) for start, end, *_ in stored] == [
        (0, 5 * MiB),
        (5 * MiB, 7 * MiB),
        (12 * MiB, 3 * MiB),
    ]
    sources = [[source[1:] for source in r["sources"]] for *_, r, _ in stored]
    assert sources == [[[0, 2 * MiB], [0, 3 * MiB]], [[3 * MiB, 7 * MiB]], [[0, 3 * MiB]]]


@pytest.mark.parametrize("bucket", ["sha256", "crc32c"], indirect=True)
def test_tus_js_client_layout_four_small_partials(bucket: Bucket, api: APIClient) -> None:
    size = 8 * MiB + 3  # tus-js-client's parallelUploads: 4 cuts it in four
    quarter = size // 4
    upload, _ = concatenate(api, bucket, [quarter, quarter, quarter, size - 3 * quarter])
    stored = upload.parts["stored"]
    assert [len(r["sources"]) for *_, r, _ in stored] == [3, 1]


def test_tiny_partials_make_one_part(bucket: Bucket, api: APIClient) -> None:
    upload, data = concatenate(api, bucket, [10, 0, 20])
    assert len(data) == 30
    assert [end - start for start, end, *_ in upload.parts["stored"]] == [30]


def test_empty_partials_make_an_empty_object(bucket: Bucket, api: APIClient) -> None:
    upload, data = concatenate(api, bucket, [0, 0])
    assert data == b""
    assert upload.parts["stored"] == []


def test_more_than_ten_thousand_parts_are_refused() -> None:
    from chunked_uploads.exceptions import PartLayoutRefused
    from chunked_uploads.stores.s3_adoption import _next

    numbers = iter(range(1, 3))
    assert [_next(numbers), _next(numbers)] == [1, 2]
    with pytest.raises(PartLayoutRefused, match="10,000 parts"):
        _next(numbers)
