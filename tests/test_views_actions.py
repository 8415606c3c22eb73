"""``ChunkedUploadViewSet`` through ``APIClient``: every PROTOCOL.md action.

Create, the two chunk encodings, append, retrieve, ``HEAD``, list, complete, the single shot and
``DELETE``, each with the protocol's body.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils.dateparse import parse_datetime  # fromisoformat takes no Z before 3.11
from rest_framework.test import APIClient

from chunked_uploads.models import ChunkedUpload

from .helpers import LIST_URL, md5, put_chunk, stored_bytes, upload_in_chunks
from .view_helpers import (
    BODY_KEYS,
    CHUNK,
    NOW,
    TOTAL,
    assert_error,
    assert_unchanged,
    detail,
    raw_put,
    single_shot,
    start,
    stored_files,
)

# -- create ------------------------------------------------------------------------------------


def test_create_returns_the_protocol_body(api: APIClient, user: Any, payload: bytes) -> None:
    with time_machine.travel(NOW, tick=False):
        response = put_chunk(api, LIST_URL, payload[:CHUNK], 0, TOTAL, filename="video.mp4")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == BODY_KEYS
    upload = ChunkedUpload.objects.get()
    assert body["id"] == str(upload.pk)
    assert body["url"] == f"http://testserver/api/uploads/{upload.pk}/"
    assert (body["offset"], body["size"], body["status"]) == (CHUNK, TOTAL, "uploading")
    assert body["filename"] == "video.mp4"
    assert body["completed_at"] is None
    assert parse_datetime(body["created_at"]) == NOW
    assert parse_datetime(body["expires"]) == NOW + timedelta(days=1)
    assert upload.user == user
    assert stored_bytes(upload) == payload[:CHUNK]


def test_body_does_not_expose_the_stored_file(api: APIClient, payload: bytes) -> None:
    body = put_chunk(api, LIST_URL, payload[:CHUNK], 0, TOTAL).json()
    upload = ChunkedUpload.objects.get()
    text = json.dumps(body)
    assert "file" not in body
    assert upload.file.name not in text
    assert django_settings.MEDIA_URL not in text


def test_bytes_live_under_path_named_after_the_id(
    api: APIClient, payload: bytes, media_root: Path
) -> None:
    with time_machine.travel(NOW):
        upload_id = start(api, payload, filename="holiday-video.mp4")
    upload = ChunkedUpload.objects.get()
    assert upload.file.name == f"chunked_uploads/2026/03/04/{upload_id}.part"
    assert upload.filename == "holiday-video.mp4"
    assert stored_files(media_root) == [media_root / upload.file.name]
    assert (media_root / upload.file.name).read_bytes() == payload[:CHUNK]


def test_filename_form_field_overrides_the_part_name(api: APIClient, payload: bytes) -> None:
    body = {"file": SimpleUploadedFile("blob", payload[:CHUNK]), "filename": "real-name.txt"}
    response = api.put(
        LIST_URL, body, format="multipart", HTTP_CONTENT_RANGE=f"bytes 0-{CHUNK - 1}/{TOTAL}"
    )
    assert response.status_code == 200, response.content
    assert response.json()["filename"] == "real-name.txt"


# -- chunk encodings ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [False, True], ids=["multipart", "octet-stream"])
def test_create_and_append_in_either_encoding(api: APIClient, payload: bytes, raw: bool) -> None:
    response = upload_in_chunks(api, payload, raw=raw, filename="either.bin")
    body = response.json()
    assert (body["offset"], body["filename"]) == (TOTAL, "either.bin")
    assert stored_bytes(ChunkedUpload.objects.get()) == payload


def test_encodings_mix_in_one_upload(api: APIClient, payload: bytes) -> None:
    upload_id = start(api, payload)
    url = detail(upload_id)
    assert (
        put_chunk(api, url, payload[CHUNK : 2 * CHUNK], CHUNK, TOTAL, raw=True).status_code == 200
    )
    assert put_chunk(api, url, payload[2 * CHUNK :], 2 * CHUNK, TOTAL).status_code == 200
    response = api.post(url, {"md5": md5(payload)}, format="json")
    assert response.status_code == 200, response.content
    assert stored_bytes(ChunkedUpload.objects.get()) == payload


def test_raw_chunk_without_disposition_is_named_after_the_id(
    api: APIClient, payload: bytes
) -> None:
    response = raw_put(api, LIST_URL, payload[:CHUNK], f"bytes 0-{CHUNK - 1}/{TOTAL}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["filename"] == body["id"]


# -- append, retrieve, HEAD, list --------------------------------------------------------------


def test_append_continues_at_the_offset(api: APIClient, payload: bytes) -> None:
    upload_id = start(api, payload)
    response = put_chunk(api, detail(upload_id), payload[CHUNK : 2 * CHUNK], CHUNK, TOTAL)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == BODY_KEYS
    assert (body["id"], body["offset"], body["status"]) == (upload_id, 2 * CHUNK, "uploading")
    assert_unchanged(upload_id, payload[: 2 * CHUNK])


def test_retrieve_tells_where_to_resume(api: APIClient, payload: bytes) -> None:
    upload_id = start(api, payload)
    put_chunk(api, detail(upload_id), payload[CHUNK : 2 * CHUNK], CHUNK, TOTAL)
    response = api.get(detail(upload_id))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == BODY_KEYS
    assert (body["offset"], body["size"], body["status"]) == (2 * CHUNK, TOTAL, "uploading")
    offset = body["offset"]
    assert put_chunk(api, detail(upload_id), payload[offset:], offset, TOTAL).status_code == 200
    assert api.post(detail(upload_id), {"md5": md5(payload)}).status_code == 200


def test_head_answers_headers_only(api: APIClient, payload: bytes) -> None:
    upload_id = start(api, payload)
    response = api.head(detail(upload_id))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == b""
    assert api.head(detail("00000000-0000-0000-0000-000000000000")).status_code == 404


def test_list_shows_only_the_callers_uploads(
    api: APIClient, other_api: APIClient, payload: bytes
) -> None:
    mine = {start(api, payload), start(api, payload)}
    theirs = start(other_api, payload)
    response = api.get(LIST_URL)
    assert response.status_code == 200
    assert {item["id"] for item in response.json()["results"]} == mine
    assert [item["id"] for item in other_api.get(LIST_URL).json()["results"]] == [theirs]


# -- complete ----------------------------------------------------------------------------------


def _post_checksum(client: APIClient, url: str, fields: dict[str, str], encoding: str) -> Any:
    if encoding == "urlencoded":
        return client.post(url, urlencode(fields), content_type="application/x-www-form-urlencoded")
    return client.post(url, fields, format=encoding)


@pytest.mark.parametrize("encoding", ["json", "multipart", "urlencoded"])
def test_complete_verifies_and_renames_the_file(
    api: APIClient, payload: bytes, media_root: Path, encoding: str
) -> None:
    url = upload_in_chunks(api, payload).json()["url"]
    part_name = ChunkedUpload.objects.get().file.name
    response = _post_checksum(api, url, {"md5": md5(payload)}, encoding)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == BODY_KEYS
    assert (body["status"], body["offset"], body["size"]) == ("complete", TOTAL, TOTAL)
    assert parse_datetime(body["completed_at"]) is not None
    upload = ChunkedUpload.objects.get()
    assert part_name.endswith(".part")
    assert upload.file.name == part_name.removesuffix(".part") + ".done"
    assert stored_files(media_root) == [media_root / upload.file.name]
    assert stored_bytes(upload) == payload
    assert upload.checksum == md5(payload)


@pytest.mark.parametrize("case", [str.upper, str.lower, str.swapcase])
def test_checksum_hex_is_case_insensitive(api: APIClient, payload: bytes, case: Any) -> None:
    url = upload_in_chunks(api, payload).json()["url"]
    mixed = "".join(c.upper() if i % 2 else c for i, c in enumerate(md5(payload)))
    response = api.post(url, {"md5": case(mixed)}, format="json")
    assert response.status_code == 200, response.content


# -- single shot -------------------------------------------------------------------------------


def test_single_shot_multipart(api: APIClient, payload: bytes, media_root: Path) -> None:
    response = single_shot(api, payload, md5=md5(payload).upper())
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["offset"], body["size"]) == ("complete", TOTAL, TOTAL)
    assert body["filename"] == "whole.bin"
    upload = ChunkedUpload.objects.get()
    assert upload.file.name.endswith(f"{upload.pk}.done")
    assert stored_files(media_root) == [media_root / upload.file.name]
    assert stored_bytes(upload) == payload


def test_single_shot_raw_body_with_query_checksum(api: APIClient, payload: bytes) -> None:
    response = api.post(
        f"{LIST_URL}?md5={md5(payload)}",
        payload,
        content_type="application/octet-stream",
        HTTP_CONTENT_DISPOSITION='attachment; filename="raw.bin"',
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["filename"], body["size"]) == ("complete", "raw.bin", TOTAL)
    assert stored_bytes(ChunkedUpload.objects.get()) == payload


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("raw", [False, True], ids=["multipart", "octet-stream"])
@pytest.mark.parametrize(
    ("checksum", "code"),
    [(md5(b"something else"), "checksum_mismatch"), (None, "checksum_required")],
)
def test_failed_single_shot_leaves_nothing_behind(
    api: APIClient, payload: bytes, media_root: Path, raw: bool, checksum: str | None, code: str
) -> None:
    if raw:
        query = f"?md5={checksum}" if checksum else ""
        response = api.post(LIST_URL + query, payload, content_type="application/octet-stream")
    else:
        fields = {"md5": checksum} if checksum else {}
        response = single_shot(api, payload, **fields)
    assert_error(response, 400, code)
    assert ChunkedUpload.objects.count() == 0
    assert stored_files(media_root) == []


def test_single_shot_checks_the_chunk_before_the_checksum(api: APIClient) -> None:
    response = api.post(LIST_URL, {"filename": "x.bin"}, format="multipart")
    assert_error(response, 400, "no_chunk", "No chunk file was submitted")


@pytest.mark.django_db(transaction=True)
@override_settings(DRF_CHUNKED_UPLOAD_MAX_BYTES=1000)
@pytest.mark.parametrize("raw", [False, True], ids=["multipart", "octet-stream"])
def test_single_shot_over_the_limit_leaves_nothing(
    api: APIClient, media_root: Path, raw: bool
) -> None:
    data = os.urandom(1001)
    if raw:
        response = api.post(LIST_URL, data, content_type="application/octet-stream")
    else:
        response = single_shot(api, data)  # no checksum either: check 4 comes first
    assert_error(
        response, 400, "size_limit_exceeded", "Size of file exceeds the limit (1000 bytes)"
    )
    assert ChunkedUpload.objects.count() == 0
    assert stored_files(media_root) == []


# -- DELETE ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("completed", [False, True])
def test_delete_removes_record_and_bytes(
    api: APIClient, payload: bytes, media_root: Path, completed: bool
) -> None:
    url = upload_in_chunks(api, payload).json()["url"]
    if completed:
        assert api.post(url, {"md5": md5(payload)}).status_code == 200
    assert len(stored_files(media_root)) == 1
    response = api.delete(url)
    assert response.status_code == 204
    assert response.content == b""
    assert ChunkedUpload.objects.count() == 0
    assert stored_files(media_root) == []
    assert api.get(url).status_code == 404
