"""The native edge's DRF parsers: the chunk actions' bodies stay unread; completion's JSON is bounded.

A chunk's body is read by the core through a body reader (``bodies/``), not by DRF's
``request.data``: anything that touches ``request.data`` or ``request.POST`` first (session
authentication's CSRF check reads ``request.POST`` on a ``POST``) then finds an empty form instead of
consuming, or half-consuming, the chunk.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.http import QueryDict
from django.utils.datastructures import MultiValueDict
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, DataAndFiles, JSONParser


class UnreadBodyParser(BaseParser):
    """Any content type: no data, and the body left unread for the view's body reader."""

    media_type = "*/*"

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> DataAndFiles[Any, Any]:
        return DataAndFiles(QueryDict(), MultiValueDict())


class UnreadMultipartParser(UnreadBodyParser):
    """The same for ``multipart/form-data``. Listing a multipart parser also tells DRF that the
    view parses forms: when a middleware had Django parse the body before the view, DRF then
    hands out Django's ``request.POST`` and ``request.FILES`` instead of replacing them with
    empty ones, and the view takes the chunk from there (``bodies/parsed.py``)."""

    media_type = "multipart/form-data"


class NestingSafeJSONParser(JSONParser):
    """DRF's ``JSONParser``, answering JSON nested too deeply for Python's parser with a 400
    (``json`` raises ``RecursionError``, which DRF lets through as a 500)."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply") from None
