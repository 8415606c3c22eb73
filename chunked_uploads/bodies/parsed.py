"""A body that Django parsed before the upload view saw it (a middleware read ``request.POST``).

Its stream is spent: the chunk is the file Django kept (in memory or a temporary file), fed to the
core from there. Digest headers cannot be checked on it: they cover the body as it was sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

from ..exceptions import NoChunkSubmitted
from . import BLOCK_SIZE, ChunkPart, clean_filename


class ParsedBody:
    """The chunk from ``request.FILES``, the fields from ``request.POST`` (a ``ChunkBody``)."""

    def __init__(self, request: HttpRequest, field_name: str) -> None:
        self._request = request
        self._field_name = field_name

    def open_chunk(self) -> ChunkPart:
        files = getattr(self._request, "_files", None)
        file = files.get(self._field_name) if files is not None else None
        if file is None:
            raise NoChunkSubmitted()
        blocks = file.chunks(BLOCK_SIZE)
        return ChunkPart(clean_filename(file.name), None, blocks, digestible=False)

    def fields(self) -> Mapping[str, Any]:
        return getattr(self._request, "_post", {})
