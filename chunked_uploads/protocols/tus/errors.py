"""The tus edge's answer to each domain error and tus header error: status, ``code``, ``detail``.

One table, as the native edge's ``protocols/native/errors.py``; the statuses are tus 1.0.0's
(409 offset, 412 version, 413 size, 415 content type, 460 checksum) and, where tus says nothing,
the ones tus clients act on sensibly: tus-js-client retries 409, 423 and 5xx, and on resume treats
any other 4xx as "start a new upload". Bodies are JSON ``{"detail", "code"}``, as the native
protocol's, so a project's ``EXCEPTION_HANDLER`` sees DRF exceptions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rest_framework import status
from rest_framework.exceptions import APIException, ErrorDetail

from ... import exceptions as e
from .headers import (
    OFFSET_STREAM,
    TUS_VERSION,
    FinalUploadPatched,
    InvalidTusHeader,
    UnsupportedContentType,
    UnsupportedTusVersion,
)

CHECKSUM_MISMATCH = 460  # tus checksum extension: "Checksum Mismatch"


@dataclass(frozen=True)
class Answer:
    code: str
    detail: str | Callable[[Any], str]
    status: int = status.HTTP_400_BAD_REQUEST
    headers: Callable[[Any], dict[str, str]] = lambda exc: {}


ANSWERS: dict[type[Exception], Answer] = {
    UnsupportedTusVersion: Answer(
        "unsupported_version",
        f"Tus-Resumable must be {TUS_VERSION}",
        status.HTTP_412_PRECONDITION_FAILED,
        lambda exc: {"Tus-Version": TUS_VERSION},
    ),
    UnsupportedContentType: Answer(
        "unsupported_media_type",
        f"Content-Type must be {OFFSET_STREAM}",
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    ),
    InvalidTusHeader: Answer("invalid_header", lambda x: f"{x.header}: {x.reason}"),
    e.NoChunkSubmitted: Answer("no_chunk", "The request carries no body"),
    e.InvalidContentRange: Answer("invalid_header", "Upload-Offset or Content-Length is invalid"),
    e.RangeExceedsTotal: Answer(
        "exceeds_upload_length",
        lambda x: f"The request's bytes would exceed Upload-Length ({x.total} bytes)",
        status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    ),
    e.SizeLimitExceeded: Answer(
        "size_limit_exceeded",
        lambda x: f"Size of file exceeds the limit ({x.limit} bytes)",
        status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        lambda x: {"Tus-Max-Size": str(x.limit)},
    ),
    e.ChunkTooLarge: Answer(
        "chunk_too_large",
        lambda x: f"Request of {x.length} bytes exceeds the per-request limit ({x.limit} bytes)",
        status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    ),
    e.ChunkSizeMismatch: Answer(
        "length_mismatch",
        lambda x: f"The body holds {x.size} bytes but Content-Length announced {x.reported}",
    ),
    e.UploadExpired: Answer("upload_expired", "Upload has expired", status.HTTP_410_GONE),
    # The upload took all its bytes: a client that HEADs it learns so and is done.
    e.UploadAlreadyComplete: Answer(
        "upload_complete", "Upload is complete", status.HTTP_409_CONFLICT
    ),
    e.OffsetMismatch: Answer(
        "offset_mismatch",
        lambda x: f"Upload-Offset is {x.provided} but the upload's offset is {x.expected}",
        status.HTTP_409_CONFLICT,
    ),
    e.TotalMismatch: Answer(
        "length_mismatch",
        lambda x: f"Upload-Length is {x.expected}, not {x.provided}",
    ),
    e.UserRequired: Answer(
        "user_required",
        "Upload requires user authentication but user cannot be determined",
        status.HTTP_403_FORBIDDEN,
    ),
    e.ChecksumMismatch: Answer("checksum_mismatch", "checksum does not match", CHECKSUM_MISMATCH),
    e.ChunkDigestMismatch: Answer(
        "checksum_mismatch",
        lambda x: f"The {x.header} ({x.algorithm}) does not match the body; it was discarded",
        CHECKSUM_MISMATCH,
    ),
    e.ChunkDigestUnverifiable: Answer(
        "checksum_unverifiable",
        "The body was parsed before the upload view (a middleware read request.POST)",
    ),
    e.InvalidChunkDigest: Answer(
        "invalid_checksum",
        lambda x: f"{x.header} is malformed or names an unsupported algorithm",
    ),
    e.TooManyUnfinishedUploads: Answer(
        "too_many_unfinished_uploads",
        lambda x: f"You have {x.limit} unfinished uploads, the most allowed",
        status.HTTP_403_FORBIDDEN,
    ),
    e.UnfinishedBytesQuotaExceeded: Answer(
        "unfinished_bytes_quota_exceeded",
        lambda x: f"Unfinished uploads would reach {x.declared} bytes, over the quota ({x.limit})",
        status.HTTP_403_FORBIDDEN,
    ),
    # What the check-points acknowledged before the stall stays.
    e.BodyReadTimeout: Answer(
        "body_read_timeout",
        lambda x: f"The client sent no byte of the body for {x.seconds:g} seconds",
        status.HTTP_408_REQUEST_TIMEOUT,
    ),
    # tusd's answer for a locked upload; tus-js-client retries it.
    e.UploadBusy: Answer(
        "upload_busy", "Upload is busy: another request is writing to it", status.HTTP_423_LOCKED
    ),
    e.StoredBytesMissing: Answer(
        "stored_bytes_missing",
        "The upload's stored bytes are missing; start a new upload",
        status.HTTP_410_GONE,
    ),
    e.UnreadableBody: Answer("unreadable_body", lambda x: x.reason),
    e.UploadNotFound: Answer("not_found", "No such upload", status.HTTP_404_NOT_FOUND),
    # concatenation: another user's partial is answered as an unknown one (no information leak)
    e.PartialUploadNotFound: Answer(
        "partial_upload_not_found",
        lambda x: f"No such partial upload: {x.reference}",
        status.HTTP_404_NOT_FOUND,
    ),
    e.ConcatenationRefused: Answer("concatenation_refused", lambda x: x.reason),
    e.PartLayoutRefused: Answer("part_layout_refused", lambda x: x.reason),
    FinalUploadPatched: Answer(
        "final_upload",
        "A final upload is made of its partial uploads and takes no PATCH",
        status.HTTP_403_FORBIDDEN,
    ),
    e.UploadError: Answer("upload_error", lambda x: type(x).__name__),
}


class TusError(APIException):
    """A tus answer: ``{"detail", "code"}`` and the headers tus requires with it."""

    def __init__(self, status_code: int, code: str, detail: str, headers: dict[str, str]) -> None:
        super().__init__(detail, code)
        self.status_code = status_code
        self.code = code
        self.headers = headers
        self.detail: Any = {"detail": ErrorDetail(detail, code), "code": code}

    def __str__(self) -> str:
        return str(self.detail["detail"])


def is_tus_error(exc: Exception) -> bool:
    return isinstance(
        exc,
        (
            e.UploadError,
            FinalUploadPatched,
            InvalidTusHeader,
            UnsupportedContentType,
            UnsupportedTusVersion,
        ),
    )


def to_api_exception(exc: Exception) -> TusError:
    """The tus answer to ``exc`` (a domain error or a tus header error)."""
    for base in type(exc).__mro__:
        answer = ANSWERS.get(base)
        if answer is not None:
            detail = answer.detail if isinstance(answer.detail, str) else answer.detail(exc)
            return TusError(answer.status, answer.code, detail, answer.headers(exc))
    raise LookupError(f"the tus edge has no answer for {type(exc).__name__}")
