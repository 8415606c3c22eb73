"""A raw ``application/octet-stream`` body: the whole body is the chunk.

The file name comes from ``Content-Disposition: attachment; filename="..."``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django.utils.http import parse_header_parameters

from ..exceptions import UnreadableBody
from . import BLOCK_SIZE, ChunkPart, Readable, clean_filename


class RawBody:
    """The request body of known ``length``, read from ``stream`` (a ``ChunkBody``)."""

    def __init__(
        self,
        meta: Mapping[str, Any],
        stream: Readable,
        length: int,
        file_name: str | None = None,
    ) -> None:
        self._meta = meta
        self._stream = stream
        self._length = length
        # A name the protocol carries elsewhere (tus: ``Upload-Metadata``).
        self._file_name = file_name

    def open_chunk(self) -> ChunkPart:
        name = self._file_name or disposition_filename(self._meta)
        return ChunkPart(name, self._length, self._blocks())

    def fields(self) -> Mapping[str, Any]:
        return {}

    def _blocks(self) -> Iterator[bytes]:
        remaining = self._length
        while remaining > 0:
            try:
                block = self._stream.read(min(BLOCK_SIZE, remaining))
            except OSError as exc:  # the client went away mid-body
                raise UnreadableBody(f"The request body could not be read: {exc}") from exc
            if not block:
                return
            yield block
            remaining -= len(block)


def disposition_filename(meta: Mapping[str, Any]) -> str | None:
    """The file name of a ``Content-Disposition`` request header, if any."""
    header = meta.get("HTTP_CONTENT_DISPOSITION")
    if not header:
        return None
    try:
        _, params = parse_header_parameters(header)
    except ValueError as exc:  # an RFC 2231 ``filename*`` with an unknown charset
        raise UnreadableBody(f"Malformed Content-Disposition header - {exc}") from exc
    return clean_filename(params.get("filename"))
