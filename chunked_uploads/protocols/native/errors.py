"""The native protocol's answer to each domain error: status, ``code``, ``detail`` and extra keys.

One table for the whole edge, as DRF's ``exception_handler`` maps ``Http404`` and
``PermissionDenied``. The ``detail`` strings are part of the wire contract (``docs/protocol.md``):
drf-chunked-upload clients match on them, so they are kept verbatim, typos and all. Every body also
carries the machine-readable ``code`` and, where the protocol says so, extra keys such as
``expected_offset``. The result is a DRF ``APIException``, so a project's ``EXCEPTION_HANDLER``
sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, ParseError

from ... import exceptions as e
from .. import edge_errors

Extra = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class Answer(edge_errors.Answer):
    """How the native protocol answers one domain error: ``code``, ``detail``, status and the
    extra keys of its body."""

    extra: Extra = field(default=lambda exc: {})


ANSWERS: dict[type[Exception], Answer] = {
    # A part layout the store refuses (parallel mode), and tus concatenation's errors (the native
    # protocol raises neither; a subclass of the view could): as the tus edge answers them.
    **edge_errors.concatenation_answers(Answer),
    e.NoChunkSubmitted: Answer("no_chunk", "No chunk file was submitted"),
    e.InvalidContentRange: Answer("invalid_content_range", "Error in request headers"),
    e.RangeExceedsTotal: Answer(
        "range_exceeds_total", lambda x: f"End of chunk exceeds reported total ({x.total} bytes)"
    ),
    e.SizeLimitExceeded: Answer(
        "size_limit_exceeded",
        lambda x: f"Size of file exceeds the limit ({x.limit} bytes)",
        extra=lambda x: {"limit": x.limit},
    ),
    e.ChunkTooLarge: Answer(
        "chunk_too_large",
        lambda x: f"Chunk of {x.length} bytes exceeds the per-chunk limit ({x.limit} bytes)",
        extra=lambda x: {"limit": x.limit},
    ),
    e.ChunkSizeMismatch: Answer(
        "chunk_size_mismatch",
        lambda x: (
            f"File size doesn't match headers: file size is {x.size} but {x.reported} reported"
        ),
    ),
    e.UploadExpired: Answer("upload_expired", "Upload has expired", status.HTTP_410_GONE),
    e.UploadAlreadyComplete: Answer(
        "upload_complete", 'Upload has already been marked as "complete"'
    ),
    e.OffsetMismatch: Answer(
        "offset_mismatch",
        "Offsets do not match",
        extra=lambda x: {"expected_offset": x.expected, "provided_offset": x.provided},
    ),
    e.TotalMismatch: Answer(
        "total_mismatch",
        lambda x: (
            "Total size does not match: the upload was started with a total of"
            f" {x.expected} bytes but this chunk reports {x.provided} bytes"
        ),
        extra=lambda x: {"expected_total": x.expected, "provided_total": x.provided},
    ),
    e.RangeOverlap: Answer(
        "range_overlap",
        lambda x: f"Bytes {x.start}-{x.end} overlap bytes already received",
        extra=lambda x: {"ranges": [list(r) for r in x.stored]},
    ),
    e.RangesMissing: Answer(
        "ranges_missing",
        lambda x: (
            "Upload is incomplete: bytes "
            + ", ".join(f"{start}-{end}" for start, end in x.missing)
            + f" of {x.total} are missing"
        ),
        extra=lambda x: {"missing": [list(r) for r in x.missing]},
    ),
    e.UserRequired: Answer(
        "user_required", "Upload requires user authentication but user cannot be determined"
    ),
    e.ChecksumRequired: Answer(
        "checksum_required",
        lambda x: f"Checksum of type '{x.algorithm}' is required",
        extra=lambda x: {"checksum_algorithm": x.algorithm},
    ),
    e.UploadIncomplete: Answer(
        "upload_incomplete",
        lambda x: f"Upload is incomplete: {x.received} of {x.total} bytes were received",
        extra=lambda x: {"offset": x.received, "size": x.total},
    ),
    e.ChecksumMismatch: Answer("checksum_mismatch", "checksum does not match"),
    e.ChunkDigestMismatch: Answer(
        "chunk_digest_mismatch",
        lambda x: (
            f"The chunk's {x.header} ({x.algorithm}) does not match the bytes received;"
            " the chunk was discarded"
        ),
    ),
    e.ChunkDigestUnverifiable: Answer(
        "chunk_digest_unverifiable",
        "The request's digest headers cannot be checked: its body was parsed before the upload"
        " view (a middleware read request.POST)",
    ),
    e.InvalidChunkDigest: Answer(
        "invalid_chunk_digest",
        lambda x: f"The {x.header} header is malformed or names no supported algorithm",
    ),
    e.ChunkDigestHeaderTooLarge: Answer(
        "chunk_digest_header_too_large",
        lambda x: (
            f"The Content-Digest header is too large: at most {x.max_chars} characters and"
            f" {x.max_members} members are accepted"
        ),
        extra=lambda x: {"max_chars": x.max_chars, "max_members": x.max_members},
    ),
    e.TooManyUnfinishedUploads: Answer(
        "too_many_unfinished_uploads",
        lambda x: (
            f"You have {x.limit} unfinished uploads, the most allowed: complete or abort one"
            " before starting another"
        ),
        status.HTTP_403_FORBIDDEN,
        extra=lambda x: {"limit": x.limit},
    ),
    e.UnfinishedBytesQuotaExceeded: Answer(
        "unfinished_bytes_quota_exceeded",
        lambda x: (
            f"This upload would bring your unfinished uploads to {x.declared} bytes, over the"
            f" quota of {x.limit} bytes: complete or abort some before starting another"
        ),
        status.HTTP_403_FORBIDDEN,
        extra=lambda x: {"limit": x.limit, "declared": x.declared},
    ),
    e.BodyReadTimeout: Answer(
        "body_read_timeout",
        lambda x: (
            f"The client sent no byte of the body for {x.seconds:g} seconds; the chunk was"
            " discarded"
        ),
        status.HTTP_408_REQUEST_TIMEOUT,
        extra=lambda x: {"seconds": x.seconds},
    ),
    e.InvalidIdempotencyKey: Answer(
        "invalid_idempotency_key",
        lambda x: (
            f"Idempotency-Key must be 1 to {x.max_chars} visible ASCII characters, as a token or a"
            " quoted string"
        ),
        extra=lambda x: {"max_chars": x.max_chars},
    ),
    e.IdempotencyKeyReused: Answer(
        "idempotency_key_reused",
        "This Idempotency-Key was sent with another request (another total or mode); send a new"
        " key for a new upload",
        status.HTTP_422_UNPROCESSABLE_ENTITY,
    ),
    e.UploadBusy: Answer(
        "upload_busy",
        "Upload is busy: another request is writing to it. Retry after it finished.",
        status.HTTP_409_CONFLICT,
    ),
    e.StoredBytesMissing: Answer(
        "stored_bytes_missing",
        "The upload's stored bytes are missing; start a new upload",
        status.HTTP_410_GONE,
    ),
}


class NativeError(edge_errors.CodedError):
    """A domain error as the native protocol answers it: ``{"detail", "code", **extra}``."""


def to_api_exception(exc: e.UploadError) -> APIException:
    """The native protocol's answer to ``exc``: a DRF exception with the protocol's body."""
    if isinstance(exc, e.UploadNotFound):
        return NotFound()
    if isinstance(exc, e.UnreadableBody):
        return ParseError(exc.reason)
    answer = answer_for(type(exc))
    return NativeError(answer.status, answer.code, answer.detail_for(exc), answer.extra(exc))


def answer_for(cls: type[e.UploadError]) -> Answer:
    """The row of ``cls`` (or of its nearest listed base class)."""
    return edge_errors.answer_for(ANSWERS, cls, "native protocol")
