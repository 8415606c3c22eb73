"""Taking the chunk's part out of a multipart body as it streams by; Django parses everything else.

Django's ``MultiPartParser`` joins, slices and re-slices every block of a file part on its way to
an upload handler (about 1 s of CPU per GiB in the benchmarks, a third of what a chunk costs).
``split_chunk_part()`` reads the body's first parts itself, up to the chunk's part (the first file
part named like the view's ``field_name``, without a ``Content-Transfer-Encoding``), hands that
part's bytes to the sink block by block, unsliced unless a block ends in what may be the start of
the next boundary, and returns a stream of the body with that part *emptied* (its delimiter and
headers kept, its data gone) for Django's parser to parse as usual: the fields before and after
it, Django's limits (the emptied part still counts as a file) and its errors all stay Django's.

When the first parts do not look like that (no chunk part within the first 64 KiB, an encoded
part, a malformed header), it returns every byte read so far followed by the rest of the body
untouched, and Django parses the whole body as before. The boundary is searched for as Django
does: ``--boundary`` anywhere, the ``CRLF`` (or ``LF``) before it belonging to the delimiter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.http import parse_header_parameters

from . import ReplayStream

# The chunk's part must start within this many bytes; else Django parses the whole body.
MAX_PREFIX = 64 * 1024
READ_SIZE = 1024 * 1024
# While looking for the chunk's part, read at least this much before searching again.
MIN_READ = 16 * 1024
_HEADER_END = b"\r\n\r\n"


@dataclass
class ChunkPart:
    """The chunk's part as its headers describe it."""

    file_name: str


@dataclass
class Split:
    """What ``split_chunk_part()`` leaves for Django: the body with the chunk's part emptied."""

    rest: ReplayStream
    removed: int  # bytes taken out of the body (the part's data; its line break is put back)
    found: bool  # False: no chunk part was taken, ``rest`` is the whole body


def split_chunk_part(
    stream: Any,
    boundary: bytes,
    field_name: str,
    open_part: Callable[[ChunkPart], Any],
    sanitize: Callable[[str], str | None],
) -> Split:
    """Stream the chunk's part into ``open_part(part).write`` and return the rest of the body."""
    delimiter = b"--" + boundary
    head = b""
    position = 0  # where the search for the next part's delimiter starts in ``head``
    while True:
        found = _next_part(head, position, delimiter)
        if found is None:
            block = _read_at_least(stream, MIN_READ) if len(head) <= MAX_PREFIX else b""
            if not block:
                return Split(ReplayStream(head, stream.read), 0, False)
            head += block
            continue
        _, header, data_start = found
        part = _chunk_part(header, field_name, sanitize)
        if part is None:
            position = data_start
            continue
        writer = open_part(part)
        tail, data_length = _stream_data(head[data_start:], stream, delimiter, writer.write)
        # Django still sees the part, emptied: it counts it against DATA_UPLOAD_MAX_NUMBER_FILES
        # as it would the whole body's, and the upload handler skips it (the chunk has begun).
        line_break = b"\r\n" if tail else b""
        rest = head[:data_start] + line_break + tail
        return Split(ReplayStream(rest, stream.read), data_length - len(line_break), True)


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
) -> ChunkPart | None:
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
    cleaned = sanitize(file_name) if file_name else None
    return ChunkPart(cleaned) if cleaned else None


def _stream_data(
    data: bytes, stream: Any, delimiter: bytes, write: Callable[[bytes], None]
) -> tuple[bytes, int]:
    """Write the part's data up to the next delimiter; return what follows it (from the
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
                write(data[:end])
            return data[index:], written + index
        keep = _partial_delimiter(data, patterns, longest)
        if len(data) > keep:
            out = data[: len(data) - keep] if keep else data  # whole blocks pass unsliced
            write(out)
            written += len(out)
            data = data[len(data) - keep :] if keep else b""
        block = stream.read(READ_SIZE)
        if not block:  # the body ended inside the part: all of it was data
            if data:
                write(data)
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
