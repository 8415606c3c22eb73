"""``ChunkedUploadViewSet``: the protocol's HTTP surface, thin actions over ``uploads.py``.

Mounted by ``ChunkedUploadRouter``, or by any DRF router (``as_view()`` maps the protocol's methods
onto the route it is given): ``PUT`` on the list route is ``create`` (first chunk), ``PUT`` on
the detail route is ``partial_update`` (append), ``POST`` on the detail route is ``complete`` and
``POST`` on the list route is ``create_complete`` (a whole file at once). ``list``, ``retrieve``
(``GET``/``HEAD``) and ``destroy`` (abort) are the ``ModelViewSet`` ones. drf-chunked-upload's hooks
are kept: ``field_name``, ``model``, ``user_field_name``, ``max_bytes``/``get_max_bytes``,
``do_checksum_check``, ``get_response_data`` and ``on_completion``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, ClassVar

from django.core.exceptions import (
    FieldDoesNotExist,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.db import connections, transaction
from django.db.models import QuerySet
from django.utils.cache import add_never_cache_headers
from rest_framework import status, viewsets
from rest_framework.exceptions import ErrorDetail, MethodNotAllowed, NotFound, ParseError
from rest_framework.parsers import BaseParser, FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from ... import chunks, exceptions, telemetry, uploads
from ...bodies import content_length
from ...bodies.requests import open_chunk_body
from ...chunk_digests import parse_body_digests
from ...conf import conf
from ...models import AbstractChunkedUpload, ChunkedUpload, taken_partials
from ...ranges import parse_content_range
from .errors import to_api_exception
from .pagination import ProjectOrUploadPagination
from .parsers import NestingSafeJSONParser, UnreadBodyParser, UnreadMultipartParser
from .routers import DETAIL_ACTIONS, LIST_ACTIONS
from .serializers import ChunkedUploadSerializer

PARALLEL_MODE = "parallel"  # the value of ``Upload-Mode`` that asks for parallel mode
# ``Idempotency-Key``: visible ASCII but quotes, backslashes and spaces, bare or quoted (the
# structured-field string the IETF draft names, and the bare tokens payment APIs use).
MAX_IDEMPOTENCY_KEY = 255
IDEMPOTENCY_KEY_CHARS = r"[!#-\[\]-~]"
_IDEMPOTENCY_KEY = re.compile(rf"{IDEMPOTENCY_KEY_CHARS}{{1,{MAX_IDEMPOTENCY_KEY}}}")
CHUNK_ACTIONS = frozenset({"create", "partial_update", "create_complete"})
# The actions a router derives from a plain ``ModelViewSet`` (DRF's ``SimpleRouter`` and
# ``DefaultRouter`` map ``post`` to ``create``, ``put`` to ``update``, ...): ``as_view()`` replaces
# such a mapping with the protocol's, and leaves extra ``@action`` routes alone.
MODEL_VIEWSET_ACTIONS = frozenset(
    {"list", "create", "retrieve", "update", "partial_update", "destroy"}
)
DJANGO_REQUEST_LIMITS = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)


def idempotency_key(meta: Mapping[str, Any]) -> str | None:
    """The request's ``Idempotency-Key``, without its quotes; ``InvalidIdempotencyKey`` if it is
    not 1 to ``MAX_IDEMPOTENCY_KEY`` visible characters."""
    value = meta.get("HTTP_IDEMPOTENCY_KEY")
    if value is None:
        return None
    key = str(value).strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise exceptions.InvalidIdempotencyKey(MAX_IDEMPOTENCY_KEY)
    return key


class CompletionHook:
    """Runs the view's ``on_completion`` inside the completion's transaction (so a hook that
    raises leaves the upload incomplete, to be completed again) and keeps its response."""

    def __init__(self, view: ChunkedUploadViewSet, request: Request) -> None:
        self.view = view
        self.request = request
        self.replacement: Response | None = None

    def __call__(self, upload: AbstractChunkedUpload) -> None:
        response = self.view.on_completion(upload, self.request)
        self.replacement = response if isinstance(response, Response) else None

    def response(self, upload: AbstractChunkedUpload) -> Response:
        if self.replacement is not None:
            return self.replacement
        data = self.view.get_response_data(upload, self.request)
        return Response(data, status=status.HTTP_200_OK)


class ChunkedUploadViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    """Large, resumable, chunked uploads (see the protocol reference in the docs)."""

    model: type[AbstractChunkedUpload] = ChunkedUpload
    queryset = None
    serializer_class = ChunkedUploadSerializer
    field_name = "file"
    user_field_name = "user"
    max_bytes: int | None = None
    do_checksum_check = True
    # The chunk actions read their body themselves (``bodies/``): DRF's parsers leave it unread.
    chunk_parser_classes: Sequence[type[BaseParser]] = (UnreadMultipartParser, UnreadBodyParser)
    completion_parser_classes: Sequence[type[BaseParser]] = (
        NestingSafeJSONParser,
        MultiPartParser,
        FormParser,
    )
    pagination_class = ProjectOrUploadPagination()
    http_method_names = ["get", "put", "post", "delete", "head", "options"]
    protocol = "native"  # the label of this edge's metrics and log lines (see telemetry.py)
    logger_name = "chunked_uploads.views"  # its module before the move to protocols/native

    # The methods this edge serves on the list (creation) route and on an upload's route, as
    # its router maps them; each protocol edge subclassing this view sets its own.
    list_actions: ClassVar[Mapping[str, str]] = LIST_ACTIONS
    detail_actions: ClassVar[Mapping[str, str]] = DETAIL_ACTIONS

    @classmethod
    def as_view(cls, actions: dict[str, Any] | None = None, **initkwargs: Any) -> Any:
        """Map the protocol's methods onto the route a router mounts, whatever the router.

        A router tells the view which route it serves (``detail``); DRF's own routers would map
        ``PUT`` on the detail route to ``update``, which stores nothing, and leave ``PUT`` on the
        list route unmapped. A mapping of plain ``ModelViewSet`` actions is replaced by the
        protocol's for that route, so ``DefaultRouter`` serves the protocol as
        ``ChunkedUploadRouter`` does.
        """
        detail = initkwargs.get("detail")
        if actions and detail is not None and set(actions.values()) <= MODEL_VIEWSET_ACTIONS:
            actions = dict[str, Any](cls.detail_actions if detail else cls.list_actions)
        view = super().as_view(actions, **initkwargs)
        # The core commits what it acknowledges (a chunk's offset, a lease, the completed file)
        # and runs the completion hooks in a transaction of its own: a request-wide transaction
        # (ATOMIC_REQUESTS) would roll back the record of bytes already moved in the store.
        for alias in connections:
            view = transaction.non_atomic_requests(using=alias)(view)
        return view

    # Any id without a "/" reaches the view, which answers a malformed one (``0.5``) with the
    # API's JSON 404; DRF's default ``[^/.]+`` left ids with a dot to Django's HTML 404 page.
    lookup_value_regex = "[^/]+"

    # -- hooks -------------------------------------------------------------------------------

    def get_model(self) -> type[AbstractChunkedUpload]:
        queryset = self.queryset
        return queryset.model if queryset is not None else self.model

    def get_queryset(self) -> QuerySet[Any]:
        """The uploads the caller may see: their own while ``USER_RESTRICTED`` is on."""
        queryset = (
            self.queryset.all() if self.queryset is not None else self.model._default_manager.all()
        )
        if conf.user_restricted and self._user_field() is not None:
            user = getattr(self.request, "user", None)
            if user is None or not user.is_authenticated:
                return queryset.none()
            queryset = queryset.filter(**{self.user_field_name: user})
        return queryset

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        queryset = super().filter_queryset(queryset)
        if self.action == "list":
            # Partial uploads a tus final upload used up are pieces of a file, kept only for a
            # client that retries the final upload (``concatenation.py``): not listed as files.
            queryset = queryset.exclude(taken_partials())
        return queryset

    def get_object(self) -> Any:
        # DRF's OPTIONS metadata probes get_object() for PUT, which on the list route is the
        # protocol's create and has no id: answer "not found" there instead of failing (a 500).
        if (self.lookup_url_kwarg or self.lookup_field) not in self.kwargs:
            raise NotFound()
        return super().get_object()

    def get_max_bytes(self, request: Request) -> int | None:
        """The largest file this request may upload; ``None`` means no limit."""
        return self.max_bytes if self.max_bytes is not None else conf.max_bytes

    def get_owner_fields(self, request: Request) -> dict[str, Any]:
        """Fields that tie a new upload to its owner (check 11 of the protocol)."""
        field = self._user_field()
        if field is None:
            return {}
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return {self.user_field_name: user}
        if field.null:
            return {self.user_field_name: None}
        raise exceptions.UserRequired()

    def get_response_data(self, upload: AbstractChunkedUpload, request: Request) -> Any:
        """The body of a successful completion."""
        return self.get_serializer(upload).data

    def on_completion(self, upload: AbstractChunkedUpload, request: Request) -> Response | None:
        """Called after an upload completed; return a ``Response`` to replace the default one."""
        return None

    # -- actions -----------------------------------------------------------------------------

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Start an upload with its first chunk (``PUT`` on the list route); sent again with the
        same ``Idempotency-Key``, answer with the upload the first request made."""
        upload = self.made_before(request, whole=False)
        if upload is None:
            upload = self.receive_chunk(request, whole=False).upload
        return Response(self.get_serializer(upload).data, status=status.HTTP_200_OK)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Append the next chunk (``PUT`` on the detail route)."""
        upload = self.receive_chunk(request, whole=False).upload
        return Response(self.get_serializer(upload).data, status=status.HTTP_200_OK)

    def complete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Verify the whole file's checksum and finish (``POST`` on the detail route)."""
        checksum = self.get_checksum(request, request.data)
        hook = CompletionHook(self, request)
        upload = uploads.complete(self.get_object(), checksum, on_complete=hook)
        return hook.response(upload)

    def create_complete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Upload a whole file and its checksum in one request (``POST`` on the list route); sent
        again with the same ``Idempotency-Key``, answer with the upload the first request made."""
        made = self.made_before(request, whole=True)
        if made is not None:
            return Response(self.get_response_data(made, request), status=status.HTTP_200_OK)
        received = self.receive_chunk(request, whole=True)
        upload = received.upload
        hook = CompletionHook(self, request)
        try:
            checksum = self.get_checksum(request, received.fields)
            upload = uploads.complete(upload, checksum, single_shot=True, on_complete=hook)
        except BaseException:
            uploads.delete_upload(upload)  # a failed single shot leaves nothing behind
            raise
        return hook.response(upload)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Not part of the protocol: a ``ModelViewSet`` update would store no byte, so refuse."""
        raise MethodNotAllowed(request.method or "PUT")

    def perform_destroy(self, instance: AbstractChunkedUpload) -> None:
        uploads.abort(instance)

    # -- plumbing ----------------------------------------------------------------------------

    def made_before(self, request: Request, *, whole: bool) -> AbstractChunkedUpload | None:
        """The upload an earlier creation request with this request's ``Idempotency-Key`` made
        (its answer was lost, and this is the retry), or ``None``: then the request creates it."""
        upload_id = self.idempotent_id(request)
        if upload_id is None:
            return None
        total = None
        if not whole:
            try:
                total = parse_content_range(request.META.get("HTTP_CONTENT_RANGE")).total
            except (exceptions.InvalidContentRange, exceptions.RangeExceedsTotal):
                return None  # refused in the protocol's order by ``receive_chunk``
        return uploads.made_before(
            self.get_queryset(),
            upload_id,
            total=total,
            parallel=not whole and self.wants_parallel(request),
            whole=whole,
        )

    def idempotent_id(self, request: Request) -> Any:
        """The id the new upload takes when the request carries an ``Idempotency-Key``."""
        key = idempotency_key(request.META)
        if key is None:
            return None
        try:
            owner = self.get_owner_fields(request)
        except exceptions.UserRequired:
            return None  # refused in the protocol's order by ``receive_chunk``
        if any(value is None for value in owner.values()):
            return None  # anonymous callers cannot be told apart: no key is theirs alone
        return uploads.idempotent_id(self.get_model(), owner, key)

    def receive_chunk(self, request: Request, *, whole: bool) -> chunks.Received:
        """Describe the request's chunk to the core and stream its body into the upload."""
        digests = parse_body_digests(request.META)
        target: chunks.NewUpload | chunks.ExistingUpload
        if whole or self.action == "create":
            owner = partial(self.get_owner_fields, request)
            user = getattr(request, "user", None)
            parallel = not whole and self.wants_parallel(request)
            upload_id = self.idempotent_id(request)
            target = chunks.NewUpload(
                self.get_model(),
                owner,
                user,
                self.user_field_name,
                fields={} if upload_id is None else {"id": upload_id},
                parallel=parallel,
            )
        else:
            target = chunks.ExistingUpload(self.get_object, self.user_field_name)
        fields: dict[str, Any] = {
            "target": target,
            "whole": whole,
            "digests": digests,
            "max_bytes": self.get_max_bytes(request),
            "body_length": content_length(request.META),
        }
        if whole:
            chunk = chunks.ChunkRequest(**fields)
        else:
            header = request.META.get("HTTP_CONTENT_RANGE")
            fields["max_chunk_bytes"] = conf.max_chunk_bytes
            chunk = chunks.ChunkRequest.for_range_header(header, **fields)
        body = open_chunk_body(request._request, self.field_name, digests)
        return chunks.receive(chunk, body)

    def wants_parallel(self, request: Request) -> bool:
        """Whether the first chunk asks for parallel mode (``Upload-Mode: parallel``)."""
        mode = request.META.get("HTTP_UPLOAD_MODE", "")
        return str(mode).strip().lower() == PARALLEL_MODE

    def get_checksum(self, request: Request, data: Any) -> str | None:
        """The whole file's checksum from the body's fields (or the query string), if checks
        are on."""
        if not self.do_checksum_check:
            return None
        algorithm = conf.checksum
        value = data.get(algorithm) if hasattr(data, "get") else None
        value = value or request.query_params.get(algorithm)
        if not value or not isinstance(value, str):
            raise exceptions.ChecksumRequired(algorithm)
        return value

    def get_parsers(self) -> list[BaseParser]:
        action = getattr(self, "action", None)
        if action is None and getattr(self, "request", None) is not None:
            method = (self.request.method or "").lower()
            action = getattr(self, "action_map", {}).get(method)
        if action in CHUNK_ACTIONS:
            return [parser() for parser in self.chunk_parser_classes]
        if action == "complete":
            return [parser() for parser in self.completion_parser_classes]
        return super().get_parsers()

    def handle_exception(self, exc: Exception) -> Response:
        """Give DRF's own errors (404, 403, 415, ...) the ``code`` key that ours carry; answer
        Django's request limits with a JSON 400 and a database lock conflict as ``UploadBusy``."""
        if isinstance(exc, exceptions.UploadError):
            exc = to_api_exception(exc)
        elif isinstance(exc, DJANGO_REQUEST_LIMITS):
            # Django's DATA_UPLOAD_MAX_* limits would answer with its own HTML 400 page.
            exc = ParseError(f"The request exceeds the server's limits - {exc}")
        elif exceptions.is_lock_conflict(exc):
            # A deadlock or lock wait timeout rolled the statement back: busy, not a 500.
            exc = to_api_exception(exceptions.UploadBusy())
        response = super().handle_exception(exc)
        data = response.data
        if isinstance(data, dict) and "code" not in data:
            detail = data.get("detail")
            if isinstance(detail, ErrorDetail):
                data["code"] = detail.code
        return response

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        with telemetry.observe(self) as observation:
            observation.response = super().dispatch(request, *args, **kwargs)
        return observation.response

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)  # offsets change with every chunk
        return response

    def _user_field(self) -> Any:
        try:
            return self.get_model()._meta.get_field(self.user_field_name)
        except FieldDoesNotExist:
            return None
