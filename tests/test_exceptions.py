"""The core's domain errors as the native protocol answers them: status, ``code``, exact ``detail``
and extra keys (``protocols/native/errors.py``).

Clients match on these strings (PROTOCOL.md), so they are pinned here verbatim; the bodies are also
checked after DRF's exception handler and JSON rendering, where the extras must stay integers.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connection, connections, transaction
from rest_framework.exceptions import APIException
from rest_framework.renderers import JSONRenderer
from rest_framework.views import exception_handler

from chunked_uploads import exceptions
from chunked_uploads.protocols.native.errors import ANSWERS, to_api_exception

CASES: list[tuple[exceptions.UploadError, int, str, str, dict[str, Any]]] = [
    (
        exceptions.RangeOverlap(10, 19, [(0, 14)]),
        400,
        "range_overlap",
        "Bytes 10-19 overlap bytes already received",
        {"ranges": [[0, 14]]},
    ),
    (
        exceptions.RangesMissing([(5, 9), (20, 29)], 30),
        400,
        "ranges_missing",
        "Upload is incomplete: bytes 5-9, 20-29 of 30 are missing",
        {"missing": [[5, 9], [20, 29]]},
    ),
    (
        exceptions.PartialUploadNotFound("/api/tus/x/"),
        404,
        "partial_upload_not_found",
        "No such partial upload: /api/tus/x/",
        {},
    ),
    (
        exceptions.ConcatenationRefused("/api/tus/x/ is not a partial upload"),
        400,
        "concatenation_refused",
        "/api/tus/x/ is not a partial upload",
        {},
    ),
    (
        exceptions.PartLayoutRefused("This server's store (X) does not take parallel uploads"),
        400,
        "part_layout_refused",
        "This server's store (X) does not take parallel uploads",
        {},
    ),
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
        {"checksum_algorithm": "md5"},
    ),
    (
        exceptions.ChecksumRequired("sha256"),
        400,
        "checksum_required",
        "Checksum of type 'sha256' is required",
        {"checksum_algorithm": "sha256"},
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
        exceptions.ChunkDigestUnverifiable(),
        400,
        "chunk_digest_unverifiable",
        "The request's digest headers cannot be checked: its body was parsed before the upload"
        " view (a middleware read request.POST)",
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
        exceptions.ChunkDigestHeaderTooLarge(1024, 16),
        400,
        "chunk_digest_header_too_large",
        "The Content-Digest header is too large: at most 1024 characters and 16 members are"
        " accepted",
        {"max_chars": 1024, "max_members": 16},
    ),
    (
        exceptions.TooManyUnfinishedUploads(3),
        403,
        "too_many_unfinished_uploads",
        "You have 3 unfinished uploads, the most allowed: complete or abort one before starting"
        " another",
        {"limit": 3},
    ),
    (
        exceptions.UnfinishedBytesQuotaExceeded(1000, 1500),
        403,
        "unfinished_bytes_quota_exceeded",
        "This upload would bring your unfinished uploads to 1500 bytes, over the quota of 1000"
        " bytes: complete or abort some before starting another",
        {"limit": 1000, "declared": 1500},
    ),
    (
        exceptions.BodyReadTimeout(6.0),
        408,
        "body_read_timeout",
        "The client sent no byte of the body for 6 seconds; the chunk was discarded",
        {"seconds": 6.0},
    ),
    (
        exceptions.InvalidIdempotencyKey(255),
        400,
        "invalid_idempotency_key",
        "Idempotency-Key must be 1 to 255 visible ASCII characters, as a token or a quoted string",
        {"max_chars": 255},
    ),
    (
        exceptions.IdempotencyKeyReused(),
        422,
        "idempotency_key_reused",
        "This Idempotency-Key was sent with another request (another total or mode); send a new"
        " key for a new upload",
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
        exceptions.StoredBytesMissing(),
        410,
        "stored_bytes_missing",
        "The upload's stored bytes are missing; start a new upload",
        {},
    ),
]


def _id(case: Any) -> str:
    return type(case).__name__ if isinstance(case, exceptions.UploadError) else ""


@pytest.mark.parametrize(("exc", "status", "code", "detail", "extra"), CASES, ids=_id)
def test_native_answer_carries_status_code_detail_and_extras(
    exc: exceptions.UploadError, status: int, code: str, detail: str, extra: dict[str, Any]
) -> None:
    answer = to_api_exception(exc)
    assert isinstance(answer, APIException)
    assert answer.status_code == status
    assert str(answer) == detail
    assert answer.detail == {"detail": detail, "code": code, **extra}
    assert answer.detail["detail"].code == code
    for key, value in extra.items():
        assert type(answer.detail[key]) is type(value), key  # DRF would make integers strings
        assert value == answer.detail[key]


@pytest.mark.parametrize(("exc", "status", "code", "detail", "extra"), CASES, ids=_id)
def test_drf_exception_handler_renders_the_body(
    exc: exceptions.UploadError, status: int, code: str, detail: str, extra: dict[str, Any]
) -> None:
    response = exception_handler(to_api_exception(exc), {})
    assert response is not None
    assert response.status_code == status
    body = json.loads(JSONRenderer().render(response.data))
    assert body == {"detail": detail, "code": code, **extra}
    assert all(type(body[key]) is type(value) for key, value in extra.items())


def test_each_class_has_its_own_code() -> None:
    codes = {type(exc): code for exc, _, code, _, _ in CASES}
    assert len(set(codes.values())) == len(codes)


def test_every_domain_error_has_a_native_answer() -> None:
    """A new domain error without a row in the table would reach DRF as a 500."""
    pending = [exceptions.UploadError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls not in (
            exceptions.UploadError,
            exceptions.UploadNotFound,
            exceptions.UnreadableBody,
        ):
            assert cls in ANSWERS, cls
    table = {type(exc) for exc, *_ in CASES}
    assert set(ANSWERS) == table


def test_not_found_and_unreadable_bodies_are_drfs_own() -> None:
    """The native protocol answers these as DRF does (``not_found``, ``parse_error``)."""
    not_found = to_api_exception(exceptions.UploadNotFound())
    assert (not_found.status_code, not_found.get_codes()) == (404, "not_found")
    parse = to_api_exception(exceptions.UnreadableBody("Multipart form parse error - bad"))
    assert (parse.status_code, str(parse.detail)) == (400, "Multipart form parse error - bad")


# -- database lock conflicts (real errors from real databases; none is constructed by hand) --


def _sqlite_wrapper(path: Path) -> Any:
    from django.db.backends.sqlite3.base import DatabaseWrapper

    settings = {**connection.settings_dict, "ENGINE": "django.db.backends.sqlite3"}
    settings.update(NAME=str(path), OPTIONS={"timeout": 0}, TEST={})
    return DatabaseWrapper(settings, alias="lock-test")


@pytest.mark.django_db  # lifts pytest-django's block on connecting; these are our own connections
def test_sqlite_busy_is_a_lock_conflict(tmp_path: Path) -> None:
    """Two Django SQLite connections on one file; the second's write waits 0 s and fails."""
    first, second = _sqlite_wrapper(tmp_path / "db"), _sqlite_wrapper(tmp_path / "db")
    try:
        first.cursor().execute("CREATE TABLE t (x int)")
        first.cursor().execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError) as caught:
            second.cursor().execute("BEGIN IMMEDIATE")
        assert exceptions.is_lock_conflict(caught.value)
        # Another operational error of the same driver is not one.
        with pytest.raises(OperationalError) as other:
            second.cursor().execute("SELECT * FROM no_such_table")
        assert not exceptions.is_lock_conflict(other.value)
    finally:
        first.close()
        second.close()


def test_other_errors_are_not_lock_conflicts() -> None:
    assert not exceptions.is_lock_conflict(ValueError("database is locked"))
    assert not exceptions.is_lock_conflict(exceptions.UploadBusy())


@pytest.mark.django_db(transaction=True)
def test_a_real_deadlock_is_a_lock_conflict() -> None:
    """Two connections lock two rows in opposite orders; the database kills one of them."""
    if connection.vendor not in ("postgresql", "mysql"):
        pytest.skip("row locks held by two connections: PostgreSQL and MariaDB only")
    from django.contrib.auth.models import Group

    rows = [Group.objects.create(name=f"lock-{i}").pk for i in range(2)]
    with transaction.atomic():  # the compiler refuses FOR UPDATE outside a transaction
        query = Group.objects.select_for_update().filter(pk=0).values_list("pk").query
        sql, _ = query.sql_with_params()
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def lock(first: int, then: int) -> None:
        conn = connections.create_connection("default")  # a connection of this thread's own
        try:
            conn.set_autocommit(False)
            conn.cursor().execute(sql, [first])
            barrier.wait(timeout=10)
            conn.cursor().execute(sql, [then])
        except OperationalError as exc:
            errors.append(exc)
        finally:
            conn.rollback()
            conn.close()

    threads = [
        threading.Thread(target=lock, args=(rows[0], rows[1])),
        threading.Thread(target=lock, args=(rows[1], rows[0])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(errors) == 1, errors
    assert exceptions.is_lock_conflict(errors[0])
