"""Body readers: how a chunk's bytes come out of a request, pulled by the core one block at a time.

A protocol edge picks a reader for the request (``open_chunk_body()``): the raw body
(``raw.py``), the file part of a streaming multipart body (``multipart.py``), or a body a middleware
had Django parse before the view (``parsed.py``). The core (``chunks.receive()``) asks the reader
for the chunk (``open_chunk()``, which reads no byte of the chunk itself), pulls its blocks into the
store and the digests, then asks for the other form fields (``fields()``). Nothing here knows about
uploads, DRF or the protocol's checks; reading gunicorn's socket directly is an optional
integration (``gunicorn.py``, off unless ``DRF_CHUNKED_UPLOAD_SOCKET_READS`` is on).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

# Bytes read from the request per step: large enough for full-speed I/O, small enough to bound
# memory whatever the chunk size.
BLOCK_SIZE = 1024 * 1024
MAX_FILENAME_LENGTH = 255


class Readable(Protocol):
    """What the readers read a body through: ``read(size)`` may return fewer bytes, ``b""`` at
    the end."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass
class ChunkPart:
    """The chunk a body carries: its file name, its length when known before reading it, and its
    bytes (an iterator that reads the body as it is advanced)."""

    file_name: str | None
    length: int | None
    blocks: Iterator[bytes]
    # False when the body was parsed before the view: its digest headers cannot be checked.
    digestible: bool = True


class ChunkBody(Protocol):
    """A request body as the core reads it."""

    def open_chunk(self) -> ChunkPart:
        """Find the chunk, reading no byte of it; raise ``NoChunkSubmitted`` if there is none."""
        ...

    def fields(self) -> Mapping[str, Any]:
        """The other form fields; call once the chunk's blocks are exhausted."""
        ...


def content_length(meta: Mapping[str, Any]) -> int | None:
    """The request's declared body length; ``None`` when missing, invalid or negative."""
    try:
        length = int(meta.get("CONTENT_LENGTH") or "")
    except (TypeError, ValueError):
        return None
    return length if length >= 0 else None


class ReplayStream:
    """Bytes already read (``head``) first, then what ``read_rest(size)`` gives."""

    def __init__(self, head: bytes, read_rest: Callable[[int], bytes]) -> None:
        self._head = memoryview(head)
        self._read_rest = read_rest

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (all of ``head``, or all that is left, when negative)."""
        if self._head:
            count = len(self._head) if size < 0 else size
            head = bytes(self._head[:count])
            self._head = self._head[count:]
            return head
        return self._read_rest(size)


def clean_filename(name: str | None) -> str | None:
    """A client's file name made safe to store (never to use as a path): last path component,
    no control characters, at most 255 characters."""
    if not name:
        return None
    name = posixpath.basename(name.replace("\\", "/"))
    name = "".join(char for char in name if char.isprintable())
    return name[:MAX_FILENAME_LENGTH] or None
