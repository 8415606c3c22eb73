"""The chunk's part of a multipart body, read as it streams by; Django parses everything else.

Django's ``MultiPartParser`` joins, slices and re-slices every block of a file part on its way to
an upload handler, and can only push them into a handler. ``ChunkPartReader`` reads the body's
first parts itself, up to the chunk's part (the first file part named like the view's
``field_name``, without a ``Content-Transfer-Encoding``), yields that part's bytes block by block
to whoever pulls them, unsliced unless a block ends in what may be the start of the next boundary,
and then gives a stream of the body with that part *emptied* (its delimiter and headers kept, its
data gone) for Django's parser to parse as usual: the fields before and after it, Django's limits
(the emptied part still counts as a file) and its errors all stay Django's.

When the first parts do not look like that (no chunk part within the first 64 KiB, an encoded
part, a malformed header), ``rest()`` is every byte read so far followed by the rest of the body
untouched, and Django parses the whole body (``MultipartBody`` then takes the chunk from the file
Django spooled). The boundary is searched for as Django
does: ``--boundary`` anywhere, the ``CRLF`` (or ``LF``) before it belonging to the delimiter.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadhandler import (
    FileUploadHandler,
    SkipFile,
    TemporaryFileUploadHandler,
)
from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.utils.http import parse_header_parameters

from ..exceptions import NoChunkSubmitted, UnreadableBody
from . import BLOCK_SIZE, ChunkPart, ReplayStream, clean_filename, content_length

# The chunk's part must start within this many bytes; else Django parses the whole body.
MAX_PREFIX = 64 * 1024
READ_SIZE = 1024 * 1024
# While looking for the chunk's part, read at least this much before searching again.
MIN_READ = 16 * 1024
_HEADER_END = b"\r\n\r\n"


@dataclass
class PartHeaders:
    """The chunk's part as its headers describe it."""

    file_name: str


@dataclass
class Split:
    """What ``ChunkPartReader.rest()`` leaves for Django: the body with the chunk's part emptied."""

    rest: ReplayStream
    removed: int  # bytes taken out of the body (the part's data; its line break is put back)
    found: bool  # False: no chunk part was taken, ``rest`` is the whole body


class ChunkPartReader:
    """Pull-style: ``find()`` reads up to the chunk's part, ``blocks()`` yields its data, ``rest()``
    is the body with that part emptied."""

    def __init__(
        self, stream: Any, boundary: bytes, field_name: str, sanitize: Callable[[str], str | None]
    ) -> None:
        self._stream = stream
        self._delimiter = b"--" + boundary
        self._field_name = field_name
        self._sanitize = sanitize
        self._head = b""  # what was read before the chunk's data (all that was read, if none)
        self._data = b""  # the first bytes of the chunk's data, read with its headers
        self._found = False
        self._tail: bytes | None = None  # after blocks(): what follows the data, as far as read
        self._data_length = 0

    def find(self) -> PartHeaders | None:
        """Read up to the chunk part's first data byte; ``None`` if the first parts do not
        look like that (then ``rest()`` is the whole body)."""
        head, position = b"", 0  # where the search for the next part's delimiter starts
        while True:
            found = _next_part(head, position, self._delimiter)
            if found is None:
                block = _read_at_least(self._stream, MIN_READ) if len(head) <= MAX_PREFIX else b""
                if not block:
                    self._head = head
                    return None
                head += block
                continue
            _, header, data_start = found
            part = _chunk_part(header, self._field_name, self._sanitize)
            if part is None:
                position = data_start
                continue
            self._head, self._data, self._found = head[:data_start], head[data_start:], True
            return part

    def blocks(self) -> Iterator[bytes]:
        """The chunk part's data, block by block, unsliced where possible."""
        assert self._found and self._tail is None, "blocks() before find(), or twice"
        data, self._data = self._data, b""
        self._tail, self._data_length = yield from _data_blocks(data, self._stream, self._delimiter)

    def rest(self) -> Split:
        """The body for Django's parser: the chunk's part emptied (its delimiter and headers
        kept), or the whole body when no chunk part was found."""
        if not self._found:
            return Split(ReplayStream(self._head, self._stream.read), 0, False)
        assert self._tail is not None, "rest() before the chunk's blocks were read"
        # Django still sees the part, emptied: it counts it against DATA_UPLOAD_MAX_NUMBER_FILES
        # as it would the whole body's, and skips it (the view's handler takes no file).
        line_break = b"\r\n" if self._tail else b""
        rest = self._head + line_break + self._tail
        removed = self._data_length - len(line_break)
        return Split(ReplayStream(rest, self._stream.read), removed, True)


def _read_at_least(stream: Any, size: int) -> bytes:
    """At least ``size`` bytes unless the body ends first: a client trickling its body a few
    bytes per packet must not make the search for the chunk's part start over for each one."""
    blocks: list[bytes] = []
    total = 0
    while total < size and (block := stream.read(READ_SIZE)):
        blocks.append(block)
        total += len(block)
    return b"".join(blocks) if len(blocks) != 1 else blocks[0]


def _next_part(head: bytes, position: int, delimiter: bytes) -> tuple[int, bytes, int] | None:
    """The next delimiter at or after ``position`` with its whole header block in ``head``:
    (the delimiter's index, the header bytes, the index of the part's first data byte)."""
    start = head.find(delimiter, position)
    if start < 0:
        return None
    after = start + len(delimiter)
    if head[after : after + 2] == b"--":
        return None  # the closing delimiter: no more parts
    line_end = head.find(b"\r\n", after)
    if line_end < 0:
        return None
    header_end = head.find(_HEADER_END, line_end)
    if header_end < 0:
        return None
    return start, head[line_end + 2 : header_end], header_end + len(_HEADER_END)


def _chunk_part(
    header: bytes, field_name: str, sanitize: Callable[[str], str | None]
) -> PartHeaders | None:
    """The part, if it is the chunk's (header lines parsed as Django parses them)."""
    disposition: dict[str, str] | None = None
    for line in header.split(b"\r\n"):
        try:
            main, params = parse_header_parameters(line.decode())
            name, _ = main.split(":", 1)
        except ValueError:
            continue
        if name == "content-transfer-encoding":
            return None
        if name == "content-disposition":
            disposition = params
    if disposition is None or disposition.get("name") != field_name:
        return None
    file_name = disposition.get("filename")
    # Django's sanitizing keeps the name's length; the upload's column holds 255 characters.
    cleaned = clean_filename(sanitize(file_name)) if file_name else None
    return PartHeaders(cleaned) if cleaned else None


def _data_blocks(
    data: bytes, stream: Any, delimiter: bytes
) -> Generator[bytes, None, tuple[bytes, int]]:
    """Yield the part's data up to the next delimiter; return what follows it (from the
    delimiter on, as far as it was read) and the length of the data with its line break."""
    patterns = (b"\r\n" + delimiter, b"\n" + delimiter, b"\r" + delimiter, delimiter)
    longest = len(patterns[0])
    written = 0
    while True:
        index = data.find(delimiter)
        if index >= 0:
            end = index
            if end and data[end - 1 : end] == b"\n":
                end -= 1
            if end and data[end - 1 : end] == b"\r":
                end -= 1
            if end:
                yield data[:end]
            return data[index:], written + index
        keep = _partial_delimiter(data, patterns, longest)
        if len(data) > keep:
            out = data[: len(data) - keep] if keep else data  # whole blocks pass unsliced
            yield out
            written += len(out)
            data = data[len(data) - keep :] if keep else b""
        block = stream.read(READ_SIZE)
        if not block:  # the body ended inside the part: all of it was data
            if data:
                yield data
                written += len(data)
            return b"", written
        data = data + block if data else block


_STARTS = frozenset(b"\r\n-")  # the first bytes of the patterns


def _partial_delimiter(data: bytes, patterns: tuple[bytes, ...], longest: int) -> int:
    """How many bytes at the end of ``data`` may begin a delimiter (with its line break)."""
    tail = data[-(longest - 1) :]
    for index, byte in enumerate(tail):
        if byte in _STARTS:
            suffix = tail[index:]
            if any(pattern.startswith(suffix) for pattern in patterns):
                return len(suffix)
    return 0


class MultipartBody:
    """A ``multipart/form-data`` request body as the core reads it (a ``ChunkBody``)."""

    def __init__(self, request: HttpRequest, stream: Any, field_name: str) -> None:
        self._request = request
        self._meta = request.META.copy()
        self._stream = stream
        self._field_name = field_name
        self._fields: QueryDict | None = None
        self._reader: ChunkPartReader | None = None

    def open_chunk(self) -> ChunkPart:
        # Django's parser validates the content type and boundary, and sanitizes file names.
        parser = self._django_parser(self._stream, self._length, [_SkipFiles()])
        _, params = parse_header_parameters(self._meta.get("CONTENT_TYPE", ""))
        boundary = params["boundary"].encode("ascii")
        reader = ChunkPartReader(
            self._stream, boundary, self._field_name, parser.sanitize_file_name
        )
        self._reader = reader
        with _unreadable():
            part = reader.find()
        if part is not None:
            return ChunkPart(part.file_name, None, _readable(reader.blocks()))
        return self._spooled_chunk(reader)

    @property
    def _length(self) -> int:
        return content_length(self._meta) or 0

    def fields(self) -> QueryDict:
        if self._fields is None:
            assert self._reader is not None, "fields() before open_chunk()"
            split = self._reader.rest()
            length = self._length - split.removed
            self._fields = self._parse(split.rest, length, [_SkipFiles()])[0]
        return self._fields

    def _spooled_chunk(self, reader: ChunkPartReader) -> ChunkPart:
        """A body whose chunk part ``ChunkPartReader`` does not take (see the module's
        docstring): Django parses all of it, spooling file parts to temporary files."""
        handler = TemporaryFileUploadHandler(self._request)
        self._fields, files = self._parse(reader.rest().rest, self._length, [handler])
        chunks = files.getlist(self._field_name)
        if not chunks:
            _close_all(files)
            raise NoChunkSubmitted()
        chunk = chunks[0]
        return ChunkPart(clean_filename(chunk.name), None, _spooled_blocks(chunk, files))

    def _parse(
        self, stream: Any, length: int, handlers: list[FileUploadHandler]
    ) -> tuple[QueryDict, Any]:
        with _unreadable():
            return self._django_parser(stream, length, handlers).parse()

    def _django_parser(
        self, stream: Any, length: int, handlers: list[FileUploadHandler]
    ) -> MultiPartParser:
        meta = {**self._meta, "CONTENT_LENGTH": str(length)}
        with _unreadable():
            return MultiPartParser(meta, stream, handlers, self._request.encoding)


class _SkipFiles(FileUploadHandler):
    """Django's parser takes no file part: the chunk's was emptied, any other is not ours."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        raise SkipFile()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        return None

    def file_complete(self, file_size: int) -> None:
        return None


@contextmanager
def _unreadable() -> Iterator[None]:
    """A broken multipart body or a client gone mid-body as the core's ``UnreadableBody``."""
    try:
        yield
    except MultiPartParserError as exc:
        raise UnreadableBody(f"Multipart form parse error - {exc}") from exc
    except OSError as exc:  # Django raises UnreadablePostError
        raise UnreadableBody(f"The request body could not be read: {exc}") from exc


def _spooled_blocks(chunk: Any, files: Any) -> Iterator[bytes]:
    """The spooled chunk's bytes; every temporary file is removed once they were read (or the
    request failed)."""
    try:
        yield from chunk.chunks(BLOCK_SIZE)
    finally:
        _close_all(files)


def _close_all(files: Any) -> None:
    for _, uploaded in files.lists():
        for file in uploaded:
            file.close()


def _readable(blocks: Iterator[bytes]) -> Iterator[bytes]:
    with _unreadable():
        yield from blocks
