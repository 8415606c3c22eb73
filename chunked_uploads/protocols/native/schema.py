"""drf-spectacular support: the OpenAPI description of ``ChunkedUploadViewSet``.

Imported by ``ChunkedUploadsConfig.ready()`` only when drf-spectacular is installed, so the app never
needs it. An ``OpenApiViewExtension`` hands the schema generator a subclass of each upload view whose
``schema`` knows the protocol: ``@extend_schema_view`` cannot be used because it silently skips the
router-mapped action names (``partial_update`` is ``PUT`` here, ``complete`` and ``create_complete``
are not ``ModelViewSet`` actions), and the verb-derived operation ids of a custom router collide.

What the generated description guarantees (clients generated from it rely on it):

- stable operation ids ``uploads_create``, ``uploads_append``, ``uploads_complete``,
  ``uploads_create_complete``, ``uploads_list``, ``uploads_retrieve``, ``uploads_destroy`` (the
  prefix is the view's ``schema_operation_prefix``, ``"uploads"`` by default);
- the chunk as ``format: binary`` whatever ``COMPONENT_SPLIT_REQUEST`` says, in a multipart form
  (no url-encoded form beside it: openapi-python-client cannot send files through one) or as a raw
  ``application/octet-stream`` body, the request body marked required;
- the required ``Content-Range`` header of both ``PUT``\\ s, the checksum field named after
  ``DRF_CHUNKED_UPLOAD_CHECKSUM`` and the chunk field after the view's ``field_name``;
- every error status of the protocol, with the ``UploadError`` body.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.settings import api_settings

from ...conf import conf
from .views import IDEMPOTENCY_KEY_CHARS, MAX_IDEMPOTENCY_KEY

DEFAULT_PREFIX = "uploads"
# The protocol's action names (PROTOCOL.md); ``partial_update`` is the "append" of the protocol.
OPERATION_NAMES = {
    "create": "create",
    "partial_update": "append",
    "complete": "complete",
    "create_complete": "create_complete",
    "list": "list",
    "retrieve": "retrieve",
    "destroy": "destroy",
}
SUMMARIES = {
    "create": "Start an upload with its first chunk",
    "partial_update": "Append the next chunk",
    "complete": "Verify the whole file's checksum and finish the upload",
    "create_complete": "Upload a whole file and its checksum in one request",
    "list": "List the caller's uploads",
    "retrieve": "Get one upload; its offset tells where to resume",
    "destroy": "Abort an upload: remove the record and its bytes",
}
DESCRIPTIONS = {
    "create": "Send the file's first chunk (`Content-Range: bytes 0-END/TOTAL`) as a multipart"
    " form or a raw body. The response's `id` and `url` name the new upload; `offset` is the"
    " number of bytes stored.",
    "partial_update": "Send the chunk that starts at the upload's `offset`. A refused chunk"
    " changes nothing; after an interruption, retrieve the upload and resume at its `offset`.",
    "complete": "Send the whole file's checksum once every byte was acknowledged. A wrong"
    " checksum is refused and the upload stays resumable. The checksum may also be sent as a"
    " form field (multipart or url-encoded), as drf-chunked-upload clients do.",
    "create_complete": "Send a small file whole, with its checksum; on any error nothing is kept.",
    "list": "The caller's uploads, newest first.",
    "retrieve": "`offset` is the number of bytes stored: the next chunk starts there.",
    "destroy": "Removes the upload and its stored bytes.",
}
CHUNK_BODY_ACTIONS = frozenset({"create", "partial_update", "create_complete"})
# ``Idempotency-Key``: as ``views.idempotency_key()`` accepts it, bare or quoted.
_KEY = f"{IDEMPOTENCY_KEY_CHARS}{{1,{MAX_IDEMPOTENCY_KEY}}}"
IDEMPOTENCY_KEY_PATTERN = f'^(?:{_KEY}|"{_KEY}")$'
# ``Content-Range: bytes START-END/TOTAL``, END inclusive; ASCII digits as ranges.py accepts them.
CONTENT_RANGE_PATTERN = r"^bytes [0-9]+-[0-9]+/[0-9]+$"


@extend_schema_field(OpenApiTypes.BINARY)
class ChunkField(serializers.FileField):
    """A file part; always ``format: binary`` (a plain ``FileField`` is ``format: uri`` unless
    ``COMPONENT_SPLIT_REQUEST`` is on)."""


@extend_schema_field({"type": "string", "example": ""})
class FileNameField(serializers.CharField):
    """The optional ``filename`` form field, with an empty example: Swagger UI's "Try it out"
    fills a form field with its example (``"string"`` without one), which would name every
    upload made there ``string`` instead of the chosen file's name."""


class UploadErrorSerializer(serializers.Serializer[Any]):
    """Every error body: ``detail`` and ``code``, plus the extra keys some errors carry."""

    detail = serializers.CharField(help_text="Human-readable message; part of the wire contract.")
    code = serializers.CharField(
        help_text="Stable machine-readable code, e.g. `offset_mismatch`, `upload_expired`,"
        " `upload_busy`, `checksum_mismatch`, `not_found`, `not_authenticated`."
    )
    expected_offset = serializers.IntegerField(
        required=False, help_text="`offset_mismatch`: where the next chunk must start."
    )
    provided_offset = serializers.IntegerField(
        required=False, help_text="`offset_mismatch`: where the refused chunk started."
    )
    expected_total = serializers.IntegerField(
        required=False, help_text="`total_mismatch`: the total the upload was started with."
    )
    provided_total = serializers.IntegerField(
        required=False, help_text="`total_mismatch`: the total the refused chunk reported."
    )
    limit = serializers.IntegerField(
        required=False, help_text="`size_limit_exceeded`, `chunk_too_large`: the limit in bytes."
    )
    offset = serializers.IntegerField(
        required=False, help_text="`upload_incomplete`: bytes received so far."
    )
    size = serializers.IntegerField(
        required=False, help_text="`upload_incomplete`: the file's declared total size."
    )
    checksum_algorithm = serializers.CharField(
        required=False,
        help_text="`checksum_required`: the algorithm, and name of the field, the server expects.",
    )
    ranges = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        required=False,
        help_text="`range_overlap`: the stored bytes as `[start, end]` pairs (inclusive).",
    )
    missing = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        required=False,
        help_text="`ranges_missing`: the missing bytes as `[start, end]` pairs (inclusive).",
    )

    class Meta:
        ref_name = "UploadError"


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(UploadErrorSerializer, description=description)


AUTH_ERRORS = {
    401: _error("Not authenticated (when the view's authentication requires it)."),
    403: _error("Not allowed by the view's permissions."),
}
NOT_FOUND = {404: _error("No such upload, or one the caller may not see.")}
BUSY = {409: _error("`upload_busy`: another request is writing to this upload; retry later.")}
KEY_REUSED = {
    422: _error(
        "`idempotency_key_reused`: the `Idempotency-Key` made an upload for another request"
        " (another total or mode)."
    )
}
GONE = {410: _error("`upload_expired`: the upload expired before it was completed.")}
CHUNK_ERRORS = _error(
    "The chunk was refused: no chunk, a malformed or inconsistent `Content-Range`, a size over the"
    " limit, a wrong offset (with `expected_offset` and `provided_offset`) or total, bytes"
    " already stored in parallel mode (`range_overlap`, with `ranges`), an upload already"
    " complete. The stored bytes are unchanged."
)
COMPLETION_ERRORS = _error(
    "Checksum missing or wrong (`checksum_required`, `checksum_mismatch`: the upload stays"
    " resumable), bytes missing (`upload_incomplete`, with `offset` and `size`; in parallel"
    " mode `ranges_missing`, with `missing`), upload already complete."
)


@functools.lru_cache(maxsize=32)
def request_serializers(field_name: str, checksum: str | None) -> dict[str, Any]:
    """The request bodies, one class per distinct configuration: the generator warns when two
    different classes share a component name."""
    checksum_help = f"Hex {checksum} digest of the whole file (case-insensitive)."
    chunk_fields: dict[str, serializers.Field[Any, Any, Any, Any]] = {
        field_name: ChunkField(help_text="The chunk's bytes."),
        "filename": FileNameField(
            required=False,
            allow_blank=True,  # blank: the part's file name is used
            help_text="The file's name, such as `video.mp4` (default: the part's file name).",
        ),
    }
    whole_fields = {**chunk_fields, field_name: ChunkField(help_text="The whole file.")}
    completion_fields: dict[str, serializers.Field[Any, Any, Any, Any]] = {}
    if checksum is not None:
        # The query parameter of the same name is required (and read for a form too); a form
        # field is also accepted, as drf-chunked-upload clients send it.
        whole_fields[checksum] = serializers.CharField(
            max_length=128,
            required=False,
            help_text=checksum_help + " Also accepted as the query parameter.",
        )
        completion_fields[checksum] = serializers.CharField(max_length=128, help_text=checksum_help)
    return {
        "chunk": inline_serializer("Chunk", fields=chunk_fields),
        "whole": inline_serializer("WholeFile", fields=whole_fields),
        "completion": inline_serializer("Completion", fields=completion_fields),
    }


class ChunkedUploadSchema(AutoSchema):
    """``AutoSchema`` for the upload actions, keyed on the protocol's action names."""

    @property
    def action(self) -> str:
        return str(getattr(self.view, "action", ""))

    def _checksum(self) -> str | None:
        return conf.checksum if getattr(self.view, "do_checksum_check", True) else None

    def _serializers(self) -> dict[str, Any]:
        return request_serializers(getattr(self.view, "field_name", "file"), self._checksum())

    def get_operation_id(self) -> str:
        name = OPERATION_NAMES.get(self.action)
        if name is None:  # an extra @action of a subclass: leave it to drf-spectacular
            return str(super().get_operation_id())
        prefix = getattr(self.view, "schema_operation_prefix", DEFAULT_PREFIX)
        return f"{prefix}_{name}"

    def get_tags(self) -> list[str]:
        prefix = getattr(self.view, "schema_operation_prefix", DEFAULT_PREFIX)
        return [prefix] if self.action in OPERATION_NAMES else list(super().get_tags())

    def get_summary(self) -> str | None:
        return SUMMARIES.get(self.action) or super().get_summary()

    def get_description(self) -> str:  # type: ignore[override]  # drf-spectacular's signature
        return DESCRIPTIONS.get(self.action) or str(super().get_description())

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        identifier = self._id_parameter_name()
        if identifier is not None:
            parameters.append(upload_id_parameter(identifier))
        if self.action in ("create", "partial_update"):
            parameters.append(content_range_parameter())
        if self.action == "create":
            parameters.append(upload_mode_parameter())
        if self.action in ("create", "create_complete"):
            parameters.append(idempotency_key_parameter())
        if self.action in CHUNK_BODY_ACTIONS:
            parameters.append(content_disposition_parameter())
        checksum = self._checksum()
        if self.action == "create_complete" and checksum is not None:
            parameters.append(checksum_query_parameter(checksum))
        return parameters

    def _id_parameter_name(self) -> str | None:
        """The name of the detail route's id when it is the upload's UUID primary key."""
        view = self.view
        if not getattr(view, "detail", False) or self.action not in OPERATION_NAMES:
            return None
        field = getattr(view, "lookup_field", "pk")
        if getattr(view, "lookup_url_kwarg", None) not in (None, field) or field not in (
            "pk",
            "id",
        ):
            return None  # looked up by something else: leave it to drf-spectacular
        return "id" if field == "id" or api_settings.SCHEMA_COERCE_PATH_PK else "pk"

    def get_request_serializer(self) -> Any:
        bodies = self._serializers()
        if self.action in ("create", "partial_update"):
            return {
                "multipart/form-data": bodies["chunk"],
                "application/octet-stream": OpenApiTypes.BINARY,
            }
        if self.action == "create_complete":
            return {
                "multipart/form-data": bodies["whole"],
                "application/octet-stream": OpenApiTypes.BINARY,
            }
        if self.action == "complete":
            if self._checksum() is None:
                return None
            # JSON only, though forms are accepted too: generators send one model offered under
            # two media types as both (openapi-python-client 0.29 sends the JSON as multipart).
            return {"application/json": bodies["completion"]}
        return super().get_request_serializer()

    def get_response_serializers(self) -> Any:
        default = super().get_response_serializers()
        per_action: dict[str, dict[int, Any]] = {
            "create": {200: default, 400: CHUNK_ERRORS, **AUTH_ERRORS, **BUSY, **KEY_REUSED},
            "partial_update": {
                200: default,
                400: CHUNK_ERRORS,
                **AUTH_ERRORS,
                **NOT_FOUND,
                **BUSY,
                **GONE,
            },
            "complete": {
                200: default,
                400: COMPLETION_ERRORS,
                **AUTH_ERRORS,
                **NOT_FOUND,
                **BUSY,
                **GONE,
                415: _error("The body is neither JSON nor a form."),
            },
            "create_complete": {
                200: default,
                400: _error("The file or its checksum was refused; nothing is kept."),
                **AUTH_ERRORS,
                **BUSY,
                **KEY_REUSED,
            },
            "list": {
                200: default,
                **AUTH_ERRORS,
                404: _error(
                    "`not_found`: a page past the last one, or a `page` or `page_size` that is"
                    " not a positive integer."
                ),
            },
            "retrieve": {200: default, **AUTH_ERRORS, **NOT_FOUND},
            "destroy": {204: None, **AUTH_ERRORS, **NOT_FOUND, **BUSY},
        }
        return per_action.get(self.action, default)

    def _get_request_body(self, direction: str = "request") -> Any:
        body = super()._get_request_body(direction)  # type: ignore[no-untyped-call]
        # drf-spectacular marks a body with a raw binary alternative optional; a chunk is not.
        if body is not None and (self.action in CHUNK_BODY_ACTIONS or self.action == "complete"):
            body["required"] = True
        return body


def upload_id_parameter(name: str) -> OpenApiParameter:
    # The view's lookup pattern is looser than a UUID so that a malformed id gets the API's JSON
    # 404 instead of Django's HTML page; the id itself is always a UUID.
    return OpenApiParameter(
        name,
        OpenApiTypes.UUID,
        OpenApiParameter.PATH,
        description="A UUID string identifying this chunked upload.",
    )


def content_range_parameter() -> OpenApiParameter:
    return OpenApiParameter(
        "Content-Range",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=True,
        pattern=CONTENT_RANGE_PATTERN,
        description="The chunk's place in the file: `bytes START-END/TOTAL`, END inclusive,"
        " TOTAL the whole file's size. START must equal the upload's `offset` (in parallel mode:"
        " any START whose bytes are not stored yet).",
    )


def upload_mode_parameter() -> OpenApiParameter:
    return OpenApiParameter(
        "Upload-Mode",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        enum=["sequential", "parallel"],
        description="`parallel`: later chunks may be sent at any offset, in any order, over"
        " several connections (the upload's `ranges` say which bytes are stored; a chunk over"
        " stored bytes is refused with `range_overlap`). Default: `sequential`.",
    )


def idempotency_key_parameter() -> OpenApiParameter:
    return OpenApiParameter(
        "Idempotency-Key",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="A key the client makes up for this new upload (a random UUID, say), bare or"
        " quoted. Sent again with the same request (its answer lost), the request gets the"
        " upload the first one made (a first chunk is not stored twice, a whole file not"
        " completed twice); `409 upload_busy` while the first one is still being written;"
        " `422 idempotency_key_reused` with another total or mode.",
    )


def content_disposition_parameter() -> OpenApiParameter:
    return OpenApiParameter(
        "Content-Disposition",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description='With an `application/octet-stream` body: `attachment; filename="..."`'
        " names the file (default: the upload's id).",
    )


def checksum_query_parameter(checksum: str) -> OpenApiParameter:
    # Required: OpenAPI cannot make a parameter depend on the body's media type, and the view
    # reads the query for both bodies, so a request that carries it here is always complete.
    return OpenApiParameter(
        checksum,
        OpenApiTypes.STR,
        OpenApiParameter.QUERY,
        required=True,
        description=f"Hex {checksum} digest of the whole file (case-insensitive). The server also"
        " takes it from a multipart form's field of the same name, as drf-chunked-upload clients"
        " send it.",
    )


class UploadViewExtension(OpenApiViewExtension):  # type: ignore[no-untyped-call]
    """Describe every view of ``target_class`` (and subclass) with ``schema_class``; a subclass
    that chose its own schema class keeps it. Each protocol's extension names both (this base
    names no target: drf-spectacular never matches it)."""

    match_subclasses = True
    schema_class: ClassVar[type[AutoSchema]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)  # type: ignore[no-untyped-call]  # registers cls

    def view_replacement(self) -> type[Any]:
        view: type[Any] = self.target
        if isinstance(view.__dict__.get("schema"), AutoSchema):
            return view  # a subclass chose its own schema class: respect it
        return type(view.__name__, (view,), {"schema": self.schema_class()})


class ChunkedUploadViewSetExtension(UploadViewExtension):
    """Describe every ``ChunkedUploadViewSet`` (and subclass) with ``ChunkedUploadSchema``."""

    target_class = "chunked_uploads.protocols.native.views.ChunkedUploadViewSet"
    schema_class = ChunkedUploadSchema
