"""Parallel mode on the S3 multipart store (moto's S3 server): chunks as parts, layouts refused."""

from __future__ import annotations

import os
import random
from typing import Any

import crc32c
import pytest
from rest_framework.test import APIClient

from chunked_uploads.models import ChunkedUpload

from .helpers import LIST_URL, put_chunk
from .s3server import Bucket, s3_bucket, s3_endpoint  # noqa: F401

MiB = 1024 * 1024
STORE = "chunked_uploads.stores.s3.S3MultipartStore"
PARALLEL = {"HTTP_UPLOAD_MODE": "parallel"}


@pytest.fixture
def bucket(s3_bucket: Bucket, settings: Any) -> Bucket:  # noqa: F811
    settings.DRF_CHUNKED_UPLOAD_STORAGE_CLASS = s3_bucket.storage()
    settings.DRF_CHUNKED_UPLOAD_STORE = STORE
    settings.DRF_CHUNKED_UPLOAD_CHECKSUM = "crc32c"
    return s3_bucket


def start(api: APIClient, data: bytes, first: int) -> Any:
    return put_chunk(api, LIST_URL, data[:first], 0, len(data), raw=True, **PARALLEL)


def test_chunks_become_parts_in_any_order(bucket: Bucket, api: APIClient) -> None:
    data = os.urandom(3 * 5 * MiB + 1234)
    response = start(api, data, 5 * MiB)
    assert response.status_code == 200, response.content
    url = response.json()["url"]
    offsets = [5 * MiB, 10 * MiB, 15 * MiB]
    random.shuffle(offsets)
    for offset in offsets:
        chunk = data[offset : offset + 5 * MiB]
        response = put_chunk(api, url, chunk, offset, len(data), raw=True)
        assert response.status_code == 200, response.content
    state = ChunkedUpload.objects.get().store_state
    listed = bucket.client.list_parts(
        Bucket=bucket.name, Key=state["key"], UploadId=state["upload_id"]
    )
    assert [part["PartNumber"] for part in listed["Parts"]] == [1, 2, 3, 4]
    response = api.post(url, {"crc32c": f"{crc32c.crc32c(data):08x}"}, format="json")
    assert response.status_code == 200, response.content
    assert bucket.read(ChunkedUpload.objects.get().store_state["key"]) == data
    assert bucket.multipart_uploads() == []


def test_a_chunk_that_is_not_a_whole_part_is_refused(bucket: Bucket, api: APIClient) -> None:
    data = os.urandom(2 * 5 * MiB + 10)
    url = start(api, data, 5 * MiB).json()["url"]
    for offset, length in ((5 * MiB + 1, 5 * MiB), (5 * MiB, MiB)):
        chunk = data[offset : offset + length]
        response = put_chunk(api, url, chunk, offset, len(data), raw=True)
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "part_layout_refused"
        assert "part 2 is bytes 5242880-10485759" in response.json()["detail"]
    assert api.get(url).json()["ranges"] == [[0, 5 * MiB - 1]]
    chunk = data[5 * MiB : 10 * MiB]
    assert put_chunk(api, url, chunk, 5 * MiB, len(data), raw=True).status_code == 200


def test_small_first_chunk_is_refused(bucket: Bucket, api: APIClient) -> None:
    data = os.urandom(2 * MiB)
    response = start(api, data, MiB)
    assert response.status_code == 400
    assert response.json()["code"] == "part_layout_refused"
    assert "at least 5242880 bytes" in response.json()["detail"]
    assert not ChunkedUpload.objects.exists()
    assert bucket.multipart_uploads() == []


def test_parallel_mode_on_s3_needs_the_combinable_checksum(
    bucket: Bucket, api: APIClient, settings: Any
) -> None:
    settings.DRF_CHUNKED_UPLOAD_CHECKSUM = "md5"
    response = start(api, os.urandom(6 * MiB), 5 * MiB)
    assert response.status_code == 400
    assert "crc32c" in response.json()["detail"]
    assert not ChunkedUpload.objects.exists()


def test_a_tus_patch_on_a_parallel_upload_is_one_whole_part(
    bucket: Bucket, api: APIClient, settings: Any
) -> None:
    """The tus edge asks for check-points within a ``PATCH``; a chunk of a parallel upload is
    acknowledged whole instead (an S3 part cannot be check-pointed), never a 500."""
    settings.DRF_CHUNKED_UPLOAD_CHECKPOINT_BYTES = MiB
    data = os.urandom(2 * 5 * MiB)
    url = start(api, data, 5 * MiB).json()["url"]
    upload = ChunkedUpload.objects.get()
    response = api.patch(
        f"/api/tus/{upload.pk}/",
        data[5 * MiB :],
        content_type="application/offset+octet-stream",
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_OFFSET=str(5 * MiB),
    )
    assert response.status_code == 204, response.content
    answer = api.get(url).json()
    assert answer["ranges"] == [[0, 2 * 5 * MiB - 1]]
    assert answer["status"] == "complete"  # tus completes an upload once all bytes are in
    upload.refresh_from_db()
    assert upload.checksum == f"{crc32c.crc32c(data):08x}"
    assert bucket.read(upload.store_state["key"]) == data


def test_a_part_is_spooled_not_held_in_memory(bucket: Bucket, settings: Any) -> None:
    """A chunk of a parallel upload is one S3 part, sent whole at its end: beyond ``spool_bytes``
    it waits in a temporary file, so a 32 MiB chunk costs the request far less than 32 MiB."""
    import tracemalloc

    from chunked_uploads.stores import get_store

    settings.DRF_CHUNKED_UPLOAD_STORE = {"BACKEND": STORE, "OPTIONS": {"spool_bytes": MiB}}
    store = get_store()
    name = store.create("spooled.bin")
    state = store.begin_parts(name, 32 * MiB, 64 * MiB)
    block = os.urandom(MiB)
    writer = store.open_part_writer(name, 0, 32 * MiB, state)
    tracemalloc.start()
    try:
        for _ in range(32):
            writer.write(block)
        record = writer.finish()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        writer.close()
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB for a 32 MiB part"
    listed = bucket.client.list_parts(
        Bucket=bucket.name, Key=state["key"], UploadId=state["upload_id"]
    )
    assert [(p["PartNumber"], p["Size"]) for p in listed["Parts"]] == [(1, 32 * MiB)]
    assert record["etag"] == listed["Parts"][0]["ETag"]
