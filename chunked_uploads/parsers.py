"""Streaming request parsers: a chunk's bytes go from the socket to the store once, in bounded memory.

Both parsers hand the chunk to a ``ChunkSink`` that the view puts in the parser context. The sink's
``begin()`` runs the protocol's header, permission and state checks and takes the upload's lease when
the chunk is about to start (for multipart: after the part's headers, before its first byte), so a
refused chunk is refused before its body is read, and an accepted one is never spooled to a
temporary file or held whole in memory first.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import IO, Any, Protocol

from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from django.utils.http import parse_header_parameters
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, DataAndFiles

from .bodies import content_length
from .bodies.gunicorn import open_body
from .bodies.multipart import split_chunk_part
from .chunk_digests import BodyDigests, DigestingStream

# Bytes read from the request per step: large enough for full-speed I/O, small enough to bound
# memory whatever the chunk size.
BLOCK_SIZE = 1024 * 1024
MAX_FILENAME_LENGTH = 255


class ChunkWriter(Protocol):
    def write(self, data: bytes | memoryview) -> None: ...


class ChunkSink(Protocol):
    """What the view offers the parsers: where a chunk's bytes go."""

    field_name: str
    body_digests: BodyDigests | None

    def begin(self, filename: str | None, length: int | None) -> ChunkWriter:
        """Check the request and open the chunk; ``length`` is the body length when known."""
        ...


def clean_filename(name: str | None) -> str | None:
    """A client's file name made safe to store (never to use as a path): last path component,
    no control characters, at most 255 characters."""
    if not name:
        return None
    name = posixpath.basename(name.replace("\\", "/"))
    name = "".join(char for char in name if char.isprintable())
    return name[:MAX_FILENAME_LENGTH] or None


def _sink(parser_context: Mapping[str, Any] | None) -> ChunkSink:
    sink: ChunkSink = (parser_context or {})["chunk_sink"]
    return sink


def _body(stream: IO[Any], context: Mapping[str, Any], sink: ChunkSink) -> IO[Any]:
    """The body stream (from the socket under gunicorn, see ``bodies.py``), hashed on the way
    when the request announced body digests."""
    stream = open_body(stream, context["request"]._request)  # type: ignore[assignment]
    if sink.body_digests is None:
        return stream
    return DigestingStream(stream, sink.body_digests)  # type: ignore[return-value]


class _SinkUploadHandler(FileUploadHandler):
    """Streams the part named ``sink.field_name`` into the sink; skips every other file part."""

    chunk_size = BLOCK_SIZE

    def __init__(self, sink: ChunkSink) -> None:
        super().__init__()
        self.sink = sink
        self.writer: ChunkWriter | None = None
        self.seen = False

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        if field_name != self.sink.field_name or self.seen:
            raise SkipFile()
        self.begin(file_name)

    def begin(self, file_name: str | None) -> ChunkWriter:
        """Open the chunk (also for a part ``multipart.split_chunk_part()`` took out)."""
        self.seen = True
        self.writer = self.sink.begin(clean_filename(file_name), None)
        return self.writer

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        assert self.writer is not None
        self.writer.write(raw_data)

    def file_complete(self, file_size: int) -> None:
        self.writer = None


class StreamingMultiPartParser(BaseParser):
    """``multipart/form-data`` whose chunk part is streamed into the sink."""

    media_type = "multipart/form-data"

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> DataAndFiles[Any, Any]:
        context = parser_context or {}
        request = context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        sink = _sink(context)
        handler = _SinkUploadHandler(sink)
        body = _body(stream, context, sink)
        try:
            django_parser = DjangoMultiPartParser(
                meta,
                body,  # type: ignore[arg-type]
                [handler],
                request.encoding,
            )
            # 0 when missing or invalid: Django then reads no part, and neither do we.
            length = content_length(meta) or 0
            if length > 0:
                # Take the chunk's part out as it streams by; Django parses the rest.
                _, params = parse_header_parameters(media_type or "")
                split = split_chunk_part(
                    body,
                    params["boundary"].encode("ascii"),
                    sink.field_name,
                    lambda part: handler.begin(part.file_name),
                    django_parser.sanitize_file_name,
                )
                meta["CONTENT_LENGTH"] = str(length - split.removed)
                django_parser = DjangoMultiPartParser(
                    meta,
                    split.rest,  # type: ignore[arg-type]
                    [handler],
                    request.encoding,
                )
            data, files = django_parser.parse()
        except MultiPartParserError as exc:
            raise ParseError(f"Multipart form parse error - {exc}") from exc
        except OSError as exc:
            # The client went away mid-body (Django raises UnreadablePostError).
            raise ParseError(f"The request body could not be read: {exc}") from exc
        return DataAndFiles(data, files)


class StreamingOctetStreamParser(BaseParser):
    """A raw ``application/octet-stream`` body: the whole body is the chunk.

    The file name comes from ``Content-Disposition: attachment; filename="..."``.
    """

    media_type = "application/octet-stream"

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> DataAndFiles[Any, Any]:
        context = parser_context or {}
        request = context["request"]
        length = content_length(request.META) or 0
        sink = _sink(context)
        writer = sink.begin(disposition_filename(request.META), length)
        stream = _body(stream, context, sink)
        remaining = length
        while remaining > 0:
            try:
                block = stream.read(min(BLOCK_SIZE, remaining))
            except OSError as exc:
                raise ParseError(f"The request body could not be read: {exc}") from exc
            if not block:
                break
            writer.write(block)
            remaining -= len(block)
        return DataAndFiles({}, {})


def disposition_filename(meta: Mapping[str, Any]) -> str | None:
    """The file name of a ``Content-Disposition`` request header, if any."""
    header = meta.get("HTTP_CONTENT_DISPOSITION")
    if not header:
        return None
    try:
        _, params = parse_header_parameters(header)
    except ValueError as exc:  # an RFC 2231 ``filename*`` with an unknown charset
        raise ParseError(f"Malformed Content-Disposition header - {exc}") from exc
    return clean_filename(params.get("filename"))
