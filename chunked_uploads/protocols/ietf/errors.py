"""The IETF edge's answer to each domain error and header error: RFC 9457 problem details.

One table, as the other edges' ``errors.py``: the rows it gives as the tus edge does
(``protocols/edge_errors.py``), then its own. Where the draft defines a problem type it is used
with its status and members (``mismatching-upload-offset`` 409 with ``expected-offset`` and
``provided-offset``; ``completed-upload`` 400, or 410 from interop 8;
``inconsistent-upload-length`` 400); every other
error is a problem of this app's own type (``code`` names it, as in the native protocol's errors),
with the status a resumable client acts on sensibly: 409, 423 and 5xx are retried after a ``HEAD``,
other 4xx end the upload.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any

from rest_framework import status
from rest_framework.exceptions import APIException

from ... import exceptions as e
from .. import edge_errors
from .headers import (
    PARTIAL_UPLOAD,
    VERSIONS,
    InvalidUploadHeader,
    UnsupportedContentType,
    UnsupportedInteropVersion,
)

IANA = "https://iana.org/assignments/http-problem-types#"
MISMATCHING_OFFSET = IANA + "mismatching-upload-offset"
COMPLETED_UPLOAD = IANA + "completed-upload"
INCONSISTENT_LENGTH = IANA + "inconsistent-upload-length"
PROBLEM_JSON = "application/problem+json"


class CompletedUploadGone(Exception):
    """An append without content to a completed upload, from draft -10 on (interop 8): ``410``
    with ``completed-upload`` (section "Upload Append", server behavior)."""


@dataclass(frozen=True)
class Answer(edge_errors.Answer):
    """A row of the IETF table: ``code``, ``detail``, status, and the problem type with its
    members where the draft defines one."""

    type: str | None = None  # ``None``: ``about:blank`` with the ``code`` member
    members: Callable[[Any], dict[str, Any]] = lambda exc: {}


SHARED = edge_errors.header_protocol_answers(Answer)
ANSWERS: dict[type[Exception], Answer] = {
    **SHARED,
    UnsupportedInteropVersion: Answer(
        "unsupported_interop_version",
        lambda x: (
            "Upload-Draft-Interop-Version is missing"
            if x.sent is None
            else f"Upload-Draft-Interop-Version {x.sent[:16]!r} is not one this server speaks"
        ),
        members=lambda x: {"supported-versions": sorted(VERSIONS)},
    ),
    UnsupportedContentType: Answer(
        "unsupported_media_type",
        f"An append's Content-Type must be {PARTIAL_UPLOAD}",
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    ),
    InvalidUploadHeader: Answer("invalid_header", lambda x: f"{x.header} {x.reason}"),
    e.OffsetMismatch: replace(
        SHARED[e.OffsetMismatch],
        type=MISMATCHING_OFFSET,
        members=lambda x: {"expected-offset": x.expected, "provided-offset": x.provided},
    ),
    e.UploadAlreadyComplete: Answer(
        "upload_complete", "The upload is complete", type=COMPLETED_UPLOAD
    ),
    CompletedUploadGone: Answer(
        "upload_complete",
        "The upload is complete",
        status.HTTP_410_GONE,
        COMPLETED_UPLOAD,
    ),
    e.RangeExceedsTotal: Answer(
        "inconsistent_length",
        lambda x: f"The request's bytes would pass the upload's length ({x.total} bytes)",
        type=INCONSISTENT_LENGTH,
    ),
    e.TotalMismatch: Answer(
        "inconsistent_length",
        lambda x: f"The upload's length is {x.expected}, not {x.provided}",
        type=INCONSISTENT_LENGTH,
    ),
    e.ChunkDigestMismatch: Answer(
        "digest_mismatch",
        lambda x: f"The {x.header} ({x.algorithm}) does not match the body; it was discarded",
    ),
    e.ChunkDigestUnverifiable: Answer(
        "digest_unverifiable",
        "The body was parsed before the upload view (a middleware read request.POST)",
    ),
    e.InvalidChunkDigest: Answer(
        "invalid_digest", lambda x: f"{x.header} is malformed or names an unsupported algorithm"
    ),
    e.ChunkDigestHeaderTooLarge: Answer(
        "invalid_digest",
        lambda x: f"Content-Digest is over {x.max_chars} characters or {x.max_members} members",
    ),
}


TITLES = {
    MISMATCHING_OFFSET: "Mismatching upload offset",
    COMPLETED_UPLOAD: "Upload is completed",
    INCONSISTENT_LENGTH: "Inconsistent upload length",
}


class Problem(APIException):
    """An RFC 9457 problem: ``type``, ``title``, ``status``, ``detail``, ``code`` (as in the
    native protocol's errors) and the members its type defines."""

    def __init__(
        self, status_code: int, code: str, detail: str, type: str | None = None, **members: Any
    ) -> None:
        super().__init__(detail, code)
        self.status_code = status_code
        self.code = code
        # ``about:blank``: the title is the status's reason phrase (RFC 9457 section 4.2.1).
        title = TITLES.get(type or "") or HTTPStatus(status_code).phrase
        self.body: dict[str, Any] = {
            "type": type or "about:blank",
            "title": title,
            "status": status_code,
            "detail": detail,
            "code": code,
            **members,
        }


def is_edge_error(exc: Exception) -> bool:
    return isinstance(
        exc,
        (
            e.UploadError,
            InvalidUploadHeader,
            UnsupportedContentType,
            UnsupportedInteropVersion,
            CompletedUploadGone,
        ),
    )


def to_problem(exc: Exception) -> Problem:
    """The problem details answering ``exc`` (a domain error or a header error)."""
    answer = edge_errors.answer_for(ANSWERS, type(exc), "IETF edge")
    detail = answer.detail_for(exc)
    return Problem(answer.status, answer.code, detail, type=answer.type, **answer.members(exc))


def from_api_exception(exc: APIException) -> Problem:
    """DRF's own errors (401, 403, 404, 405, 429, ...) as problem details."""
    detail = exc.detail
    text = str(detail) if not isinstance(detail, (dict, list)) else str(exc.default_detail)
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    return Problem(exc.status_code, code, text)
