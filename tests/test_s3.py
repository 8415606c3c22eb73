"""Tests of ``stores/s3.py`` against moto's S3 server over HTTP: parts, buffer objects, clean-up.

The store-independent behaviour (multi-chunk uploads, resume, crash, abort, expiry) is in
``test_stores.py``; these tests look inside the bucket to check how the bytes are laid out.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from chunked_uploads import checks
from chunked_uploads.models import ChunkedUpload
from chunked_uploads.stores import get_store
from chunked_uploads.stores.s3 import MIN_PART_SIZE, S3MultipartStore

from .helpers import LIST_URL, complete, md5, put_chunk
from .s3server import CREDENTIALS, REGION, Bucket, s3_bucket, s3_endpoint  # noqa: F401

MiB = 1024 * 1024
STORE = "chunked_uploads.stores.s3.S3MultipartStore"


@pytest.fixture
def bucket(s3_bucket: Bucket, settings: Any) -> Bucket:  # noqa: F811
    settings.DRF_CHUNKED_UPLOAD_STORAGE_CLASS = s3_bucket.storage()
    settings.DRF_CHUNKED_UPLOAD_STORE = STORE
    return s3_bucket


def append_raw(api: APIClient, url: str, data: bytes, start: int, total: int) -> dict[str, Any]:
    """A raw chunk that must be acknowledged; the response body."""
    response = put_chunk(api, url, data, start, total, raw=True)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def buffers(bucket: Bucket) -> list[str]:
    return [key for key in bucket.object_keys() if "/chunked-uploads-buffers/" in key]


def test_small_chunks_wait_in_a_buffer_object_until_a_part_is_full(
    bucket: Bucket, api: APIClient
) -> None:
    data = os.urandom(6 * MiB + 3)
    body = append_raw(api, LIST_URL, data[:MiB], 0, len(data))
    upload = ChunkedUpload.objects.get()
    state = upload.store_state
    assert state["upload_id"] is None  # no multipart upload for less than one part
    assert state["buffer"][1] == MiB
    assert bucket.read(state["buffer"][0]) == data[:MiB]
    assert bucket.multipart_uploads() == []
    for start in range(MiB, 4 * MiB, MiB):
        append_raw(api, body["url"], data[start : start + MiB], start, len(data))
        upload.refresh_from_db()
        assert bucket.read(upload.store_state["buffer"][0]) == data[: start + MiB]
        # The buffer this chunk superseded goes with the next chunk, never before it is acknowledged.
        assert len(buffers(bucket)) == 2
    append_raw(api, body["url"], data[4 * MiB : 5 * MiB], 4 * MiB, len(data))
    upload.refresh_from_db()
    state = upload.store_state
    assert state["buffer"] is None
    assert [part[2] for part in state["parts"]] == [5 * MiB]
    parts = bucket.client.list_parts(
        Bucket=bucket.name, Key=state["key"], UploadId=state["upload_id"]
    )
    assert [part["Size"] for part in parts["Parts"]] == [5 * MiB]
    append_raw(api, body["url"], data[5 * MiB :], 5 * MiB, len(data))
    upload = complete(api, body["url"], data)
    assert bucket.read(state["key"]) == data
    assert bucket.object_keys() == [state["key"]]
    assert bucket.multipart_uploads() == []


def test_a_large_chunk_is_cut_into_parts_as_it_arrives(
    bucket: Bucket, api: APIClient, settings: Any
) -> None:
    settings.DRF_CHUNKED_UPLOAD_STORE = {"BACKEND": STORE, "OPTIONS": {"part_size": MIN_PART_SIZE}}
    data = os.urandom(12 * MiB)
    body = append_raw(api, LIST_URL, data, 0, len(data))
    state = ChunkedUpload.objects.get().store_state
    assert [part[2] for part in state["parts"]] == [5 * MiB, 5 * MiB]
    assert state["buffer"][1] == 2 * MiB
    complete(api, body["url"], data)
    assert bucket.read(state["key"]) == data
    assert bucket.object_keys() == [state["key"]]


def test_single_shot_small_file(bucket: Bucket, api: APIClient) -> None:
    data = b"a small file"
    response = api.post(LIST_URL, {"file": _file(data), "md5": md5(data)}, format="multipart")
    assert response.status_code == 200, response.content
    upload = ChunkedUpload.objects.get()
    with upload.file.open("rb") as handle:
        assert handle.read() == data
    assert bucket.object_keys() == [f"media/{upload.file.name}"]


def test_explicit_bucket_and_endpoint_options(
    bucket: Bucket, api: APIClient, settings: Any
) -> None:
    client_options = {"endpoint_url": bucket.endpoint, "region_name": REGION, **CREDENTIALS}
    options = {"bucket_name": bucket.name, "location": "media", "client_options": client_options}
    settings.DRF_CHUNKED_UPLOAD_STORE = {"BACKEND": STORE, "OPTIONS": options}
    store = get_store()
    assert isinstance(store, S3MultipartStore)
    assert store.client is not settings.DRF_CHUNKED_UPLOAD_STORAGE_CLASS.connection.meta.client
    data = os.urandom(6 * MiB)
    body = append_raw(api, LIST_URL, data[: 5 * MiB], 0, len(data))
    append_raw(api, body["url"], data[5 * MiB :], 5 * MiB, len(data))
    upload = complete(api, body["url"], data)
    assert bucket.read(f"media/{upload.file.name}") == data


def test_completion_moves_the_object_if_the_extension_changed(
    bucket: Bucket, api: APIClient, settings: Any
) -> None:
    data = os.urandom(6 * MiB)
    body = append_raw(api, LIST_URL, data, 0, len(data))
    settings.DRF_CHUNKED_UPLOAD_COMPLETE_EXT = ".bin"
    upload = complete(api, body["url"], data)
    assert upload.file.name.endswith(".bin")
    assert bucket.object_keys() == [f"media/{upload.file.name}"]
    assert bucket.read(f"media/{upload.file.name}") == data


def test_abort_also_aborts_multipart_uploads_nobody_recorded(
    bucket: Bucket, api: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    data = os.urandom(20 * MiB)
    body = append_raw(api, LIST_URL, data[:MiB], 0, len(data))
    upload = ChunkedUpload.objects.get()
    # A request that started the multipart upload, then died before recording it.
    writer = get_store().open_writer(upload.file.name, upload.offset, upload.store_state)
    writer.write(data[MiB : 10 * MiB])
    assert len(bucket.multipart_uploads()) == 1
    writer.close()
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(body["url"]).status_code == 204
    assert bucket.multipart_uploads() == []
    assert bucket.object_keys() == []


def test_a_lost_buffer_object_is_reported_not_papered_over(bucket: Bucket, api: APIClient) -> None:
    data = os.urandom(3 * MiB)
    body = append_raw(api, LIST_URL, data[:MiB], 0, len(data))
    state = ChunkedUpload.objects.get().store_state
    bucket.client.delete_object(Bucket=bucket.name, Key=state["buffer"][0])
    response = put_chunk(api, body["url"], data[MiB:], MiB, len(data), raw=True)
    assert response.status_code == 410, response.content
    assert response.json()["code"] == "stored_bytes_missing"


def test_part_size_below_the_s3_minimum_is_refused(bucket: Bucket, settings: Any) -> None:
    settings.DRF_CHUNKED_UPLOAD_STORE = {"BACKEND": STORE, "OPTIONS": {"part_size": MiB}}
    assert [message.id for message in checks.check_store()] == ["chunked_uploads.E009"]


def test_s3_store_needs_a_storage_or_a_bucket(settings: Any) -> None:
    settings.DRF_CHUNKED_UPLOAD_STORE = STORE  # on the default FileSystemStorage
    messages = checks.check_store()
    assert [message.id for message in messages] == ["chunked_uploads.E009"]
    assert "bucket_name" in messages[0].msg


def test_s3_store_needs_a_resumable_checksum(bucket: Bucket, settings: Any) -> None:
    settings.DRF_CHUNKED_UPLOAD_CHECKSUM = "sha3_256"
    assert [message.id for message in checks.check_store()] == ["chunked_uploads.E010"]
    settings.DRF_CHUNKED_UPLOAD_CHECKSUM = "sha256"
    assert checks.check_store() == []


def test_importing_the_stores_without_boto3() -> None:
    """Without the s3 extra, the app works and the S3 store says what to install."""
    script = (
        "import sys; sys.modules['boto3'] = None\n"
        "import chunked_uploads.stores\n"
        "from chunked_uploads.stores.s3 import S3MultipartStore\n"
        "from django.core.exceptions import ImproperlyConfigured\n"
        "try:\n"
        "    S3MultipartStore(None)\n"
        "except ImproperlyConfigured as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert "needs boto3: pip install boto3" in result.stdout


def _file(data: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("small.txt", data)


def test_the_documented_lifecycle_rules_are_accepted(bucket: Bucket) -> None:
    """The rules of docs/deployment.md, as an S3 API sees them."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "deployment.md").read_text()
    (block,) = re.findall(r"```json\n(.*?)```", text, re.DOTALL)
    rules = json.loads(block)
    bucket.client.put_bucket_lifecycle_configuration(
        Bucket=bucket.name, LifecycleConfiguration=rules
    )
    stored = bucket.client.get_bucket_lifecycle_configuration(Bucket=bucket.name)["Rules"]
    prefixes = {rule["ID"]: rule["Filter"]["Prefix"] for rule in stored}
    store = get_store()
    assert isinstance(store, S3MultipartStore)
    # The buffer rule's prefix is where the store puts buffers (location "media").
    assert store.buffer_prefix("media/x.done").startswith(prefixes["expire-chunked-upload-buffers"])
    assert prefixes["abort-abandoned-chunked-uploads"] == "media/chunked_uploads/"


def test_a_part_replaced_by_a_stalled_request_is_reported_not_a_500(
    bucket: Bucket, api: APIClient
) -> None:
    """A request that stalled past its lease lands its part 1 (other bytes) after another
    request's part 1 was acknowledged. S3 refuses to complete with the recorded ETag: the client
    gets a JSON ``410 stored_bytes_missing``, not a 500, and the upload is not marked complete."""
    data = os.urandom(6 * MiB)
    body = append_raw(api, LIST_URL, data[: 5 * MiB], 0, len(data))
    append_raw(api, body["url"], data[5 * MiB :], 5 * MiB, len(data))
    state = ChunkedUpload.objects.get().store_state
    assert [part[0] for part in state["parts"]] == [1]
    bucket.client.upload_part(
        Bucket=bucket.name,
        Key=state["key"],
        UploadId=state["upload_id"],
        PartNumber=1,
        Body=os.urandom(5 * MiB),
    )
    response = api.post(body["url"], {"md5": md5(data)}, format="json")
    assert response.status_code == 410, response.content
    assert response.json()["code"] == "stored_bytes_missing"
    upload = ChunkedUpload.objects.get()
    assert upload.completed_at is None
    assert upload.lease_token is None  # released: the client may abort it
    assert api.delete(body["url"]).status_code == 204
