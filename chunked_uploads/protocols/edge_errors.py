"""What the edges' error tables share: the row, the look-up, and the rows several edges give alike.

Each edge answers the core's domain errors (and its own header errors) from one table, its
``errors.py``. A row is an ``Answer``: the machine-readable ``code``, the ``detail`` text (or a
function of the error that makes it) and the status; each edge's subclass adds what its format
carries besides (native: extra body keys; tus: response headers; IETF: a problem type and its
members). ``answer_for()`` finds an error's row, or its nearest listed base class's.

The rows the tus and IETF edges give alike (same code, text and status) are written once, in
``header_protocol_answers()``; the concatenation rows tus and the native protocol give alike, in
``concatenation_answers()``. Each table starts from them and adds or overrides its own rows; both
take the edge's ``Answer`` class, so that every row of a table is of its type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from rest_framework import status
from rest_framework.exceptions import APIException, ErrorDetail

from .. import exceptions as e


@dataclass(frozen=True)
class Answer:
    """How an edge answers one error: ``code``, ``detail`` and status."""

    code: str
    detail: str | Callable[[Any], str]
    status: int = status.HTTP_400_BAD_REQUEST

    def detail_for(self, exc: Exception) -> str:
        return self.detail if isinstance(self.detail, str) else self.detail(exc)


A = TypeVar("A", bound=Answer)


class CodedError(APIException):
    """An answer whose body is ``{"detail", "code", **extra}`` (native and tus), a DRF exception
    so that a project's ``EXCEPTION_HANDLER`` sees it."""

    def __init__(
        self, status_code: int, code: str, detail: str, extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(detail, code)
        self.status_code = status_code
        self.code = code
        # Set the body directly: DRF would turn the integer extras into strings.
        self.detail: Any = {"detail": ErrorDetail(detail, code), "code": code, **(extra or {})}

    def __str__(self) -> str:
        return str(self.detail["detail"])


def answer_for(table: Mapping[Any, A], cls: type[Exception], edge: str) -> A:
    """The row of ``cls`` in ``edge``'s table (or of its nearest listed base class)."""
    for base in cls.__mro__:
        answer = table.get(base)
        if answer is not None:
            return answer
    raise LookupError(f"the {edge} has no answer for {cls.__name__}")


def header_protocol_answers(answer: type[A]) -> dict[type[Exception], A]:
    """The rows the tus and IETF edges give alike, as rows of the edge's ``answer`` class.

    Their statuses are the ones resumable clients act on sensibly: tus-js-client (which speaks
    both) retries 409, 423 and 5xx, and treats any other 4xx as the end of the upload.
    """
    return {
        e.NoChunkSubmitted: answer("no_chunk", "The request carries no body"),
        e.InvalidContentRange: answer(
            "invalid_header", "Upload-Offset or Content-Length is invalid"
        ),
        e.OffsetMismatch: answer(
            "offset_mismatch",
            lambda x: f"Upload-Offset is {x.provided} but the upload's offset is {x.expected}",
            status.HTTP_409_CONFLICT,
        ),
        e.SizeLimitExceeded: answer(
            "size_limit_exceeded",
            lambda x: f"Size of file exceeds the limit ({x.limit} bytes)",
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        ),
        e.ChunkTooLarge: answer(
            "chunk_too_large",
            lambda x: (
                f"Request of {x.length} bytes exceeds the per-request limit ({x.limit} bytes)"
            ),
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        ),
        e.ChunkSizeMismatch: answer(
            "length_mismatch",
            lambda x: f"The body holds {x.size} bytes but Content-Length announced {x.reported}",
        ),
        e.UploadExpired: answer("upload_expired", "Upload has expired", status.HTTP_410_GONE),
        e.UserRequired: answer(
            "user_required",
            "Upload requires user authentication but user cannot be determined",
            status.HTTP_403_FORBIDDEN,
        ),
        e.TooManyUnfinishedUploads: answer(
            "too_many_unfinished_uploads",
            lambda x: f"You have {x.limit} unfinished uploads, the most allowed",
            status.HTTP_403_FORBIDDEN,
        ),
        e.UnfinishedBytesQuotaExceeded: answer(
            "unfinished_bytes_quota_exceeded",
            lambda x: (
                f"Unfinished uploads would reach {x.declared} bytes, over the quota ({x.limit})"
            ),
            status.HTTP_403_FORBIDDEN,
        ),
        # What the check-points acknowledged before the stall stays.
        e.BodyReadTimeout: answer(
            "body_read_timeout",
            lambda x: f"The client sent no byte of the body for {x.seconds:g} seconds",
            status.HTTP_408_REQUEST_TIMEOUT,
        ),
        # tusd's answer for a locked upload; tus-js-client retries it.
        e.UploadBusy: answer(
            "upload_busy",
            "Upload is busy: another request is writing to it",
            status.HTTP_423_LOCKED,
        ),
        e.StoredBytesMissing: answer(
            "stored_bytes_missing",
            "The upload's stored bytes are missing; start a new upload",
            status.HTTP_410_GONE,
        ),
        e.UnreadableBody: answer("unreadable_body", lambda x: x.reason),
        e.UploadNotFound: answer("not_found", "No such upload", status.HTTP_404_NOT_FOUND),
        e.UploadError: answer("upload_error", lambda x: type(x).__name__),
    }


def concatenation_answers(answer: type[A]) -> dict[type[Exception], A]:
    """The rows of tus concatenation's errors (and of a part layout a store refuses), which the
    native protocol gives as tus does."""
    return {
        # Another user's partial is answered as an unknown one (no information leak).
        e.PartialUploadNotFound: answer(
            "partial_upload_not_found",
            lambda x: f"No such partial upload: {x.reference}",
            status.HTTP_404_NOT_FOUND,
        ),
        e.ConcatenationRefused: answer("concatenation_refused", lambda x: x.reason),
        e.PartLayoutRefused: answer("part_layout_refused", lambda x: x.reason),
    }
