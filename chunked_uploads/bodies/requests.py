"""Which reader a request's body gets: raw, streaming multipart, or already parsed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest
from django.utils.http import parse_header_parameters

from ..chunk_digests import BodyDigests, DigestingStream
from ..conf import conf
from ..exceptions import NoChunkSubmitted
from . import ChunkBody, ChunkPart, Readable, content_length
from .multipart import MultipartBody
from .parsed import ParsedBody
from .raw import RawBody

RAW = "application/octet-stream"
MULTIPART = "multipart/form-data"


def open_chunk_body(
    request: HttpRequest, field_name: str, digests: BodyDigests | None = None
) -> ChunkBody:
    """The reader of ``request``'s chunk; reads no body byte. ``digests`` are fed with the body
    as it is read."""
    if getattr(request, "_read_started", False) and not hasattr(request, "_body"):
        # Something read the stream (a middleware's request.POST): only Django's parse is left.
        return ParsedBody(request, field_name)
    length = content_length(request.META) or 0
    media_type, _ = parse_header_parameters(request.META.get("CONTENT_TYPE", ""))
    if length == 0 or media_type not in (RAW, MULTIPART):
        return NoChunk()
    stream = body_stream(request)
    if digests is not None:
        stream = DigestingStream(stream, digests)
    if media_type == RAW:
        return RawBody(request.META, stream, length)
    return MultipartBody(request, stream, field_name)


def body_stream(request: HttpRequest) -> Readable:
    """The body's stream: Django's ``wsgi.input`` wrapper, or gunicorn's socket when enabled."""
    if conf.socket_reads:
        from .gunicorn import open_body  # an optional integration, imported only when used

        return open_body(request, request)
    return request


class NoChunk:
    """An empty body, or one that is neither raw nor multipart: there is no chunk."""

    def open_chunk(self) -> ChunkPart:
        raise NoChunkSubmitted()

    def fields(self) -> Mapping[str, Any]:
        return {}
