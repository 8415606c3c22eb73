"""drf-spectacular support: the OpenAPI description of ``ResumableUploadViewSet``.

Imported by ``ChunkedUploadsConfig.ready()`` only when drf-spectacular is installed. The draft is a
protocol of headers: every operation documents the request headers it reads
(``Upload-Draft-Interop-Version``, ``Upload-Complete``, ``Upload-Offset``, ...), the response
headers it sets, the raw bodies and every status the edge answers with (``errors.py``), with an RFC
9457 problem body. Operation ids are ``resumable_create``, ``resumable_offset``,
``resumable_append`` and ``resumable_cancel`` (the prefix is the view's
``schema_operation_prefix``). ``OPTIONS`` and the 104 interim response are not described: OpenAPI
has no place for them.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from ..edge_schema import EdgeActionSchema, header, response_header
from ..native.schema import UploadViewExtension
from ..native.serializers import ChunkedUploadSerializer
from .errors import PROBLEM_JSON
from .headers import PARTIAL_UPLOAD, VERSION_HEADER, VERSIONS

DEFAULT_PREFIX = "resumable"
OPERATION_NAMES = {
    "create": "create",
    "retrieve": "offset",
    "partial_update": "append",
    "destroy": "cancel",
}
SUMMARIES = {
    "create": "Create an upload with its first bytes (Upload-Complete: ?0) or all of them (?1)",
    "retrieve": "The upload's offset and state (HEAD; GET answers the same)",
    "partial_update": "Append bytes at Upload-Offset; Upload-Complete: ?1 completes the upload",
    "destroy": "Cancel the upload: remove its record and bytes",
}
BOOLEAN = r"^\?[01]$"
DIGITS = r"^[0-9]{1,15}$"

Problem = inline_serializer(
    "UploadProblem",
    {
        "type": serializers.CharField(),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(),
        "detail": serializers.CharField(),
        "code": serializers.CharField(),
    },
)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(Problem, description=description)


def _problems(responses: dict[int, Any]) -> dict[Any, Any]:
    """Error statuses answered with ``application/problem+json`` (RFC 9457)."""
    return {(code, PROBLEM_JSON) if code >= 400 else code: r for code, r in responses.items()}


COMMON = {
    400: _error("Malformed or contradicting headers, or an unknown interop version."),
    401: _error("Not authenticated (when the view's authentication requires it)."),
    403: _error("Not allowed by the view's permissions, or over the unfinished-uploads quotas."),
}
VERSION_ERROR = {
    400: _error("`unsupported_interop_version`: a version this server does not speak.")
}
NOT_FOUND = {404: _error("No such upload, or one the caller may not see.")}
GONE = {410: _error("`upload_expired`, or the stored bytes are missing.")}
BUSY = {423: _error("`upload_busy`: another request is writing to this upload; retry.")}
TOO_LARGE = {413: _error("Over `Upload-Limit`'s `max-size`; nothing is kept.")}
STATE = "Upload-Offset, Upload-Complete, Upload-Length and Upload-Limit describe the upload."


COMPLETE = header(
    "Upload-Complete",
    "`?1`: this request carries the upload's last byte (interop 3: `Upload-Incomplete`, inverted).",
    pattern=BOOLEAN,
)
LENGTH = header("Upload-Length", "The file's size in bytes, if known.", pattern=DIGITS)
DIGEST = header("Content-Digest", "RFC 9530 digest of this request's body.")
STATE_HEADERS = [
    ("Upload-Offset", "Bytes stored: the next append starts there."),
    ("Upload-Complete", "`?1` once the upload is complete."),
    ("Upload-Length", "The file's size, once known."),
    (
        "Upload-Limit",
        "`max-size` and `max-age` (seconds until the upload expires; `expires` in interop 6).",
    ),
    ("Repr-Digest", "RFC 9530 digest of a completed upload."),
]


def _state(codes: list[int]) -> list[OpenApiParameter]:
    return [response_header(name, codes, text) for name, text in STATE_HEADERS]


ACTION_PARAMETERS: dict[str, list[Any]] = {
    "create": [
        COMPLETE,
        LENGTH,
        DIGEST,
        response_header("Location", [201], "The new upload's URL."),
        *_state([201]),
    ],
    "retrieve": _state([204]),
    "partial_update": [
        COMPLETE,
        LENGTH,
        DIGEST,
        header("Upload-Offset", "Where the body starts.", required=True, pattern=DIGITS),
        *_state([200, 201, 204]),
    ],
}


class ResumableUploadSchema(EdgeActionSchema):
    """``AutoSchema`` for the draft's actions."""

    default_prefix = DEFAULT_PREFIX
    operation_names = OPERATION_NAMES
    summaries = SUMMARIES
    version_header = header(
        VERSION_HEADER,
        "The draft's interop version the client speaks.",
        required=True,
        enum=[str(number) for number in sorted(VERSIONS)],
    )
    action_parameters = ACTION_PARAMETERS
    # An empty body is a valid creation or completion.
    optional_body_actions = ("create", "partial_update")

    def get_description(self) -> str:  # type: ignore[override]  # drf-spectacular's signature
        return "IETF resumable uploads; see the IETF page of the documentation."

    def get_request_serializer(self) -> Any:
        if self.action == "create":
            return {"application/octet-stream": OpenApiTypes.BINARY}
        if self.action == "partial_update":
            return {PARTIAL_UPLOAD: OpenApiTypes.BINARY}
        return None

    def get_response_serializers(self) -> Any:
        per_action: dict[str, dict[int, Any]] = {
            "create": {
                201: OpenApiResponse(
                    ChunkedUploadSerializer,
                    description="Created; `Location` is the upload's URL; the body is the "
                    "upload (with `Upload-Complete: ?1`, completed).",
                ),
                **COMMON,
                **TOO_LARGE,
            },
            "retrieve": {
                204: OpenApiResponse(description=STATE),
                **VERSION_ERROR,
                **NOT_FOUND,
                **GONE,
            },
            "partial_update": {
                200: OpenApiResponse(
                    ChunkedUploadSerializer, description="Completed: the completed upload."
                ),
                201: OpenApiResponse(
                    description="Stored, in interop 3, 5 and 6 (drafts -01 to -05 require 201); "
                    + STATE
                ),
                204: OpenApiResponse(description="Stored; " + STATE),
                409: _error("`mismatching-upload-offset`: `expected-offset`, `provided-offset`."),
                **COMMON,
                **NOT_FOUND,
                **GONE,
                **BUSY,
                **TOO_LARGE,
                415: _error(f"The body is not `{PARTIAL_UPLOAD}` (interop 6 and later)."),
            },
            "destroy": {204: None, **VERSION_ERROR, **NOT_FOUND, **BUSY},
        }
        if self.action in per_action:
            return _problems(per_action[self.action])
        return super().get_response_serializers()


class ResumableUploadViewSetExtension(UploadViewExtension):
    """Describe every ``ResumableUploadViewSet`` (and subclass) with ``ResumableUploadSchema``;
    it comes before the native extension, which matches it too."""

    target_class = "chunked_uploads.protocols.ietf.views.ResumableUploadViewSet"
    schema_class = ResumableUploadSchema
    priority = 1
