"""Parse and validate the ``Content-Range`` header of a chunk: ``bytes START-END/TOTAL``.

Pure Python, no HTTP: the protocol's header checks live here so that every wire front end (and the
fuzz tests) use the same rules. ``END`` is inclusive, as in RFC 9110 section 14.4.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .exceptions import InvalidContentRange, RangeExceedsTotal

# Digits only, ASCII only: ``\d`` would also accept other scripts' digits, which int() happily parses.
_PATTERN = re.compile(r"bytes ([0-9]+)-([0-9]+)/([0-9]+)", re.ASCII)
# A header longer than this cannot be a sane range; refusing it keeps int() off huge strings.
_MAX_HEADER_LENGTH = 128
# The largest size a signed 64-bit column (Django's BigIntegerField, on every database) can record:
# a larger TOTAL would reach the database and fail there with a 500 instead of a 400.
MAX_TOTAL = 2**63 - 1


@dataclass(frozen=True)
class ContentRange:
    """A validated chunk range: ``0 <= start <= end < total``.

    ``total`` is ``None`` while the whole file's length is not known yet (a tus upload created with
    ``Upload-Defer-Length``); the native protocol's ranges always carry it.
    """

    start: int
    end: int
    total: int | None

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @classmethod
    def whole(cls, total: int) -> ContentRange:
        """The range of a whole file sent at once; an empty file is ``0--1/0``, of length 0."""
        return cls(0, total - 1, total)


def parse_content_range(header: str | None) -> ContentRange:
    """Parse a ``Content-Range`` value; raise ``InvalidContentRange`` or ``RangeExceedsTotal``."""
    if not header or len(header) > _MAX_HEADER_LENGTH:
        raise InvalidContentRange(header)
    match = _PATTERN.fullmatch(header)
    if match is None:
        raise InvalidContentRange(header)
    start, end, total = (int(group) for group in match.groups())
    if total > MAX_TOTAL:
        raise InvalidContentRange(header)
    if end >= total or start > end:
        raise RangeExceedsTotal(total)
    return ContentRange(start, end, total)
