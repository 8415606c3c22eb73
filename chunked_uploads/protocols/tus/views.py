"""``TusUploadViewSet``: tus 1.0.0 over the same core, model, stores, leases and hooks as the native
protocol.

Creation is ``POST`` on the list route (with ``creation-with-upload``, the first bytes go in it),
an upload's offset is its ``HEAD``, ``PATCH`` appends and ``DELETE`` terminates. The view parses the
tus headers into a ``ChunkRequest`` and calls ``chunks.receive()``, as the native view does; a
``PATCH`` asks the core for check-points (``DRF_CHUNKED_UPLOAD_CHECKPOINT_BYTES``) so that an
interrupted whole-file ``PATCH`` resumes near where it stopped. When the last byte arrives the
upload completes (``uploads.complete()``, the view's ``on_completion`` hook and the
``upload_completed`` signal). The hooks of ``ChunkedUploadViewSet`` (``model``, ``queryset``,
``user_field_name``, ``max_bytes``/``get_max_bytes``, ``on_completion``, DRF's authentication,
permissions and throttles) apply unchanged.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.urls import Resolver404, ResolverMatch, get_script_prefix, resolve
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from ... import chunks, concatenation, exceptions, uploads
from ...bodies import content_length
from ...chunk_digests import BodyDigests
from ...conf import conf
from ...models import AbstractChunkedUpload, Concatenation, UploadStatus
from ...ranges import ContentRange
from ..edge_views import HeaderProtocolViewSet
from . import headers as tus
from .errors import is_tus_error, to_api_exception
from .routers import DETAIL_ACTIONS, LIST_ACTIONS

METHOD_OVERRIDES = frozenset({"PATCH", "DELETE"})


class TusUploadViewSet(HeaderProtocolViewSet):
    """tus 1.0.0 uploads (see the tus page of the docs)."""

    protocol = "tus"
    logger_name = "chunked_uploads.tus"

    list_actions = LIST_ACTIONS
    detail_actions = DETAIL_ACTIONS

    # -- actions -----------------------------------------------------------------------------

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Create an upload (``creation``), with its first bytes if the body has some; a partial
        upload, or a final one made of partials (``concatenation``)."""
        meta = request.META
        concat = tus.upload_concat(meta, conf.max_concat_partials)
        if concat is not None and concat.final:
            return self.create_final(request, concat.urls)
        length = tus.upload_length(meta)
        raw_metadata = tus.header(meta, "Upload-Metadata") or ""
        metadata = tus.parse_metadata(raw_metadata)
        max_bytes = self.get_max_bytes(request)
        if length is not None and max_bytes is not None and length > max_bytes:
            raise exceptions.SizeLimitExceeded(max_bytes)
        body_length = self.body_length(request, required=False)
        byte_range = self.byte_range(0, body_length, length, max_bytes)
        target = chunks.NewUpload(
            self.get_model(),
            partial(self.get_owner_fields, request),
            user=getattr(request, "user", None),
            user_field=self.user_field_name,
            fields={
                "tus_metadata": raw_metadata,
                "concatenation": Concatenation.NONE if concat is None else Concatenation.PARTIAL,
            },
        )
        file_name = tus.metadata_filename(metadata)
        upload = self.receive(request, target, byte_range, max_bytes, file_name=file_name)
        upload = self.complete_if_done(upload, request)
        location = self.reverse_action("detail", args=[upload.pk])
        response_headers = {"Location": location, **tus.expires(upload)}
        if body_length:
            response_headers["Upload-Offset"] = str(upload.offset)
        return Response(status=status.HTTP_201_CREATED, headers=response_headers)

    def create_final(self, request: Request, urls: tuple[str, ...]) -> Response:
        """Create a final upload of the partial uploads ``urls`` names, complete at once: their
        bytes become its bytes (``concatenation.py``); the partials' bytes are deleted."""
        meta = request.META
        if any(
            tus.header(meta, name) is not None for name in ("Upload-Length", "Upload-Defer-Length")
        ):
            raise tus.InvalidTusHeader(
                "Upload-Length", "a final upload's length is its partial uploads' sum: send none"
            )
        if content_length(meta):
            raise tus.InvalidTusHeader("Upload-Concat", "a final upload takes no body")
        raw_metadata = tus.header(meta, "Upload-Metadata") or ""
        metadata = tus.parse_metadata(raw_metadata)
        upload = concatenation.concatenate(
            self.get_queryset(),
            [(url, self.partial_id(request, url)) for url in urls],
            self.get_owner_fields(request),
            filename=tus.metadata_filename(metadata),
            fields={"tus_metadata": raw_metadata},
            max_bytes=self.get_max_bytes(request),
            on_complete=partial(self.on_completion, request=request),
        )
        location = self.reverse_action("detail", args=[upload.pk])
        return Response(status=status.HTTP_201_CREATED, headers={"Location": location})

    def partial_id(self, request: Request, url: str) -> str:
        """The id of the upload at ``url``, absolute or a path, which must be an upload URL of
        this view on this host (a final upload takes no other server's or view's uploads)."""
        parts = urlsplit(url)
        host = (
            parts.scheme in ("http", "https") and parts.netloc.lower() == request.get_host().lower()
        )
        match = _resolve(parts.path) if not parts.query and not parts.fragment else None
        lookup = self.lookup_url_kwarg or self.lookup_field
        foreign = bool(parts.scheme or parts.netloc) and not host
        ours = match is not None and getattr(match.func, "cls", None) is type(self)
        if foreign or match is None or not ours or lookup not in match.kwargs:
            raise tus.InvalidTusHeader(
                "Upload-Concat", f"{url} is not an upload URL of this server"
            )
        return str(match.kwargs[lookup])

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The upload's offset, length, metadata and expiry (``HEAD``)."""
        upload = self.complete_if_done(self.get_object(), request)
        urls = [self.reverse_action("detail", args=[pk]) for pk in upload.concat_partials or ()]
        return Response(status=status.HTTP_200_OK, headers=tus.upload_state(upload, urls))

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Append the body at ``Upload-Offset`` (``PATCH``)."""
        if self.media_type(request) != tus.OFFSET_STREAM:
            raise tus.UnsupportedContentType()
        offset = tus.integer(request.META, "Upload-Offset")
        if offset is None:
            raise tus.InvalidTusHeader("Upload-Offset", "is required")
        upload = self.get_object()
        if upload.concatenation == Concatenation.FINAL:
            raise tus.FinalUploadPatched()
        total = self.declared_length(request, upload)
        max_bytes = self.get_max_bytes(request)
        length = self.body_length(request, required=True)
        byte_range = self.byte_range(offset, length, total, max_bytes)
        target = chunks.ExistingUpload(lambda: upload, self.user_field_name)
        upload = self.receive(request, target, byte_range, max_bytes)
        upload = self.complete_if_done(upload, request)
        response_headers = {"Upload-Offset": str(upload.offset), **tus.expires(upload)}
        return Response(status=status.HTTP_204_NO_CONTENT, headers=response_headers)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Terminate the upload: its record and bytes go (``termination``)."""
        self.perform_destroy(self.get_object())  # ``uploads.abort()``, the native hook
        return Response(status=status.HTTP_204_NO_CONTENT)

    def options(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        """The server's tus capabilities."""
        return Response(
            status=status.HTTP_204_NO_CONTENT,
            headers=tus.capabilities(self.get_max_bytes(request)),
        )

    # -- plumbing ----------------------------------------------------------------------------

    def complete_if_done(
        self, upload: AbstractChunkedUpload, request: Request
    ) -> AbstractChunkedUpload:
        """Complete an upload that holds all its bytes: hooks, signal and completed file.

        A ``HEAD`` does it too, for an upload whose completion failed after its last ``PATCH``
        (a hook raised): tus clients consider such an upload done, so its hooks must still run.
        """
        if upload.status != UploadStatus.UPLOADING or upload.size is None:
            return upload
        if upload.offset != upload.size:
            return upload
        return uploads.complete(
            upload, None, on_complete=partial(self.on_completion, request=request)
        )

    def byte_range(
        self, start: int, length: int, total: int | None, max_bytes: int | None
    ) -> ContentRange:
        """The bytes the request carries, ``[start, start + length)`` of ``total`` (``None``:
        deferred), refused from the headers alone if they would pass the length or the limit."""
        end = start + length
        if total is not None and end > total:
            raise exceptions.RangeExceedsTotal(total)
        if max_bytes is not None and end > max_bytes:
            raise exceptions.SizeLimitExceeded(max_bytes)
        return ContentRange(start, end - 1, total)

    def declared_length(self, request: Request, upload: AbstractChunkedUpload) -> int | None:
        """The upload's length: recorded, or declared by this ``PATCH`` (``Upload-Length``)."""
        declared = tus.integer(request.META, "Upload-Length")
        if declared is not None and upload.size is not None and declared != upload.size:
            raise exceptions.TotalMismatch(upload.size, declared)
        return upload.size if upload.size is not None else declared

    def body_length(self, request: Request, *, required: bool) -> int:
        """The body's length; a creation's body counts only as ``offset+octet-stream``."""
        length = content_length(request.META)
        if not required and self.media_type(request) != tus.OFFSET_STREAM:
            if length:
                raise tus.UnsupportedContentType()
            return 0
        if length is None and "HTTP_TRANSFER_ENCODING" in request.META:
            # A chunked body: the core needs the length to refuse bytes past Upload-Length.
            raise tus.InvalidTusHeader("Content-Length", "is required")
        return length or 0

    def body_digests(self, request: Request) -> BodyDigests | None:
        """The digest the body must match: ``Upload-Checksum`` (tus ``checksum``), if sent."""
        return tus.upload_checksum(request.META)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """Refuse a request of another tus version before anything else (``OPTIONS`` aside)."""
        if request.method != "OPTIONS":
            tus.check_version(request.META)
        super().initial(request, *args, **kwargs)

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        # Clients behind proxies that only pass GET and POST: tus's X-HTTP-Method-Override.
        override = str(request.META.get("HTTP_X_HTTP_METHOD_OVERRIDE", "")).upper()
        if request.method == "POST" and override in METHOD_OVERRIDES:
            request.method = override
        return super().dispatch(request, *args, **kwargs)

    def handle_exception(self, exc: Exception) -> Response:
        if exceptions.is_lock_conflict(exc):
            exc = exceptions.UploadBusy()
        if is_tus_error(exc):
            exc = to_api_exception(exc)
        response = super().handle_exception(exc)
        for name, value in getattr(exc, "headers", {}).items():
            response[name] = value
        return response

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Tus-Resumable"] = tus.TUS_VERSION
        return response


def _resolve(path: str) -> ResolverMatch | None:
    """The route of ``path`` (a URL's path, script prefix included), or ``None``."""
    prefix = get_script_prefix()
    if path.startswith(prefix):
        path = "/" + path[len(prefix) :]
    try:
        return resolve(path)
    except Resolver404:
        return None
