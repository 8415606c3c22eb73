"""``ResumableUploadViewSet``: the IETF resumable-upload draft over the same core, model, stores,
leases and hooks as the native protocol and tus.

Creation is ``POST`` on the list route with the file's first bytes (``Upload-Complete: ?0``) or all
of them (``?1``); an upload's offset is its ``HEAD``; ``PATCH`` appends; ``DELETE`` cancels;
``OPTIONS`` tells the limits. The view parses the draft's structured-field headers in the client's
interop version (``headers.py``) into a ``ChunkRequest`` and calls ``chunks.receive()``, with
check-points (``DRF_CHUNKED_UPLOAD_CHECKPOINT_BYTES``) so that an interrupted request resumes near
where it stopped. Once the upload exists, before the body is read, it sends the
``104 Upload Resumption Supported`` interim response with the upload's URL where the server allows
(``bodies/interim.py``). The request that says ``Upload-Complete: ?1`` completes the upload
(``uploads.complete()``, the view's ``on_completion`` hook and the ``upload_completed`` signal) and
is answered as a completed upload of the native protocol is. Errors are RFC 9457 problem details
(``errors.py``).
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from ... import chunks, exceptions, uploads
from ...bodies import content_length
from ...bodies.interim import send_interim
from ...models import AbstractChunkedUpload, UploadStatus
from ...ranges import MAX_TOTAL, ContentRange
from ..edge_views import HeaderProtocolViewSet
from ..native.views import CompletionHook
from . import headers as ietf
from .errors import (
    PROBLEM_JSON,
    CompletedUploadGone,
    Problem,
    from_api_exception,
    is_edge_error,
    to_problem,
)
from .routers import DETAIL_ACTIONS, LIST_ACTIONS

UPLOAD_RESUMPTION_SUPPORTED = 104


class ResumableUploadViewSet(HeaderProtocolViewSet):
    """Resumable uploads of the IETF draft (see the IETF page of the docs)."""

    protocol = "ietf"
    logger_name = "chunked_uploads.ietf"
    interop: ietf.InteropVersion = ietf.LATEST

    list_actions = LIST_ACTIONS
    detail_actions = DETAIL_ACTIONS

    # -- actions -----------------------------------------------------------------------------

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Create an upload with the body's bytes; complete it too with ``Upload-Complete: ?1``."""
        meta = request.META
        complete = ietf.complete(meta, self.interop)
        start = ietf.integer(meta, "Upload-Offset", self.interop)
        if start not in (None, 0):
            raise exceptions.OffsetMismatch(0, start)
        length = self.body_length(request)
        declared = ietf.integer(meta, "Upload-Length", self.interop)
        total = self.total(declared, None, 0, length, complete)
        max_bytes = self.get_max_bytes(request)
        byte_range = self.byte_range(0, length, total, max_bytes)
        upload_id = uuid.uuid4()  # known before the row exists: the 104 names it
        location = self.reverse_action("detail", args=[upload_id])
        target = chunks.NewUpload(
            self.get_model(),
            partial(self.get_owner_fields, request),
            user=getattr(request, "user", None),
            user_field=self.user_field_name,
            fields={"id": upload_id},
        )
        # The 104 tells the client the upload's URL: the upload then outlives a cut request.
        announce = partial(self.announce_resumption, request, location)
        upload = self.receive(request, target, byte_range, max_bytes, on_begin=announce)
        if complete or self.has_all_bytes(upload):
            response = self.complete_upload(upload, request)
            if response.status_code == status.HTTP_200_OK:
                response.status_code = status.HTTP_201_CREATED
        else:
            response = Response(self.get_serializer(upload).data, status=status.HTTP_201_CREATED)
        return self.describe(response, upload, max_bytes, Location=location)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The upload's offset, completeness, length and limits (``HEAD``)."""
        ietf.refuse_state_headers(request.META, self.interop, "HEAD")
        upload = self.get_object()
        if upload.expired:  # no longer active: gone, as for an append (not an offset to resume)
            raise exceptions.UploadExpired()
        return self.describe(
            Response(status=status.HTTP_204_NO_CONTENT), upload, self.get_max_bytes(request)
        )

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Append the body at ``Upload-Offset`` (``PATCH``); ``?1`` completes the upload."""
        meta = request.META
        if self.interop.partial_upload_type and self.media_type(request) != ietf.PARTIAL_UPLOAD:
            raise ietf.UnsupportedContentType()
        offset = ietf.offset(meta, self.interop)
        complete = ietf.complete(meta, self.interop, self.interop.append_complete_default)
        declared = ietf.integer(meta, "Upload-Length", self.interop)
        length = self.body_length(request)
        upload = self.get_object()
        if complete and not length and self.is_completed_at(upload, offset):
            return self.describe(self.completed_response(upload, request), upload, None)
        self.check_writable(upload, length)
        if offset != upload.offset:  # before the lengths: the client must ask again first
            raise exceptions.OffsetMismatch(upload.offset, offset)
        total = self.total(declared, upload.size, offset, length, complete)
        max_bytes = self.get_max_bytes(request)
        byte_range = self.byte_range(offset, length, total, max_bytes)
        uploads.end_stalled_writer(upload)  # the client gave up on any earlier request
        upload = self.receive(
            request,
            chunks.ExistingUpload(lambda: upload, self.user_field_name),
            byte_range,
            max_bytes,
        )
        if complete or self.has_all_bytes(upload):
            response = self.complete_upload(upload, request)
        else:
            response = Response(status=self.interop.stored_status)
        return self.describe(response, upload, max_bytes)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Cancel the upload: its record and bytes go (a request still writing it ends)."""
        ietf.refuse_state_headers(request.META, self.interop, "DELETE")
        upload = self.get_object()
        uploads.end_stalled_writer(upload)
        self.perform_destroy(upload)  # ``uploads.abort()``, the native hook
        return Response(status=status.HTTP_204_NO_CONTENT)

    def options(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        """The server's limits, and that it takes ``application/partial-upload`` appends."""
        limit = ietf.limits(self.get_max_bytes(request), self.interop)
        return Response(
            status=status.HTTP_204_NO_CONTENT,
            headers={"Upload-Limit": limit, "Accept-Patch": ietf.PARTIAL_UPLOAD},
        )

    # -- plumbing ----------------------------------------------------------------------------

    def announce_resumption(
        self, request: Request, location: str, upload: AbstractChunkedUpload
    ) -> bool:
        """Send ``104 Upload Resumption Supported`` with the upload's URL, where the server can;
        whether it was sent (the client then knows the URL: the upload outlives the request)."""
        headers = {"Location": location, ietf.VERSION_HEADER: str(self.interop.number)}
        if self.interop.lengths_and_limits:
            headers["Upload-Limit"] = ietf.limits(self.get_max_bytes(request), self.interop, upload)
        return send_interim(
            request._request, UPLOAD_RESUMPTION_SUPPORTED, "Upload Resumption Supported", headers
        )

    def complete_upload(self, upload: AbstractChunkedUpload, request: Request) -> Response:
        """Complete the upload (hooks, signal, completed file) and answer as the native
        protocol's completion does: the serialized upload, or the ``on_completion`` response."""
        hook = CompletionHook(self, request)
        upload = uploads.complete(upload, None, on_complete=hook)
        return hook.response(upload)

    def has_all_bytes(self, upload: AbstractChunkedUpload) -> bool:
        """An upload whose declared length arrived is complete even if the request said ``?0``:
        tus-js-client sends its last chunk with ``?0`` when its source could not tell it was the
        last, and then considers the upload done (tusd completes such uploads too)."""
        return upload.size is not None and upload.offset == upload.size

    def check_writable(self, upload: AbstractChunkedUpload, length: int) -> None:
        """Refuse an expired or completed upload; from draft -10 on (interop 8) an append to a
        completed upload is an inconsistent length if it has content, else ``410`` (section
        "Upload Append", server behavior)."""
        try:
            uploads.check_writable(upload)
        except exceptions.UploadAlreadyComplete:
            if not self.interop.completed_append_gone:
                raise
            if length:
                raise exceptions.RangeExceedsTotal(upload.offset) from None
            raise CompletedUploadGone() from None

    def is_completed_at(self, upload: AbstractChunkedUpload, offset: int) -> bool:
        return upload.status == UploadStatus.COMPLETE and offset == upload.offset

    def completed_response(self, upload: AbstractChunkedUpload, request: Request) -> Response:
        """An empty ``?1`` append to an upload that completed already (see ``has_all_bytes()``)
        is answered as its completion was, and changes nothing."""
        return Response(self.get_response_data(upload, request), status=status.HTTP_200_OK)

    def describe(
        self,
        response: Response,
        upload: AbstractChunkedUpload,
        max_bytes: int | None,
        **extra: str,
    ) -> Response:
        for name, value in {**ietf.upload_state(upload, self.interop, max_bytes), **extra}.items():
            response[name] = value
        return response

    def total(
        self, declared: int | None, recorded: int | None, offset: int, length: int, complete: bool
    ) -> int | None:
        """The upload's length: recorded, declared (``Upload-Length``) or, with ``?1``, where
        this request ends; any two that differ are inconsistent."""
        known = [value for value in (recorded, declared) if value is not None]
        if complete:
            known.append(offset + length)
        for value in known[1:]:
            if value != known[0]:
                raise exceptions.TotalMismatch(known[0], value)
        return known[0] if known else None

    def byte_range(
        self, start: int, length: int, total: int | None, max_bytes: int | None
    ) -> ContentRange:
        """``[start, start + length)`` of ``total``, refused from the headers alone if they would
        pass the length or the limit."""
        end = start + length
        if end > MAX_TOTAL:
            raise ietf.InvalidUploadHeader("Upload-Offset", "is too large")
        if total is not None and end > total:
            raise exceptions.RangeExceedsTotal(total)
        if max_bytes is not None and max(end, total or 0) > max_bytes:
            raise exceptions.SizeLimitExceeded(max_bytes)
        return ContentRange(start, end - 1, total)

    def body_length(self, request: Request) -> int:
        """The body's length; a body of unknown length (chunked) is refused: the core needs it
        to refuse bytes past the upload's length before reading them."""
        length = content_length(request.META)
        if length is None and "HTTP_TRANSFER_ENCODING" in request.META:
            raise ietf.InvalidUploadHeader("Content-Length", "is required")
        return length or 0

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """Settle the client's interop version before anything else (``OPTIONS``: the latest
        when none is sent)."""
        if request.method == "OPTIONS" and ietf.header(request.META, ietf.VERSION_HEADER) is None:
            self.interop = ietf.LATEST
        else:
            self.interop = ietf.version(request.META)
        super().initial(request, *args, **kwargs)

    def handle_exception(self, exc: Exception) -> Response:
        if exceptions.is_lock_conflict(exc):
            exc = exceptions.UploadBusy()
        if isinstance(exc, Http404):
            exc = to_problem(exceptions.UploadNotFound())
        elif isinstance(exc, DjangoPermissionDenied):
            exc = from_api_exception(PermissionDenied())
        if is_edge_error(exc):
            exc = to_problem(exc)
        elif isinstance(exc, APIException) and not isinstance(exc, Problem):
            exc = from_api_exception(exc)
        response = super().handle_exception(exc)
        if isinstance(exc, Problem):
            response.data = exc.body
            response.content_type = PROBLEM_JSON
            if exc.code == "offset_mismatch":
                response["Upload-Offset"] = str(exc.body["expected-offset"])
                response[self.interop.complete_header] = self.interop.complete_value(False)
        return response

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response[ietf.VERSION_HEADER] = str(self.interop.number)
        return response
