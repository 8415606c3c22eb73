"""The protocol's errors, as DRF ``APIException`` subclasses with stable ``code``s.

The ``detail`` strings are part of the wire contract (PROTOCOL.md): drf-chunked-upload clients match
on them, so they are kept verbatim, typos and all. Every body also carries the machine-readable
``code`` and, where the protocol says so, extra keys such as ``expected_offset``.
"""

from __future__ import annotations

from typing import Any

from django.db import OperationalError
from rest_framework import status
from rest_framework.exceptions import APIException, ErrorDetail


class ChunkedUploadError(APIException):
    """Base class: a 400 whose body is ``{"detail": ..., "code": ..., **extra}``."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    default_detail = "Invalid chunked upload request"
    default_code = "invalid"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        message = detail if detail is not None else self.default_detail
        super().__init__(message, self.default_code)
        self.extra = extra
        # Set the body directly: DRF would turn the integer extras into strings.
        self.detail: Any = {
            "detail": ErrorDetail(str(message), self.default_code),
            "code": self.default_code,
            **extra,
        }

    def __str__(self) -> str:
        return str(self.detail["detail"])


class NoChunkSubmitted(ChunkedUploadError):
    default_detail = "No chunk file was submitted"
    default_code = "no_chunk"


class InvalidContentRange(ChunkedUploadError):
    default_detail = "Error in request headers"
    default_code = "invalid_content_range"


class RangeExceedsTotal(ChunkedUploadError):
    default_code = "range_exceeds_total"

    def __init__(self, total: int) -> None:
        super().__init__(f"End of chunk exceeds reported total ({total} bytes)")


class SizeLimitExceeded(ChunkedUploadError):
    default_code = "size_limit_exceeded"

    def __init__(self, limit: int) -> None:
        super().__init__(f"Size of file exceeds the limit ({limit} bytes)", limit=limit)


class ChunkTooLarge(ChunkedUploadError):
    default_code = "chunk_too_large"

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(
            f"Chunk of {length} bytes exceeds the per-chunk limit ({limit} bytes)", limit=limit
        )


class ChunkSizeMismatch(ChunkedUploadError):
    default_code = "chunk_size_mismatch"

    def __init__(self, size: int, reported: int) -> None:
        super().__init__(
            f"File size doesn't match headers: file size is {size} but {reported} reported"
        )


class UploadExpired(ChunkedUploadError):
    status_code = status.HTTP_410_GONE
    default_detail = "Upload has expired"
    default_code = "upload_expired"


class UploadAlreadyComplete(ChunkedUploadError):
    default_detail = 'Upload has already been marked as "complete"'
    default_code = "upload_complete"


class OffsetMismatch(ChunkedUploadError):
    default_code = "offset_mismatch"

    def __init__(self, expected: int, provided: int) -> None:
        super().__init__("Offsets do not match", expected_offset=expected, provided_offset=provided)


class TotalMismatch(ChunkedUploadError):
    default_code = "total_mismatch"

    def __init__(self, expected: int, provided: int) -> None:
        super().__init__(
            f"Total size does not match: the upload was started with a total of {expected} bytes"
            f" but this chunk reports {provided} bytes",
            expected_total=expected,
            provided_total=provided,
        )


class UserRequired(ChunkedUploadError):
    default_detail = "Upload requires user authentication but user cannot be determined"
    default_code = "user_required"


class ChecksumRequired(ChunkedUploadError):
    default_code = "checksum_required"

    def __init__(self, algorithm: str) -> None:
        super().__init__(
            f"Checksum of type '{algorithm}' is required", checksum_algorithm=algorithm
        )


class UploadIncomplete(ChunkedUploadError):
    default_code = "upload_incomplete"

    def __init__(self, received: int, total: int) -> None:
        super().__init__(
            f"Upload is incomplete: {received} of {total} bytes were received",
            offset=received,
            size=total,
        )


class ChecksumMismatch(ChunkedUploadError):
    default_detail = "checksum does not match"
    default_code = "checksum_mismatch"


class ChunkDigestMismatch(ChunkedUploadError):
    default_code = "chunk_digest_mismatch"

    def __init__(self, header: str, algorithm: str) -> None:
        super().__init__(
            f"The chunk's {header} ({algorithm}) does not match the bytes received;"
            " the chunk was discarded"
        )


class ChunkDigestUnverifiable(ChunkedUploadError):
    default_code = "chunk_digest_unverifiable"
    default_detail = (
        "The request's digest headers cannot be checked: its body was parsed before the upload"
        " view (a middleware read request.POST)"
    )


class InvalidChunkDigest(ChunkedUploadError):
    default_code = "invalid_chunk_digest"

    def __init__(self, header: str) -> None:
        super().__init__(f"The {header} header is malformed or names no supported algorithm")


class ChunkDigestHeaderTooLarge(ChunkedUploadError):
    default_code = "chunk_digest_header_too_large"

    def __init__(self, max_chars: int, max_members: int) -> None:
        super().__init__(
            f"The Content-Digest header is too large: at most {max_chars} characters and"
            f" {max_members} members are accepted",
            max_chars=max_chars,
            max_members=max_members,
        )


class TooManyUnfinishedUploads(ChunkedUploadError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "too_many_unfinished_uploads"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"You have {limit} unfinished uploads, the most allowed: complete or abort one"
            " before starting another",
            limit=limit,
        )


class UnfinishedBytesQuotaExceeded(ChunkedUploadError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "unfinished_bytes_quota_exceeded"

    def __init__(self, limit: int, declared: int) -> None:
        super().__init__(
            f"This upload would bring your unfinished uploads to {declared} bytes, over the"
            f" quota of {limit} bytes: complete or abort some before starting another",
            limit=limit,
            declared=declared,
        )


class BodyReadTimeout(ChunkedUploadError):
    status_code = status.HTTP_408_REQUEST_TIMEOUT
    default_code = "body_read_timeout"

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"The client sent no byte of the body for {seconds:g} seconds; the chunk was discarded",
            seconds=seconds,
        )


class UploadBusy(ChunkedUploadError):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Upload is busy: another request is writing to it. Retry after it finished."
    default_code = "upload_busy"


# A database giving up on a lock: the statement was rolled back, so nothing changed, and the
# request may succeed when retried. MySQL/MariaDB error numbers and PostgreSQL SQLSTATEs.
_MYSQL_LOCK_ERRORS = frozenset({1205, 1213})  # lock wait timeout, deadlock
_POSTGRES_LOCK_STATES = frozenset({"40001", "40P01", "55P03"})  # serialization, deadlock, lock
_SQLITE_LOCK_MESSAGES = ("database is locked", "database table is locked")


def is_lock_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is a deadlock, a lock wait timeout or SQLite's busy error (answered as
    ``UploadBusy``: another request holds what this one needs; retry)."""
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__ or exc  # Django re-raises the driver's error from the driver's
    state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if state in _POSTGRES_LOCK_STATES:
        return True
    args = getattr(cause, "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_LOCK_ERRORS:
        return True
    return str(cause).startswith(_SQLITE_LOCK_MESSAGES)
