"""The core's domain errors: plain Python exceptions that carry facts, no HTTP.

The upload core (``uploads.py``, ``chunks.py``, the stores, the ranges and the digests) raises these;
each protocol edge turns them into its own answer in one table (the native protocol's, with today's
statuses, ``detail`` texts and ``code``s, is ``protocols/native/errors.py``). A fact a client needs
to recover (the expected offset, the limit, the algorithm) is an attribute, never a formatted string.
"""

from __future__ import annotations

from django.db import OperationalError


class UploadError(Exception):
    """Base class of the core's domain errors."""


class NoChunkSubmitted(UploadError):
    """The request carries no chunk (no file part under the field name, or no usable body)."""


class InvalidContentRange(UploadError):
    """``Content-Range`` is missing or is not ``bytes START-END/TOTAL``."""


class RangeExceedsTotal(UploadError):
    """``END >= TOTAL`` or ``START > END``."""

    def __init__(self, total: int) -> None:
        super().__init__(total)
        self.total = total


class SizeLimitExceeded(UploadError):
    """The whole file is larger than the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class ChunkTooLarge(UploadError):
    """One chunk is larger than the per-chunk limit."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(length, limit)
        self.length, self.limit = length, limit


class ChunkSizeMismatch(UploadError):
    """The chunk's length (``size``) differs from its range's (``reported``)."""

    def __init__(self, size: int, reported: int) -> None:
        super().__init__(size, reported)
        self.size, self.reported = size, reported


class UploadNotFound(UploadError):
    """No such upload (or it vanished while the request ran)."""


class UploadExpired(UploadError):
    """The upload is past its expiry."""


class UploadAlreadyComplete(UploadError):
    """The upload is complete; it takes no more bytes."""


class OffsetMismatch(UploadError):
    """The chunk does not start at the upload's offset."""

    def __init__(self, expected: int, provided: int) -> None:
        super().__init__(expected, provided)
        self.expected, self.provided = expected, provided


class TotalMismatch(UploadError):
    """The chunk's total differs from the total the upload was started with."""

    def __init__(self, expected: int, provided: int) -> None:
        super().__init__(expected, provided)
        self.expected, self.provided = expected, provided


class RangeOverlap(UploadError):
    """A chunk of a parallel upload overlaps bytes already acknowledged (``stored``: the stored
    ranges, ``[start, end]`` inclusive)."""

    def __init__(self, start: int, end: int, stored: list[tuple[int, int]]) -> None:
        super().__init__(start, end, stored)
        self.start, self.end, self.stored = start, end, stored


class RangesMissing(UploadError):
    """Completion of a parallel upload with gaps (``missing``: ``[start, end]`` inclusive)."""

    def __init__(self, missing: list[tuple[int, int]], total: int) -> None:
        super().__init__(missing, total)
        self.missing, self.total = missing, total


class PartLayoutRefused(UploadError):
    """The store cannot keep this chunk of a parallel upload as a part (``reason`` says why:
    S3 multipart wants equal parts of at least 5 MiB but the last, and at most 10,000 of them)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UserRequired(UploadError):
    """The upload needs an owner and the caller is anonymous."""


class ChecksumRequired(UploadError):
    """The completion carries no whole-file checksum of ``algorithm``."""

    def __init__(self, algorithm: str) -> None:
        super().__init__(algorithm)
        self.algorithm = algorithm


class UploadIncomplete(UploadError):
    """Completion before every byte arrived."""

    def __init__(self, received: int, total: int) -> None:
        super().__init__(received, total)
        self.received, self.total = received, total


class ChecksumMismatch(UploadError):
    """The whole file's checksum differs from the client's."""


class ChunkDigestMismatch(UploadError):
    """A body digest the request announced (``header``, ``algorithm``) does not match its body."""

    def __init__(self, header: str, algorithm: str) -> None:
        super().__init__(header, algorithm)
        self.header, self.algorithm = header, algorithm


class ChunkDigestUnverifiable(UploadError):
    """Digest headers on a body that was parsed before the upload view saw it."""


class InvalidChunkDigest(UploadError):
    """A digest ``header`` that cannot be parsed."""

    def __init__(self, header: str) -> None:
        super().__init__(header)
        self.header = header


class PartialUploadNotFound(UploadError):
    """A tus final upload names a partial upload that does not exist (or is another user's)."""

    def __init__(self, reference: str) -> None:
        super().__init__(reference)
        self.reference = reference


class ConcatenationRefused(UploadError):
    """A tus final upload cannot be made of the partial uploads it names (``reason`` says why:
    one is not a partial upload, is unfinished, or another final upload took it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidIdempotencyKey(UploadError):
    """The creation request's idempotency key is empty, too long or not visible ASCII."""

    def __init__(self, max_chars: int) -> None:
        super().__init__(max_chars)
        self.max_chars = max_chars


class IdempotencyKeyReused(UploadError):
    """The idempotency key made an upload for another request (another total or mode)."""


class UploadBusy(UploadError):
    """Another request holds the upload; retry later."""


class StoredBytesMissing(UploadError):
    """The store holds fewer bytes than were acknowledged (removed or lost outside the app)."""


class UnreadableBody(UploadError):
    """The request body could not be read or parsed (the client went away, a broken multipart)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChunkDigestHeaderTooLarge(UploadError):
    """A ``Content-Digest`` header over ``max_chars`` characters or ``max_members`` members."""

    def __init__(self, max_chars: int, max_members: int) -> None:
        super().__init__(max_chars, max_members)
        self.max_chars, self.max_members = max_chars, max_members


class TooManyUnfinishedUploads(UploadError):
    """The user has ``limit`` unfinished uploads already."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class UnfinishedBytesQuotaExceeded(UploadError):
    """The new upload would bring the user's unfinished uploads to ``declared`` bytes, over
    ``limit``."""

    def __init__(self, limit: int, declared: int) -> None:
        super().__init__(limit, declared)
        self.limit, self.declared = limit, declared


class BodyReadTimeout(UploadError):
    """The client sent no byte of the body for ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


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
