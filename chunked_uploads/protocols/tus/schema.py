"""drf-spectacular support: the OpenAPI description of ``TusUploadViewSet``.

Imported by ``ChunkedUploadsConfig.ready()`` only when drf-spectacular is installed. tus is a
protocol of headers: every operation documents the request headers it reads (``Tus-Resumable``,
``Upload-Length``, ``Upload-Offset``, ...), the response headers it sets, the raw
``application/offset+octet-stream`` bodies, and every status the edge answers with
(``protocols/tus/errors.py``), with the same ``UploadError`` body as the native protocol. Operation
ids are ``tus_create``, ``tus_offset``, ``tus_append`` and ``tus_terminate`` (the prefix is the
view's ``schema_operation_prefix``, ``"tus"`` by default). ``OPTIONS`` is not described: OpenAPI
generators leave it out.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse

from ..edge_schema import EdgeActionSchema, header, response_header
from ..native.schema import UploadErrorSerializer, UploadViewExtension
from .headers import OFFSET_STREAM, TUS_VERSION

DEFAULT_PREFIX = "tus"
OPERATION_NAMES = {
    "create": "create",
    "retrieve": "offset",
    "partial_update": "append",
    "destroy": "terminate",
}
SUMMARIES = {
    "create": "Create an upload (tus creation), optionally with its first bytes",
    "retrieve": "The upload's offset, length and metadata (tus HEAD; GET answers the same)",
    "partial_update": "Append bytes at Upload-Offset",
    "destroy": "Terminate the upload: remove its record and bytes",
}
DIGITS = r"^[0-9]+$"


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(UploadErrorSerializer, description=description)


COMMON = {
    401: _error("Not authenticated (when the view's authentication requires it)."),
    403: _error("Not allowed by the view's permissions, or an anonymous caller (`user_required`)."),
    412: _error("`unsupported_version`: `Tus-Resumable` is missing or not 1.0.0 (`Tus-Version`)."),
}
NOT_FOUND = {404: _error("No such upload, or one the caller may not see.")}
GONE = {410: _error("`upload_expired`, or the stored bytes are missing.")}
BUSY = {423: _error("`upload_busy`: another request is writing to this upload; retry.")}
TOO_LARGE = {
    413: _error("Over `Tus-Max-Size`, or bytes past `Upload-Length`; nothing is kept."),
}
WRONG_TYPE = {415: _error(f"The body is not `{OFFSET_STREAM}`.")}


CHECKSUM = header(
    "Upload-Checksum",
    "`<algorithm> <base64 digest>` of this request's body; algorithms sha1, md5, sha256, sha512.",
)
EXPIRES = "When the upload expires (HTTP date), while it is incomplete."
ACTION_PARAMETERS: dict[str, list[Any]] = {
    "create": [
        header("Upload-Length", "The file's size in bytes.", pattern=DIGITS),
        header("Upload-Defer-Length", "`1`: the size is sent later.", enum=["1"]),
        header("Upload-Metadata", "Comma-separated `key base64value` pairs, kept as sent."),
        header(
            "Upload-Concat",
            "`partial`: a piece of a file to come (tus concatenation); `final;<url> <url> ...`: "
            "the file made of those complete partial uploads (their URLs, absolute or paths, "
            "separated by one space, in order; no `Upload-Length` and no body).",
            pattern=r"^(partial|final;\S+( \S+)*)$",
        ),
        CHECKSUM,
        response_header("Location", [201], "The new upload's URL."),
        response_header("Upload-Offset", [201], "Bytes stored, with a body."),
        response_header("Upload-Expires", [201], EXPIRES),
        response_header("Tus-Version", [412], "The supported version, `1.0.0`."),
        response_header("Tus-Max-Size", [413], "The size limit in bytes."),
    ],
    "retrieve": [
        response_header("Upload-Offset", [200], "Bytes stored: the next PATCH starts there."),
        response_header("Upload-Length", [200], "The file's size, once known."),
        response_header("Upload-Defer-Length", [200], "`1` while the size is not known."),
        response_header("Upload-Metadata", [200], "The metadata as sent at creation."),
        response_header("Upload-Expires", [200], EXPIRES),
        response_header("Repr-Digest", [200], "RFC 9530 digest of a completed upload."),
        response_header(
            "Upload-Concat", [200], "`partial`, or `final;` and the URLs of its partial uploads."
        ),
    ],
    "partial_update": [
        header(
            "Upload-Offset",
            "Where the body starts; must be the upload's offset.",
            required=True,
            pattern=DIGITS,
        ),
        header(
            "Upload-Length",
            "The file's size, for an upload created with a deferred one.",
            pattern=DIGITS,
        ),
        CHECKSUM,
        response_header("Upload-Offset", [204], "Bytes stored now."),
        response_header("Upload-Expires", [204], EXPIRES),
    ],
}


class TusUploadSchema(EdgeActionSchema):
    """``AutoSchema`` for the tus actions."""

    default_prefix = DEFAULT_PREFIX
    operation_names = OPERATION_NAMES
    summaries = SUMMARIES
    version_header = header("Tus-Resumable", "The tus version.", required=True, enum=[TUS_VERSION])
    action_parameters = ACTION_PARAMETERS
    optional_body_actions = ("create",)  # creation-with-upload: the body is optional

    def get_description(self) -> str:  # type: ignore[override]  # drf-spectacular's signature
        return "tus 1.0.0; see the tus page of the documentation." if self.action else ""

    def get_request_serializer(self) -> Any:
        if self.action in ("create", "partial_update"):
            return {OFFSET_STREAM: OpenApiTypes.BINARY}
        return None

    def get_response_serializers(self) -> Any:
        per_action: dict[str, dict[int, Any]] = {
            "create": {
                201: OpenApiResponse(
                    description="Created; `Location` is the upload's URL. A final upload "
                    "(`Upload-Concat: final;...`) is complete at once."
                ),
                400: _error(
                    "Missing, malformed or contradicting headers (`invalid_header`), or partial "
                    "uploads a final upload cannot take (`concatenation_refused`: not partial, "
                    "unfinished, expired, taken by another final upload); nothing was created."
                ),
                **COMMON,
                404: _error(
                    "`partial_upload_not_found`: a final upload names an unknown partial upload, "
                    "or one the caller may not see."
                ),
                **TOO_LARGE,
                **WRONG_TYPE,
                460: _error("`checksum_mismatch`: the body's `Upload-Checksum` does not match."),
            },
            "retrieve": {
                200: OpenApiResponse(description="The state is in the headers."),
                **COMMON,
                **NOT_FOUND,
                **GONE,
                **BUSY,
            },
            "partial_update": {
                204: OpenApiResponse(description="Stored; `Upload-Offset` is the new offset."),
                400: _error("Missing or malformed `Upload-Offset`, a bad `Upload-Checksum`."),
                409: _error("`offset_mismatch`: `Upload-Offset` is not the upload's offset."),
                **COMMON,
                403: _error(
                    "`final_upload`: a final upload takes no `PATCH`; or not allowed by the "
                    "view's permissions, or an anonymous caller (`user_required`)."
                ),
                **NOT_FOUND,
                **GONE,
                **BUSY,
                **TOO_LARGE,
                **WRONG_TYPE,
                460: _error("`checksum_mismatch`: the body was discarded, the offset unchanged."),
            },
            "destroy": {204: None, **COMMON, **NOT_FOUND, **BUSY},
        }
        return per_action.get(self.action, super().get_response_serializers())


class TusUploadViewSetExtension(UploadViewExtension):
    """Describe every ``TusUploadViewSet`` (and subclass) with ``TusUploadSchema``; it comes
    before the native extension, which matches it too (a subclass of ``ChunkedUploadViewSet``)."""

    target_class = "chunked_uploads.protocols.tus.views.TusUploadViewSet"
    schema_class = TusUploadSchema
    priority = 1
