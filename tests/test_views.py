"""``ChunkedUploadViewSet`` through ``APIClient``: every PROTOCOL.md row, error row, setting and hook.

Each error test also checks the error's place in the protocol's check order (a request wrong in two
ways reports the earlier check) and that the acknowledged bytes and offset did not move.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections, transaction
from django.test import override_settings
from django.urls import reverse
from django.utils.dateparse import parse_datetime  # fromisoformat takes no Z before 3.11
from rest_framework.test import APIClient

from chunked_uploads import signals
from chunked_uploads.models import ChunkedUpload
from chunked_uploads.resumable_digests import is_resumable
from tests import urls_hooks

from .conftest import LIST_URL, md5, put_chunk, stored_bytes, upload_in_chunks

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
}
hooks_urls = pytest.mark.urls("tests.urls_hooks")


# -- helpers -----------------------------------------------------------------------------------


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


class SideStorage(FileSystemStorage):
    """A storage other than the default one: ``MEDIA_ROOT/side``, read on every access."""

    @property
    def base_location(self) -> str:
        return os.path.join(django_settings.MEDIA_ROOT, "side")

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)


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
    assert {item["id"] for item in response.json()} == mine
    assert [item["id"] for item in other_api.get(LIST_URL).json()] == [theirs]


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


# -- errors, in the protocol's check order -----------------------------------------------------

NO_CHUNK = "No chunk file was submitted"
BAD_HEADERS = "Error in request headers"


def send_without_chunk(client: APIClient, url: str, kind: str, **headers: Any) -> Any:
    if kind == "no_file_part":
        return client.put(url, {"filename": "x.bin"}, format="multipart", **headers)
    if kind == "wrong_field":
        body = {"upload": SimpleUploadedFile("x.bin", b"0123456789")}
        return client.put(url, body, format="multipart", **headers)
    if kind == "empty_body":
        return client.put(url, b"", content_type="application/octet-stream", **headers)
    return client.put(url, {"file": "0123456789"}, format="json", **headers)


@pytest.mark.parametrize("kind", ["no_file_part", "wrong_field", "empty_body", "json"])
@pytest.mark.parametrize("content_range", [None, "bytes 0-9/10", "garbage"])
def test_check_1_no_chunk(
    api: APIClient, payload: bytes, kind: str, content_range: str | None
) -> None:
    headers = {"HTTP_CONTENT_RANGE": content_range} if content_range else {}
    response = send_without_chunk(api, LIST_URL, kind, **headers)
    assert_error(response, 400, "no_chunk", NO_CHUNK)
    assert ChunkedUpload.objects.count() == 0
    upload_id = start(api, payload)
    response = send_without_chunk(api, detail(upload_id), kind, **headers)
    assert_error(response, 400, "no_chunk", NO_CHUNK)
    assert_unchanged(upload_id, payload[:CHUNK])


BAD_RANGES = [None, "", "bytes 0-9", "bytes=0-9/10", "0-9/10", "bytes a-9/10", "bytes 0-9/*"]


@pytest.mark.parametrize("raw", [False, True], ids=["multipart", "octet-stream"])
@pytest.mark.parametrize("content_range", BAD_RANGES)
def test_check_2_content_range_missing_or_malformed(
    api: APIClient, payload: bytes, raw: bool, content_range: str | None
) -> None:
    def send(url: str) -> Any:
        headers = {} if content_range is None else {"HTTP_CONTENT_RANGE": content_range}
        if raw:
            return api.put(url, b"0123456789", content_type="application/octet-stream", **headers)
        body = {"file": SimpleUploadedFile("x.bin", b"0123456789")}
        return api.put(url, body, format="multipart", **headers)

    assert_error(send(LIST_URL), 400, "invalid_content_range", BAD_HEADERS)
    assert ChunkedUpload.objects.count() == 0
    upload_id = start(api, payload)
    assert_error(send(detail(upload_id)), 400, "invalid_content_range", BAD_HEADERS)
    assert_unchanged(upload_id, payload[:CHUNK])


@override_settings(DRF_CHUNKED_UPLOAD_MAX_BYTES=5)  # also over the limit: check 3 comes first
@pytest.mark.parametrize("raw", [False, True], ids=["multipart", "octet-stream"])
@pytest.mark.parametrize("content_range", ["bytes 0-10/10", "bytes 0-12/10", "bytes 5-4/10"])
def test_check_3_end_beyond_total_or_start_after_end(
    api: APIClient, raw: bool, content_range: str
) -> None:
    data = b"0123456789"
    if raw:
        response = api.put(
            LIST_URL,
            data,
            content_type="application/octet-stream",
            HTTP_CONTENT_RANGE=content_range,
        )
    else:
        response = api.put(
            LIST_URL,
            {"file": SimpleUploadedFile("x.bin", data)},
            format="multipart",
            HTTP_CONTENT_RANGE=content_range,
        )
    assert_error(
        response, 400, "range_exceeds_total", "End of chunk exceeds reported total (10 bytes)"
    )
    assert ChunkedUpload.objects.count() == 0


def test_check_3_on_append(api: APIClient, payload: bytes) -> None:
    upload_id = start(api, payload)
    response = put_chunk(api, detail(upload_id), payload[:10], CHUNK, CHUNK + 5)
    assert_error(
        response,
        400,
        "range_exceeds_total",
        f"End of chunk exceeds reported total ({CHUNK + 5} bytes)",
    )
    assert_unchanged(upload_id, payload[:CHUNK])


SIZE_LIMIT = "Size of file exceeds the limit (1000 bytes)"


@pytest.mark.parametrize("raw", [False, True], ids=["multipart", "octet-stream"])
def test_check_4_total_over_max_bytes(api: APIClient, settings: Any, raw: bool) -> None:
    settings.DRF_CHUNKED_UPLOAD_MAX_BYTES = 1000
    response = put_chunk(api, LIST_URL, b"x" * 10, 0, 1001, raw=raw)
    body = assert_error(response, 400, "size_limit_exceeded", SIZE_LIMIT)
    assert body["limit"] == 1000
    assert ChunkedUpload.objects.count() == 0
    # Check 4 before 5: the chunk's length is wrong too (7 bytes sent for 10 declared).
    response = raw_put(api, LIST_URL, b"x" * 7, "bytes 0-9/2000")
    assert_error(response, 400, "size_limit_exceeded", SIZE_LIMIT)
    # The limit itself is allowed.
    assert put_chunk(api, LIST_URL, b"x" * 1000, 0, 1000, raw=raw).status_code == 200


def test_check_4_on_append_comes_before_checks_6_to_10(
    api: APIClient, payload: bytes, settings: Any
) -> None:
    upload_id = start(api, payload)
    settings.DRF_CHUNKED_UPLOAD_MAX_BYTES = 1000
    # Wrong offset, and an unknown id: the size limit is still what is reported.
    response = put_chunk(api, detail(upload_id), b"x" * 10, 0, 2000)
    assert_error(response, 400, "size_limit_exceeded", SIZE_LIMIT)
    unknown = detail("00000000-0000-0000-0000-000000000000")
    assert_error(put_chunk(api, unknown, b"x" * 10, 0, 2000), 400, "size_limit_exceeded")
    assert_unchanged(upload_id, payload[:CHUNK])


def size_mismatch(size: int, reported: int) -> str:
    return f"File size doesn't match headers: file size is {size} but {reported} reported"


@pytest.mark.parametrize("sent", [50, 150, 0], ids=["shorter", "longer", "empty"])
def test_check_5_multipart_chunk_length_differs(api: APIClient, payload: bytes, sent: int) -> None:
    body = {"file": SimpleUploadedFile("x.bin", payload[:sent])}
    response = api.put(LIST_URL, body, format="multipart", HTTP_CONTENT_RANGE="bytes 0-99/1000")
    assert_error(response, 400, "chunk_size_mismatch", size_mismatch(sent, 100))
    assert ChunkedUpload.objects.count() == 0
    upload_id = start(api, payload)
    response = api.put(
        detail(upload_id),
        {"file": SimpleUploadedFile("x.bin", payload[CHUNK : CHUNK + sent])},
        format="multipart",
        HTTP_CONTENT_RANGE=f"bytes {CHUNK}-{CHUNK + 99}/{TOTAL}",
    )
    assert_error(response, 400, "chunk_size_mismatch", size_mismatch(sent, 100))
    assert_unchanged(upload_id, payload[:CHUNK])
    assert_heals(api, upload_id, payload, CHUNK)


@pytest.mark.parametrize("sent", [50, 150])
def test_check_5_raw_length_differs(api: APIClient, payload: bytes, sent: int) -> None:
    response = raw_put(api, LIST_URL, payload[:sent], "bytes 0-99/1000")
    assert_error(response, 400, "chunk_size_mismatch", size_mismatch(sent, 100))
    assert ChunkedUpload.objects.count() == 0
    upload_id = start(api, payload)
    content_range = f"bytes {CHUNK}-{CHUNK + 99}/{TOTAL}"
    response = raw_put(api, detail(upload_id), payload[CHUNK : CHUNK + sent], content_range)
    assert_error(response, 400, "chunk_size_mismatch", size_mismatch(sent, 100))
    assert_unchanged(upload_id, payload[:CHUNK])
    assert_heals(api, upload_id, payload, CHUNK)


def test_check_5_raw_content_length_header_differs(api: APIClient, payload: bytes) -> None:
    upload_id = start(api, payload)
    content_range = f"bytes {CHUNK}-{CHUNK + 99}/{TOTAL}"
    chunk = payload[CHUNK : CHUNK + 100]
    response = raw_put(api, detail(upload_id), chunk, content_range, CONTENT_LENGTH="60")
    assert_error(response, 400, "chunk_size_mismatch", size_mismatch(60, 100))
    assert_unchanged(upload_id, payload[:CHUNK])


def test_check_5_raw_comes_before_checks_6_and_9(
    api: APIClient, other_api: APIClient, payload: bytes
) -> None:
    # A raw body's length is known from its headers: it is refused before the upload is looked up.
    upload_id = start(other_api, payload)
    for url in (detail(upload_id), detail("00000000-0000-0000-0000-000000000000")):
        response = raw_put(api, url, payload[:50], "bytes 0-99/1000")
        assert_error(response, 400, "chunk_size_mismatch", size_mismatch(50, 100))
    assert_unchanged(upload_id, payload[:CHUNK])


MISSING_IDS = ["00000000-0000-0000-0000-000000000000", "not-a-uuid", "123", "%20", "0" * 300]


@pytest.mark.parametrize("upload_id", MISSING_IDS)
@pytest.mark.parametrize("method", ["get", "head", "put", "post", "delete"])
def test_check_6_unknown_or_malformed_id_is_a_json_404(
    api: APIClient, upload_id: str, method: str
) -> None:
    url = detail(upload_id)
    if method == "put":
        response = put_chunk(api, url, b"x" * 10, 0, 10)
    elif method == "post":
        response = api.post(url, {"md5": md5(b"")}, format="json")
    else:
        response = getattr(api, method)(url)
    assert response.status_code == 404, response.content
    if method != "head":
        body = assert_error(response, 404, "not_found")
        assert body["detail"]


def test_check_6_another_users_upload_is_not_found(
    api: APIClient, other_api: APIClient, payload: bytes
) -> None:
    upload_id = start(other_api, payload)
    url = detail(upload_id)
    response = put_chunk(api, url, payload[CHUNK : 2 * CHUNK], CHUNK, TOTAL)
    assert_error(response, 404, "not_found")
    # Check 6 before 9: the offset is wrong too, still a 404 (nothing about the upload leaks).
    assert_error(put_chunk(api, url, payload[:10], 0, TOTAL), 404, "not_found")
    assert_error(api.post(url, {"md5": md5(payload)}, format="json"), 404, "not_found")
    assert_error(api.delete(url), 404, "not_found")
    assert_unchanged(upload_id, payload[:CHUNK])


EXPIRED = "Upload has expired"


def test_check_7_expired_upload_is_gone(api: APIClient, payload: bytes) -> None:
    with time_machine.travel(NOW, tick=False):
        upload_id = start(api, payload)
    url = detail(upload_id)
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        chunk = payload[CHUNK : 2 * CHUNK]
        assert_error(put_chunk(api, url, chunk, CHUNK, TOTAL), 410, "upload_expired", EXPIRED)
        # Check 7 before 9 and 10.
        assert_error(put_chunk(api, url, chunk, 0, TOTAL), 410, "upload_expired", EXPIRED)
        assert_error(put_chunk(api, url, chunk, CHUNK, TOTAL + 1), 410, "upload_expired")
        assert_error(api.post(url, {"md5": md5(payload)}), 410, "upload_expired", EXPIRED)
    with time_machine.travel(NOW + timedelta(days=1, seconds=-1), tick=False):
        assert_unchanged(upload_id, payload[:CHUNK])
        assert put_chunk(api, url, chunk, CHUNK, TOTAL).status_code == 200


ALREADY_COMPLETE = 'Upload has already been marked as "complete"'


def test_check_8_completed_upload_refuses_chunks(api: APIClient, payload: bytes) -> None:
    url = upload_in_chunks(api, payload).json()["url"]
    assert api.post(url, {"md5": md5(payload)}).status_code == 200
    upload = ChunkedUpload.objects.get()
    name = upload.file.name
    for start_at in (TOTAL - 10, 0):  # check 8 before 9: a wrong offset is not what is reported
        response = put_chunk(api, url, payload[:10], start_at, TOTAL)
        assert_error(response, 400, "upload_complete", ALREADY_COMPLETE)
    assert_error(api.post(url, {"md5": md5(payload)}), 400, "upload_complete", ALREADY_COMPLETE)
    upload.refresh_from_db()
    assert (upload.offset, upload.status, upload.file.name) == (TOTAL, "complete", name)
    assert stored_bytes(upload) == payload


@pytest.mark.parametrize("start_at", [0, CHUNK - 1, CHUNK + 1, 2 * CHUNK])
@pytest.mark.parametrize("raw", [False, True], ids=["multipart", "octet-stream"])
def test_check_9_offset_mismatch(api: APIClient, payload: bytes, start_at: int, raw: bool) -> None:
    upload_id = start(api, payload)
    chunk = payload[start_at : start_at + 1000]
    response = put_chunk(api, detail(upload_id), chunk, start_at, TOTAL, raw=raw)
    body = assert_error(response, 400, "offset_mismatch", "Offsets do not match")
    assert body["expected_offset"] == CHUNK
    assert body["provided_offset"] == start_at
    assert type(body["expected_offset"]) is int
    assert type(body["provided_offset"]) is int
    assert_unchanged(upload_id, payload[:CHUNK])


def test_check_9_comes_before_check_10(api: APIClient, payload: bytes) -> None:
    upload_id = start(api, payload)
    response = put_chunk(api, detail(upload_id), payload[:10], 0, TOTAL + 1)
    body = assert_error(response, 400, "offset_mismatch", "Offsets do not match")
    assert (body["expected_offset"], body["provided_offset"]) == (CHUNK, 0)
    assert_unchanged(upload_id, payload[:CHUNK])


@pytest.mark.parametrize("raw", [False, True], ids=["multipart", "octet-stream"])
def test_check_9_first_chunk_must_start_at_zero(
    api: APIClient, media_root: Path, raw: bool
) -> None:
    response = put_chunk(api, LIST_URL, b"x" * 5, 5, 10, raw=raw)
    body = assert_error(response, 400, "offset_mismatch", "Offsets do not match")
    assert (body["expected_offset"], body["provided_offset"]) == (0, 5)
    assert ChunkedUpload.objects.count() == 0


def test_check_10_total_differs_from_the_first_chunks(api: APIClient, payload: bytes) -> None:
    upload_id = start(api, payload)
    response = put_chunk(api, detail(upload_id), payload[CHUNK : 2 * CHUNK], CHUNK, TOTAL + 100)
    body = assert_error(
        response,
        400,
        "total_mismatch",
        f"Total size does not match: the upload was started with a total of {TOTAL} bytes"
        f" but this chunk reports {TOTAL + 100} bytes",
    )
    assert (body["expected_total"], body["provided_total"]) == (TOTAL, TOTAL + 100)
    assert_unchanged(upload_id, payload[:CHUNK])


USER_REQUIRED = "Upload requires user authentication but user cannot be determined"


@hooks_urls
@pytest.mark.parametrize("raw", [False, True], ids=["multipart", "octet-stream"])
def test_check_11_anonymous_caller_but_model_needs_a_user(
    db: None, media_root: Path, raw: bool
) -> None:
    anonymous = APIClient()
    response = put_chunk(anonymous, "/hooks/anonymous/", b"x" * 10, 0, 100, raw=raw)
    assert_error(response, 400, "user_required", USER_REQUIRED)
    response = single_shot(anonymous, b"x" * 10, "/hooks/anonymous/", md5=md5(b"x" * 10))
    assert_error(response, 400, "user_required", USER_REQUIRED)
    response = single_shot(anonymous, b"x" * 10, "/hooks/anonymous/")  # 11 before the checksum
    assert_error(response, 400, "user_required", USER_REQUIRED)
    assert ChunkedUpload.objects.count() == 0
    assert stored_files(media_root) == []
    assert anonymous.get("/hooks/anonymous/").json() == []


@hooks_urls
def test_check_11_comes_after_checks_1_to_5(settings: Any, db: None) -> None:
    anonymous = APIClient()
    url = "/hooks/anonymous/"
    response = send_without_chunk(anonymous, url, "no_file_part", HTTP_CONTENT_RANGE="x")
    assert_error(response, 400, "no_chunk")
    assert_error(
        put_chunk(anonymous, url, b"x", 0, 10, HTTP_CONTENT_RANGE="x"), 400, "invalid_content_range"
    )
    assert_error(raw_put(anonymous, url, b"x", "bytes 0-10/10"), 400, "range_exceeds_total")
    assert_error(raw_put(anonymous, url, b"x", "bytes 0-9/10"), 400, "chunk_size_mismatch")
    assert_error(raw_put(anonymous, url, b"x", "bytes 1-1/10"), 400, "user_required")
    settings.DRF_CHUNKED_UPLOAD_MAX_BYTES = 5
    assert_error(raw_put(anonymous, url, b"x", "bytes 0-0/10"), 400, "size_limit_exceeded")


# -- completion errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fmt"),
    [({}, "json"), ({}, "multipart"), ({"sha256": "ab"}, "json"), ({"md5": ""}, "json")],
)
def test_completion_without_checksum(api: APIClient, payload: bytes, body: Any, fmt: str) -> None:
    url = upload_in_chunks(api, payload).json()["url"]
    response = api.post(url, body, format=fmt)
    assert_error(response, 400, "checksum_required", "Checksum of type 'md5' is required")
    upload = ChunkedUpload.objects.get()
    assert (upload.status, upload.offset) == ("uploading", TOTAL)


def test_completion_checks_the_checksum_field_first(
    api: APIClient, other_api: APIClient, payload: bytes
) -> None:
    unknown = detail("00000000-0000-0000-0000-000000000000")
    assert_error(api.post(unknown, {}), 400, "checksum_required")
    assert_error(api.post(unknown, {"md5": md5(payload)}), 404, "not_found")
    theirs = detail(start(other_api, payload))
    assert_error(api.post(theirs, {}), 400, "checksum_required")
    assert_error(api.post(theirs, {"md5": md5(payload)}), 404, "not_found")


def test_completion_of_an_incomplete_upload_names_both_sizes(
    api: APIClient, payload: bytes
) -> None:
    upload_id = start(api, payload)
    response = api.post(detail(upload_id), {"md5": md5(payload)}, format="json")
    body = assert_error(
        response,
        400,
        "upload_incomplete",
        f"Upload is incomplete: {CHUNK} of {TOTAL} bytes were received",
    )
    assert (body["offset"], body["size"]) == (CHUNK, TOTAL)
    assert_unchanged(upload_id, payload[:CHUNK])
    # Check 7 comes before the size check.
    with time_machine.travel(datetime.now(tz=UTC) + timedelta(days=2)):
        assert_error(api.post(detail(upload_id), {"md5": md5(payload)}), 410, "upload_expired")


def test_wrong_checksum_keeps_the_upload_resumable(api: APIClient, payload: bytes) -> None:
    url = upload_in_chunks(api, payload).json()["url"]
    upload_id = ChunkedUpload.objects.get().pk
    response = api.post(url, {"md5": md5(payload[::-1])}, format="json")
    assert_error(response, 400, "checksum_mismatch", "checksum does not match")
    assert_unchanged(str(upload_id), payload)
    assert api.get(url).json()["status"] == "uploading"
    response = api.post(url, {"md5": md5(payload)}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "complete"


def test_wrong_checksum_then_resend_of_the_last_chunk_is_refused(
    api: APIClient, payload: bytes
) -> None:
    # The bytes were acknowledged: after a checksum failure they are not silently replaced.
    url = upload_in_chunks(api, payload).json()["url"]
    assert api.post(url, {"md5": "0" * 32}).status_code == 400
    response = put_chunk(api, url, payload[2 * CHUNK :], 2 * CHUNK, TOTAL)
    assert_error(response, 400, "offset_mismatch")


# -- settings ----------------------------------------------------------------------------------


def test_expiration_delta_setting(api: APIClient, payload: bytes, settings: Any) -> None:
    settings.DRF_CHUNKED_UPLOAD_EXPIRATION_DELTA = timedelta(minutes=5)
    with time_machine.travel(NOW, tick=False):
        body = put_chunk(api, LIST_URL, payload[:CHUNK], 0, TOTAL).json()
    assert parse_datetime(body["expires"]) == NOW + timedelta(minutes=5)
    url = detail(body["id"])
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        assert_error(put_chunk(api, url, payload[CHUNK:], CHUNK, TOTAL), 410, "upload_expired")
    with time_machine.travel(NOW + timedelta(minutes=4), tick=False):
        assert put_chunk(api, url, payload[CHUNK:], CHUNK, TOTAL).status_code == 200


def test_path_setting_with_strftime(api: APIClient, payload: bytes, settings: Any) -> None:
    settings.DRF_CHUNKED_UPLOAD_PATH = "custom/%Y/%j/"
    with time_machine.travel(NOW):
        upload_id = start(api, payload)
    assert ChunkedUpload.objects.get().file.name == f"custom/2026/063/{upload_id}.part"


def upload_to(instance: Any, filename: str) -> str:
    return f"by-callable/{instance.pk}-{len(filename)}.part"


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("to/%Y/{{ instance.id }}.part", "to/2026/{id}"),
        ("to/{{ instance.id }}/data.part", "to/{id}/data"),
        (upload_to, "by-callable/{id}-9"),
    ],
)
def test_to_setting(
    api: APIClient, payload: bytes, settings: Any, setting: Any, expected: str
) -> None:
    settings.DRF_CHUNKED_UPLOAD_TO = setting
    with time_machine.travel(NOW):
        url = upload_in_chunks(api, payload, filename="video.mp4").json()["url"]
        upload = ChunkedUpload.objects.get()
        stem = expected.format(id=upload.pk)
        assert upload.file.name == stem + ".part"
        assert api.post(url, {"md5": md5(payload)}).status_code == 200
    upload.refresh_from_db()
    assert upload.file.name == stem + ".done"
    assert stored_bytes(upload) == payload


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512", "blake2b", "sha3_256"])
def test_checksum_setting_names_the_algorithm_and_the_field(
    api: APIClient, payload: bytes, settings: Any, algorithm: str
) -> None:
    settings.DRF_CHUNKED_UPLOAD_CHECKSUM = algorithm
    url = upload_in_chunks(api, payload).json()["url"]
    upload = ChunkedUpload.objects.get()
    assert upload.checksum_algorithm == algorithm
    # Non-resumable algorithms keep no state: completion streams the stored bytes instead.
    assert (upload.digest_state is not None) == is_resumable(algorithm)
    digest = hashlib.new(algorithm, payload).hexdigest()
    response = api.post(url, {"md5": md5(payload)}, format="json")
    assert_error(response, 400, "checksum_required", f"Checksum of type '{algorithm}' is required")
    wrong = hashlib.new(algorithm, payload[:-1]).hexdigest()
    assert_error(api.post(url, {algorithm: wrong}), 400, "checksum_mismatch")
    response = api.post(url, {algorithm: digest.upper()}, format="json")
    assert response.status_code == 200, response.content
    upload.refresh_from_db()
    assert (upload.status, upload.checksum) == ("complete", digest)


def test_checksum_setting_changed_mid_upload_reads_the_bytes_back(
    api: APIClient, payload: bytes, settings: Any
) -> None:
    url = upload_in_chunks(api, payload).json()["url"]
    settings.DRF_CHUNKED_UPLOAD_CHECKSUM = "sha256"
    assert_error(api.post(url, {"md5": md5(payload)}), 400, "checksum_required")
    response = api.post(url, {"sha256": hashlib.sha256(payload).hexdigest()})
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("incomplete", "complete"), [(".part", ".bin"), (".tmp", ".done"), (".data", ".data")]
)
def test_extension_settings(
    api: APIClient, payload: bytes, settings: Any, incomplete: str, complete: str
) -> None:
    settings.DRF_CHUNKED_UPLOAD_INCOMPLETE_EXT = incomplete
    settings.DRF_CHUNKED_UPLOAD_COMPLETE_EXT = complete
    url = upload_in_chunks(api, payload).json()["url"]
    upload = ChunkedUpload.objects.get()
    assert upload.file.name.endswith(f"/{upload.pk}{incomplete}")
    part_name = upload.file.name
    assert api.post(url, {"md5": md5(payload)}).status_code == 200
    upload.refresh_from_db()
    assert upload.file.name == part_name.removesuffix(incomplete) + complete
    assert stored_bytes(upload) == payload
    assert upload.file.storage.exists(part_name) == (incomplete == complete)


@pytest.mark.parametrize(
    "storage_class", [SideStorage, "tests.test_views.SideStorage", "side"], ids=str
)
def test_storage_class_setting(
    api: APIClient, payload: bytes, media_root: Path, storage_class: Any
) -> None:
    storages = {
        **django_settings.STORAGES,
        "side": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(media_root / "side")},
        },
    }
    with override_settings(DRF_CHUNKED_UPLOAD_STORAGE_CLASS=storage_class, STORAGES=storages):
        url = upload_in_chunks(api, payload).json()["url"]
        assert api.post(url, {"md5": md5(payload)}).status_code == 200
        upload = ChunkedUpload.objects.get()
        assert stored_files(media_root) == [media_root / "side" / upload.file.name]
        assert stored_bytes(upload) == payload


def test_storage_class_none_is_the_default_storage(
    api: APIClient, payload: bytes, media_root: Path, settings: Any
) -> None:
    settings.DRF_CHUNKED_UPLOAD_STORAGE_CLASS = None
    url = upload_in_chunks(api, payload).json()["url"]
    assert api.post(url, {"md5": md5(payload)}).status_code == 200
    upload = ChunkedUpload.objects.get()
    assert stored_files(media_root) == [media_root / upload.file.name]


@pytest.mark.parametrize(
    ("overrides", "visible"),
    [
        ({}, False),
        ({"DRF_CHUNKED_UPLOAD_USER_RESTRICTED": False}, True),
        ({"DRF_CHUNKED_UPLOAD_USER_RESTRICED": False}, True),
        (
            {
                "DRF_CHUNKED_UPLOAD_USER_RESTRICTED": True,
                "DRF_CHUNKED_UPLOAD_USER_RESTRICED": False,
            },
            False,
        ),
    ],
)
def test_user_restricted_setting(
    api: APIClient, other_api: APIClient, payload: bytes, overrides: dict[str, bool], visible: bool
) -> None:
    upload_id = start(api, payload)
    with override_settings(**overrides):
        assert (other_api.get(detail(upload_id)).status_code == 200) is visible
        assert ([item["id"] for item in other_api.get(LIST_URL).json()] == [upload_id]) is visible
        response = put_chunk(other_api, detail(upload_id), payload[CHUNK:], CHUNK, TOTAL)
        assert (response.status_code == 200) is visible


@hooks_urls
@pytest.mark.parametrize("prefix", ["/api/named/", "/v2/uploads/"])
def test_url_names_the_route_that_answered(api: APIClient, payload: bytes, prefix: str) -> None:
    """A ViewSet registered under another basename, or in a URL namespace, answers with its own
    detail URL (drf-chunked-upload always reversed ``NAMED_URL``: another route, or a 500 after
    the chunk was stored when no route had that name), and the URL takes the next chunk."""
    body = put_chunk(api, prefix, payload[:CHUNK], 0, TOTAL).json()
    assert body["url"] == f"http://testserver{prefix}{body['id']}/"
    response = put_chunk(api, body["url"], payload[CHUNK:], CHUNK, TOTAL)
    assert response.status_code == 200, response.content
    assert response.json()["url"] == body["url"]


@hooks_urls
def test_named_url_setting_wins_over_the_route(
    api: APIClient, payload: bytes, settings: Any
) -> None:
    settings.DRF_CHUNKED_UPLOAD_NAMED_URL = "chunkedupload-detail"
    body = put_chunk(api, "/api/named/", payload[:CHUNK], 0, TOTAL).json()
    assert body["url"] == f"http://testserver/api/uploads/{body['id']}/"
    settings.DRF_CHUNKED_UPLOAD_NAMED_URL = "v2:chunkedupload-detail"
    body = put_chunk(api, "/api/named/", payload[:CHUNK], 0, TOTAL).json()
    assert body["url"] == f"http://testserver/v2/uploads/{body['id']}/"
    assert reverse("named-list") == "/api/named/"


def test_max_chunk_bytes_setting(api: APIClient, payload: bytes, settings: Any) -> None:
    settings.DRF_CHUNKED_UPLOAD_MAX_CHUNK_BYTES = 1000
    for raw in (False, True):
        response = put_chunk(api, LIST_URL, payload[:1001], 0, TOTAL, raw=raw)
        body = assert_error(
            response,
            400,
            "chunk_too_large",
            "Chunk of 1001 bytes exceeds the per-chunk limit (1000 bytes)",
        )
        assert body["limit"] == 1000
    assert ChunkedUpload.objects.count() == 0
    response = put_chunk(api, LIST_URL, payload[:1000], 0, TOTAL)
    assert response.status_code == 200
    upload_id = response.json()["id"]
    response = put_chunk(api, detail(upload_id), payload[1000:2001], 1000, TOTAL)
    assert_error(response, 400, "chunk_too_large")
    assert_unchanged(upload_id, payload[:1000])


def test_max_chunk_bytes_does_not_bound_a_single_shot(
    api: APIClient, payload: bytes, settings: Any
) -> None:
    """MAX_CHUNK_BYTES bounds PUTs; a whole file, raw or multipart, is bounded by MAX_BYTES only."""
    settings.DRF_CHUNKED_UPLOAD_MAX_CHUNK_BYTES = 1000
    data = payload[:5000]
    assert single_shot(api, data, md5=md5(data)).status_code == 200
    response = api.post(
        f"{LIST_URL}?md5={md5(data)}", data, content_type="application/octet-stream"
    )
    assert response.status_code == 200, response.content
    assert ChunkedUpload.objects.filter(status="complete").count() == 2


# -- hooks -------------------------------------------------------------------------------------


@hooks_urls
def test_field_name_works_for_every_action(api: APIClient, payload: bytes) -> None:
    prefix = "/hooks/field/"
    upload_id = start(api, payload, prefix, field="the_file")
    url = detail(upload_id, prefix)
    for begin in (CHUNK, 2 * CHUNK):
        chunk = payload[begin : begin + CHUNK]
        assert put_chunk(api, url, chunk, begin, TOTAL, field="the_file").status_code == 200
    assert api.post(url, {"md5": md5(payload)}).status_code == 200
    assert stored_bytes(ChunkedUpload.objects.get(pk=upload_id)) == payload
    body = {"the_file": SimpleUploadedFile("one.bin", payload), "md5": md5(payload)}
    response = api.post(prefix, body, format="multipart")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "complete"


@hooks_urls
def test_field_name_refuses_the_default_field(api: APIClient, payload: bytes) -> None:
    prefix = "/hooks/field/"
    assert_error(put_chunk(api, prefix, payload[:CHUNK], 0, TOTAL), 400, "no_chunk", NO_CHUNK)
    assert_error(single_shot(api, payload, prefix, md5=md5(payload)), 400, "no_chunk")
    upload_id = start(api, payload, prefix, field="the_file")
    url = detail(upload_id, prefix)
    assert_error(put_chunk(api, url, payload[CHUNK:], CHUNK, TOTAL), 400, "no_chunk")
    assert_unchanged(upload_id, payload[:CHUNK])


@hooks_urls
def test_user_field_name_that_the_model_lacks_disables_owner_filtering(
    api: APIClient, other_api: APIClient, payload: bytes
) -> None:
    upload_id = start(api, payload)
    assert other_api.get(detail(upload_id)).status_code == 404
    assert other_api.get(detail(upload_id, "/hooks/ownerless/")).status_code == 200
    listed = other_api.get("/hooks/ownerless/").json()
    assert [item["id"] for item in listed] == [upload_id]


@hooks_urls
def test_view_max_bytes_wins_over_the_setting(api: APIClient, settings: Any) -> None:
    settings.DRF_CHUNKED_UPLOAD_MAX_BYTES = 10
    prefix = "/hooks/view-max/"
    response = put_chunk(api, prefix, b"x" * 10, 0, 1001)
    body = assert_error(response, 400, "size_limit_exceeded", SIZE_LIMIT)
    assert body["limit"] == 1000
    assert put_chunk(api, prefix, b"x" * 10, 0, 1000).status_code == 200
    assert_error(put_chunk(api, LIST_URL, b"x" * 10, 0, 11), 400, "size_limit_exceeded")


@hooks_urls
def test_get_max_bytes_sees_the_request(api: APIClient, settings: Any) -> None:
    settings.DRF_CHUNKED_UPLOAD_MAX_BYTES = 10  # the override ignores the setting entirely
    prefix = "/hooks/request-max/"
    response = put_chunk(api, prefix, b"x" * 10, 0, 2000, HTTP_X_MAX_BYTES="1000")
    assert_error(response, 400, "size_limit_exceeded", SIZE_LIMIT)
    assert put_chunk(api, prefix, b"x" * 10, 0, 2000, HTTP_X_MAX_BYTES="5000").status_code == 200
    assert put_chunk(api, prefix, b"x" * 10, 0, 2000).status_code == 200
    response = api.post(
        prefix, b"x" * 1001, content_type="application/octet-stream", HTTP_X_MAX_BYTES="1000"
    )
    assert_error(response, 400, "size_limit_exceeded", SIZE_LIMIT)
    # A multipart single shot's length is known only as it streams: the limit applies there too.
    for limit in ("1000", "1001"):
        body = {"file": SimpleUploadedFile("big.bin", b"x" * 1001), "md5": md5(b"x" * 1001)}
        response = api.post(prefix, body, format="multipart", HTTP_X_MAX_BYTES=limit)
        if limit == "1000":
            assert_error(response, 400, "size_limit_exceeded", SIZE_LIMIT)
    assert response.status_code == 200, response.content


@hooks_urls
def test_do_checksum_check_false_completes_without_checksum(api: APIClient, payload: bytes) -> None:
    prefix = "/hooks/no-checksum/"
    upload_id = start(api, payload, prefix)
    url = detail(upload_id, prefix)
    assert_error(api.post(url, {}), 400, "upload_incomplete")
    for begin in (CHUNK, 2 * CHUNK):
        put_chunk(api, url, payload[begin : begin + CHUNK], begin, TOTAL)
    response = api.post(url, {"md5": "0" * 32}, format="json")  # not checked
    assert response.status_code == 200, response.content
    assert ChunkedUpload.objects.get(pk=upload_id).checksum == md5(payload)
    response = api.post(prefix, {"file": SimpleUploadedFile("a.bin", payload)}, format="multipart")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "complete"


@hooks_urls
def test_get_response_data_shapes_the_completion_body(api: APIClient, payload: bytes) -> None:
    prefix = "/hooks/response-data/"
    upload_id = start(api, payload, prefix, filename="shaped.bin")
    url = detail(upload_id, prefix)
    response = put_chunk(api, url, payload[CHUNK:], CHUNK, TOTAL)
    assert set(response.json()) == BODY_KEYS  # chunks keep the protocol body
    response = api.post(url, {"md5": md5(payload)})
    assert response.status_code == 200
    assert response.json() == {"name": "shaped.bin", "received": TOTAL, "method": "POST"}
    response = single_shot(api, payload, prefix, md5=md5(payload))
    assert response.json() == {"name": "whole.bin", "received": TOTAL, "method": "POST"}


@hooks_urls
def test_on_completion_response_replaces_the_body(api: APIClient, payload: bytes) -> None:
    urls_hooks.completed_uploads.clear()
    prefix = "/hooks/on-completion/"
    upload_id = start(api, payload[:CHUNK], prefix, filename="replace-me.bin")
    response = api.post(detail(upload_id, prefix), {"md5": md5(payload[:CHUNK])})
    assert response.status_code == 201
    assert response.json() == {"replaced": upload_id, "status": "complete"}
    upload_id = start(api, payload[:CHUNK], prefix, filename="keep.bin")
    response = api.post(detail(upload_id, prefix), {"md5": md5(payload[:CHUNK])})
    assert response.status_code == 200
    assert set(response.json()) == BODY_KEYS
    assert response.json()["status"] == "complete"
    seen = [(str(upload.pk), upload.status) for upload in urls_hooks.completed_uploads]
    assert seen[-1] == (upload_id, "complete")
    assert len(seen) == 2


@hooks_urls
def test_object_permissions_apply_to_writes(api: APIClient, payload: bytes) -> None:
    prefix = "/hooks/object-permission/"
    locked = start(api, payload, prefix, filename="locked.bin")
    url = detail(locked, prefix)
    assert api.get(url).status_code == 200
    assert api.head(url).status_code == 200
    for chunk_raw in (False, True):
        response = put_chunk(api, url, payload[CHUNK:], CHUNK, TOTAL, raw=chunk_raw)
        assert_error(response, 403, "permission_denied")
    assert_error(api.post(url, {"md5": md5(payload)}), 403, "permission_denied")
    assert_error(api.delete(url), 403, "permission_denied")
    assert_unchanged(locked, payload[:CHUNK])
    unlocked = detail(start(api, payload, prefix, filename="open.bin"), prefix)
    assert put_chunk(api, unlocked, payload[CHUNK:], CHUNK, TOTAL).status_code == 200
    assert api.delete(unlocked).status_code == 204


@hooks_urls
def test_throttle_classes_apply(api: APIClient, payload: bytes) -> None:
    cache.clear()  # throttle history lives in the cache
    prefix = "/hooks/throttled/"
    assert api.get(prefix).status_code == 200
    response = put_chunk(api, prefix, payload[:CHUNK], 0, TOTAL)
    body = assert_error(response, 429, "throttled")
    assert body["detail"].startswith("Request was throttled.")
    assert ChunkedUpload.objects.count() == 0
    cache.clear()


@hooks_urls
def test_pagination_class_applies_to_list(api: APIClient, payload: bytes) -> None:
    ids = {start(api, payload[:CHUNK]) for _ in range(3)}
    first = api.get("/hooks/paginated/").json()
    assert first["count"] == 3
    assert len(first["results"]) == 2
    second = api.get(first["next"]).json()
    assert second["next"] is None
    assert {item["id"] for item in first["results"] + second["results"]} == ids
    assert isinstance(api.get(LIST_URL).json(), list)  # the default view does not paginate


@hooks_urls
def test_filter_backends_apply_to_list(api: APIClient, payload: bytes) -> None:
    for name in ("report.pdf", "b-video.mp4", "a-video.mp4"):
        start(api, payload[:CHUNK], filename=name)
    found = api.get("/hooks/filtered/", {"search": "video"}).json()
    assert sorted(item["filename"] for item in found) == ["a-video.mp4", "b-video.mp4"]
    ordered = api.get("/hooks/filtered/", {"ordering": "filename"}).json()
    assert [item["filename"] for item in ordered] == ["a-video.mp4", "b-video.mp4", "report.pdf"]
    assert len(api.get(LIST_URL, {"search": "video"}).json()) == 3


def test_an_append_costs_four_statements(
    api: APIClient, payload: bytes, django_assert_num_queries: Any
) -> None:
    """Token lookup, the view's get_object(), the lease's UPDATE, the acknowledging UPDATE."""
    upload_id = start(api, payload)
    with django_assert_num_queries(4):
        response = put_chunk(api, detail(upload_id), payload[CHUNK : 2 * CHUNK], CHUNK, TOTAL)
    assert response.status_code == 200, response.content
    assert response.json()["offset"] == 2 * CHUNK


@pytest.mark.django_db(transaction=True)
def test_a_row_locked_past_the_lock_timeout_is_busy_not_a_500(
    api: APIClient, payload: bytes
) -> None:
    """Another connection holds the upload's row lock (a long transaction elsewhere) past the
    database's lock wait timeout: the chunk gets ``409 upload_busy`` in JSON, not a 500, and
    nothing is acknowledged; once the lock is gone the same chunk goes through."""
    if connection.vendor not in ("postgresql", "mysql"):
        pytest.skip("a row lock held by another connection: PostgreSQL and MariaDB only")
    response = put_chunk(api, LIST_URL, payload[:1000], 0, 3000)
    assert response.status_code == 200, response.content
    url, pk = response.json()["url"], response.json()["id"]
    short, default = {
        "postgresql": ("SET lock_timeout = '300ms'", "SET lock_timeout = 0"),
        "mysql": (
            "SET SESSION innodb_lock_wait_timeout = 1",
            "SET SESSION innodb_lock_wait_timeout = DEFAULT",
        ),
    }[connection.vendor]
    with transaction.atomic():  # the compiler refuses FOR UPDATE outside a transaction
        query = ChunkedUpload.objects.select_for_update().filter(pk=pk).values_list("pk").query
        sql, params = query.sql_with_params()
    other = connections.create_connection("default")
    try:
        other.set_autocommit(False)
        other.cursor().execute(sql, params)  # holds the row until rolled back
        connection.cursor().execute(short)
        refused = put_chunk(api, url, payload[1000:2000], 1000, 3000)
        assert refused.status_code == 409, refused.content
        assert refused.json()["code"] == "upload_busy"
    finally:
        other.rollback()
        other.close()
        connection.cursor().execute(default)
    assert ChunkedUpload.objects.get(pk=pk).offset == 1000
    again = put_chunk(api, url, payload[1000:2000], 1000, 3000)
    assert again.status_code == 200, again.content
    assert ChunkedUpload.objects.get(pk=pk).offset == 2000


@hooks_urls
def test_first_response_names_the_checksum_completion_expects(
    api: APIClient, payload: bytes, settings: Any
) -> None:
    """A client learns the algorithm before it has sent the file, not at completion."""
    settings.DRF_CHUNKED_UPLOAD_CHECKSUM = "sha256"
    response = put_chunk(api, LIST_URL, payload[:CHUNK], 0, TOTAL)
    assert response.json()["checksum_algorithm"] == "sha256"
    response = put_chunk(api, "/hooks/no-checksum/", payload[:CHUNK], 0, TOTAL)
    assert response.json()["checksum_algorithm"] is None
    upload_id = start(api, payload[:CHUNK])
    refused = api.post(detail(upload_id), {})
    assert assert_error(refused, 400, "checksum_required")["checksum_algorithm"] == "sha256"


def test_a_failed_hook_under_atomic_requests_can_be_completed_again(
    api: APIClient, payload: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ATOMIC_REQUESTS would wrap the completion in one transaction with the request: a failing
    hook rolled back the record of the renamed file, and every retry answered 500."""
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    url = upload_in_chunks(api, payload).json()["url"]
    calls: list[str] = []

    def fail_once(sender: Any, upload: ChunkedUpload, **kwargs: Any) -> None:
        calls.append(upload.status)
        if len(calls) == 1:
            raise RuntimeError("the hook failed")

    signals.upload_completed.connect(fail_once, dispatch_uid="fail-once")
    api.raise_request_exception = False
    try:
        assert api.post(url, {"md5": md5(payload)}, format="json").status_code == 500
        response = api.post(url, {"md5": md5(payload)}, format="json")
    finally:
        signals.upload_completed.disconnect(dispatch_uid="fail-once")
    assert response.status_code == 200, response.content
    assert len(calls) == 2
    assert stored_bytes(ChunkedUpload.objects.get()) == payload
