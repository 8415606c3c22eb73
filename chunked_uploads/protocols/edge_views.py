"""What the tus and IETF views share: a raw body left unparsed, a public ``OPTIONS``, and the path
of that body into the core.

Both edges are protocols of headers over the native view's hooks (``ChunkedUploadViewSet``): a
request's bytes are its whole body, read by no DRF parser, streamed through the body's digests
(``body_digests()``, which each edge reads from its own headers) into ``chunks.receive()``, with
check-points so that an interrupted request resumes near where it stopped. What each action reads
and answers stays in the edge's own ``views.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework.request import Request

from .. import chunks
from ..bodies.raw import RawBody
from ..bodies.requests import body_stream
from ..chunk_digests import BodyDigests, DigestingStream, parse_body_digests
from ..conf import conf
from ..models import AbstractChunkedUpload
from ..ranges import ContentRange
from .native.parsers import UnreadBodyParser
from .native.views import ChunkedUploadViewSet


class HeaderProtocolViewSet(ChunkedUploadViewSet):
    """The base of the tus and IETF views: raw bodies, public ``OPTIONS``, ``receive()``."""

    parser_classes = (UnreadBodyParser,)
    http_method_names = ["get", "head", "post", "patch", "delete", "options"]

    def receive(
        self,
        request: Request,
        target: chunks.NewUpload | chunks.ExistingUpload,
        byte_range: ContentRange,
        max_bytes: int | None,
        *,
        file_name: str | None = None,
        on_begin: Callable[[AbstractChunkedUpload], bool] | None = None,
    ) -> AbstractChunkedUpload:
        """Stream the body into the upload through the core, with check-points (``on_begin``:
        see ``ChunkRequest``)."""
        digests = self.body_digests(request)
        chunk = chunks.ChunkRequest(
            target=target,
            byte_range=byte_range,
            digests=digests,
            max_bytes=max_bytes,
            checkpoint_bytes=conf.checkpoint_bytes,
            on_begin=on_begin,
        )
        stream = body_stream(request._request)
        if digests is not None:
            stream = DigestingStream(stream, digests)
        body = RawBody(request.META, stream, byte_range.length, file_name)
        return chunks.receive(chunk, body).upload

    def body_digests(self, request: Request) -> BodyDigests | None:
        """The digests the body must match: ``Content-Digest`` and ``Content-MD5``, if sent."""
        return parse_body_digests(request.META)

    def media_type(self, request: Request) -> str:
        return str(request.META.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()

    def get_parsers(self) -> list[Any]:
        return [parser() for parser in self.parser_classes]

    def check_permissions(self, request: Request) -> None:
        # ``OPTIONS`` only describes the server (tus discovery, like a CORS preflight): public.
        if request.method != "OPTIONS":
            super().check_permissions(request)
