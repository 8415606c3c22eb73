"""``ChunkedUploadViewSet`` through ``APIClient``: every PROTOCOL.md error row, in the check order.

Each error test also checks the error's place in the protocol's check order (a request wrong in two
ways reports the earlier check) and that the acknowledged bytes and offset did not move.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from rest_framework.test import APIClient

from chunked_uploads.models import ChunkedUpload

from .helpers import LIST_URL, md5, put_chunk, stored_bytes, upload_in_chunks
from .view_helpers import (
    CHUNK,
    NO_CHUNK,
    NOW,
    SIZE_LIMIT,
    TOTAL,
    UTC,
    assert_error,
    assert_heals,
    assert_unchanged,
    detail,
    hooks_urls,
    raw_put,
    single_shot,
    start,
    stored_files,
)

# -- errors, in the protocol's check order -----------------------------------------------------

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
    assert anonymous.get("/hooks/anonymous/").json()["results"] == []


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
