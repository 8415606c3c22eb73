"""The tus edge's answer to each domain error and tus header error: status, ``code``, ``detail``.

One table, as the native edge's ``protocols/native/errors.py``: the rows tus gives as the IETF edge
or the native protocol does (``protocols/edge_errors.py``), then its own. The statuses are tus
1.0.0's (409 offset, 412 version, 413 size, 415 content type, 460 checksum) and, where tus says
nothing, the ones tus clients act on sensibly: tus-js-client retries 409, 423 and 5xx, and on
resume treats any other 4xx as "start a new upload". Bodies are JSON ``{"detail", "code"}``, as the
native protocol's, so a project's ``EXCEPTION_HANDLER`` sees DRF exceptions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from rest_framework import status

from ... import exceptions as e
from .. import edge_errors
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
class Answer(edge_errors.Answer):
    """A row of the tus table: ``code``, ``detail``, status and the headers tus sends with it."""

    headers: Callable[[Any], dict[str, str]] = lambda exc: {}


SHARED = edge_errors.header_protocol_answers(Answer)
ANSWERS: dict[type[Exception], Answer] = {
    **SHARED,
    **edge_errors.concatenation_answers(Answer),
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
    e.RangeExceedsTotal: Answer(
        "exceeds_upload_length",
        lambda x: f"The request's bytes would exceed Upload-Length ({x.total} bytes)",
        status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    ),
    e.SizeLimitExceeded: replace(
        SHARED[e.SizeLimitExceeded], headers=lambda x: {"Tus-Max-Size": str(x.limit)}
    ),
    # The upload took all its bytes: a client that HEADs it learns so and is done.
    e.UploadAlreadyComplete: Answer(
        "upload_complete", "Upload is complete", status.HTTP_409_CONFLICT
    ),
    e.TotalMismatch: Answer(
        "length_mismatch",
        lambda x: f"Upload-Length is {x.expected}, not {x.provided}",
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
    FinalUploadPatched: Answer(
        "final_upload",
        "A final upload is made of its partial uploads and takes no PATCH",
        status.HTTP_403_FORBIDDEN,
    ),
}


class TusError(edge_errors.CodedError):
    """A tus answer: ``{"detail", "code"}`` and the headers tus requires with it."""

    def __init__(self, status_code: int, code: str, detail: str, headers: dict[str, str]) -> None:
        super().__init__(status_code, code, detail)
        self.headers = headers


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
    answer = edge_errors.answer_for(ANSWERS, type(exc), "tus edge")
    return TusError(answer.status, answer.code, answer.detail_for(exc), answer.headers(exc))
