"""The protocol's errors: each class's status, ``code``, exact ``detail`` and extra keys.

Clients match on these strings (PROTOCOL.md), so they are pinned here verbatim; the bodies are also
checked after DRF's exception handler and JSON rendering, where the extras must stay integers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.exceptions import APIException
from rest_framework.renderers import JSONRenderer
from rest_framework.views import exception_handler

from chunked_uploads import exceptions
from chunked_uploads.uploads import StoredBytesLost

CASES: list[tuple[APIException, int, str, str, dict[str, Any]]] = [
    (exceptions.ChunkedUploadError(), 400, "invalid", "Invalid chunked upload request", {}),
    (exceptions.NoChunkSubmitted(), 400, "no_chunk", "No chunk file was submitted", {}),
    (
        exceptions.InvalidContentRange(),
        400,
        "invalid_content_range",
        "Error in request headers",
        {},
    ),
    (
        exceptions.RangeExceedsTotal(10),
        400,
        "range_exceeds_total",
        "End of chunk exceeds reported total (10 bytes)",
        {},
    ),
    (
        exceptions.SizeLimitExceeded(1000),
        400,
        "size_limit_exceeded",
        "Size of file exceeds the limit (1000 bytes)",
        {"limit": 1000},
    ),
    (
        exceptions.ChunkTooLarge(2000, 1000),
        400,
        "chunk_too_large",
        "Chunk of 2000 bytes exceeds the per-chunk limit (1000 bytes)",
        {"limit": 1000},
    ),
    (
        exceptions.ChunkSizeMismatch(5, 10),
        400,
        "chunk_size_mismatch",
        "File size doesn't match headers: file size is 5 but 10 reported",
        {},
    ),
    (exceptions.UploadExpired(), 410, "upload_expired", "Upload has expired", {}),
    (
        exceptions.UploadAlreadyComplete(),
        400,
        "upload_complete",
        'Upload has already been marked as "complete"',
        {},
    ),
    (
        exceptions.OffsetMismatch(100, 0),
        400,
        "offset_mismatch",
        "Offsets do not match",
        {"expected_offset": 100, "provided_offset": 0},
    ),
    (
        exceptions.TotalMismatch(300, 400),
        400,
        "total_mismatch",
        "Total size does not match: the upload was started with a total of 300 bytes"
        " but this chunk reports 400 bytes",
        {"expected_total": 300, "provided_total": 400},
    ),
    (
        exceptions.UserRequired(),
        400,
        "user_required",
        "Upload requires user authentication but user cannot be determined",
        {},
    ),
    (
        exceptions.ChecksumRequired("md5"),
        400,
        "checksum_required",
        "Checksum of type 'md5' is required",
        {},
    ),
    (
        exceptions.ChecksumRequired("sha256"),
        400,
        "checksum_required",
        "Checksum of type 'sha256' is required",
        {},
    ),
    (
        exceptions.UploadIncomplete(100, 300),
        400,
        "upload_incomplete",
        "Upload is incomplete: 100 of 300 bytes were received",
        {"offset": 100, "size": 300},
    ),
    (exceptions.ChecksumMismatch(), 400, "checksum_mismatch", "checksum does not match", {}),
    (
        exceptions.ChunkDigestMismatch("Content-Digest", "sha256"),
        400,
        "chunk_digest_mismatch",
        "The chunk's Content-Digest (sha256) does not match the bytes received;"
        " the chunk was discarded",
        {},
    ),
    (
        exceptions.InvalidChunkDigest("Content-MD5"),
        400,
        "invalid_chunk_digest",
        "The Content-MD5 header is malformed or names no supported algorithm",
        {},
    ),
    (
        exceptions.UploadBusy(),
        409,
        "upload_busy",
        "Upload is busy: another request is writing to it. Retry after it finished.",
        {},
    ),
    (
        StoredBytesLost(),
        410,
        "stored_bytes_missing",
        "The upload's stored bytes are missing; start a new upload",
        {},
    ),
]


def _id(case: Any) -> str:
    return type(case).__name__ if isinstance(case, APIException) else ""


@pytest.mark.parametrize(("exc", "status", "code", "detail", "extra"), CASES, ids=_id)
def test_exception_carries_status_code_detail_and_extras(
    exc: APIException, status: int, code: str, detail: str, extra: dict[str, Any]
) -> None:
    assert isinstance(exc, exceptions.ChunkedUploadError)
    assert exc.status_code == status
    assert exc.default_code == code
    assert str(exc) == detail
    assert exc.detail == {"detail": detail, "code": code, **extra}
    assert exc.detail["detail"].code == code
    for key, value in extra.items():
        assert type(exc.detail[key]) is int, key
        assert value == exc.detail[key]


@pytest.mark.parametrize(("exc", "status", "code", "detail", "extra"), CASES, ids=_id)
def test_drf_exception_handler_renders_the_body(
    exc: APIException, status: int, code: str, detail: str, extra: dict[str, Any]
) -> None:
    response = exception_handler(exc, {})
    assert response is not None
    assert response.status_code == status
    body = json.loads(JSONRenderer().render(response.data))
    assert body == {"detail": detail, "code": code, **extra}
    assert all(type(body[key]) is int for key in extra)


def test_explicit_detail_replaces_the_default_but_keeps_the_code() -> None:
    exc = exceptions.UploadExpired("Gone for good", reason=7)
    assert str(exc) == "Gone for good"
    assert exc.detail == {"detail": "Gone for good", "code": "upload_expired", "reason": 7}
    assert exc.extra == {"reason": 7}


def test_each_class_has_its_own_code() -> None:
    codes = {type(exc): code for exc, _, code, _, _ in CASES}
    assert len(set(codes.values())) == len(codes)
