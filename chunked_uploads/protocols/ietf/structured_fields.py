"""Structured Field Values for HTTP (RFC 9651), the little this edge needs, parsed strictly.

Items (integer, decimal, string, token, byte sequence, boolean, date) with parameters are parsed by
the RFC's algorithms (section 4.2); anything else fails with ``InvalidStructuredField``, never a
guess: ``Upload-Offset: 1.0``, ``Upload-Offset: 01x`` or ``Upload-Complete: true`` are refused.
Dictionaries are serialized (section 4.1.2) for ``Upload-Limit``. Pure Python, no HTTP framework.
"""

from __future__ import annotations

import base64
import binascii
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Union

BareItem = Union[int, Decimal, str, bytes, bool, "Token", "Date"]
MAX_INTEGER = 999_999_999_999_999  # 15 digits (RFC 9651 section 3.3.1)
# RFC 9110 tchar, plus ":" and "/" inside a token (RFC 9651 section 3.3.4).
_TCHAR = frozenset("!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits)
_TOKEN_CHARS = _TCHAR | {":", "/"}
_KEY_FIRST = frozenset(string.ascii_lowercase + "*")
_BASE64 = frozenset(string.ascii_letters + string.digits + "+/=")
_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*", re.ASCII)


class InvalidStructuredField(ValueError):
    """A field value that is not what RFC 9651 allows (``reason`` says where it went wrong)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Token(str):
    """An ``sf-token`` (a ``str`` that serializes without quotes)."""


class Date(int):
    """An ``sf-date``: seconds since the epoch."""


@dataclass(frozen=True)
class Item:
    """A bare item and its parameters."""

    value: BareItem
    params: dict[str, BareItem] = field(default_factory=dict)


def parse_item(value: str) -> Item:
    """Parse a whole field value as an ``sf-item`` (RFC 9651 section 4.2)."""
    if not value.isascii():
        raise InvalidStructuredField("non-ASCII characters")
    parser = _Parser(value.lstrip(" "))
    item = Item(parser.bare_item(), parser.parameters())
    if parser.rest.lstrip(" "):
        raise InvalidStructuredField(f"unexpected {parser.rest.lstrip(' ')[:1]!r} after the item")
    return item


class _Parser:
    def __init__(self, text: str) -> None:
        self.rest = text

    def _take(self, count: int = 1) -> str:
        taken, self.rest = self.rest[:count], self.rest[count:]
        return taken

    def bare_item(self) -> BareItem:
        first = self.rest[:1]
        if first == "-" or first.isdigit():
            return self.number()
        if first == '"':
            return self.string()
        if first == ":":
            return self.byte_sequence()
        if first == "?":
            return self.boolean()
        if first == "@":
            self._take()
            number = self.number()
            if not isinstance(number, int):
                raise InvalidStructuredField("a date must be an integer")
            return Date(number)
        if first.isalpha() or first == "*":
            return self.token()
        raise InvalidStructuredField(f"no item starts with {first!r}" if first else "empty value")

    def number(self) -> int | Decimal:
        match = re.match(r"(-?)([0-9]+)(\.([0-9]*))?", self.rest)
        if match is None:
            raise InvalidStructuredField("a number needs a digit")
        sign, whole, point, fraction = match.groups()
        if point is None:
            if len(whole) > 15:
                raise InvalidStructuredField("an integer has at most 15 digits")
            self._take(match.end())
            return -int(whole) if sign else int(whole)
        if len(whole) > 12 or not 1 <= len(fraction) <= 3:
            raise InvalidStructuredField("a decimal has at most 12.3 digits")
        self._take(match.end())
        return Decimal(match.group(0))

    def string(self) -> str:
        self._take()
        chars: list[str] = []
        while self.rest:
            char = self._take()
            if char == "\\":
                escaped = self._take()
                if escaped not in ('"', "\\"):
                    raise InvalidStructuredField("a string escapes only '\"' and '\\'")
                chars.append(escaped)
            elif char == '"':
                return "".join(chars)
            elif not " " <= char <= "~":
                raise InvalidStructuredField("a string holds only visible ASCII and spaces")
            else:
                chars.append(char)
        raise InvalidStructuredField("unterminated string")

    def token(self) -> Token:
        end = 1
        while end < len(self.rest) and self.rest[end] in _TOKEN_CHARS:
            end += 1
        return Token(self._take(end))

    def byte_sequence(self) -> bytes:
        self._take()
        end = self.rest.find(":")
        if end < 0:
            raise InvalidStructuredField("unterminated byte sequence")
        encoded = self._take(end)
        self._take()
        if not set(encoded) <= _BASE64:
            raise InvalidStructuredField("a byte sequence is base64")
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidStructuredField("a byte sequence is base64") from None

    def boolean(self) -> bool:
        self._take()
        digit = self._take()
        if digit not in ("0", "1"):
            raise InvalidStructuredField("a boolean is ?0 or ?1")
        return digit == "1"

    def parameters(self) -> dict[str, BareItem]:
        params: dict[str, BareItem] = {}
        while self.rest.startswith(";"):
            self._take()
            self.rest = self.rest.lstrip(" ")
            match = _KEY.match(self.rest)
            if match is None:
                raise InvalidStructuredField("a parameter's key is lower case")
            key = self._take(match.end())
            value: BareItem = True
            if self.rest.startswith("="):
                self._take()
                value = self.bare_item()
            params[key] = value  # a repeated key: the last one wins (section 4.2.3.2)
        return params


def serialize_bare_item(value: BareItem) -> str:
    """RFC 9651 section 4.1.3."""
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, Date):
        return f"@{int(value)}"
    if isinstance(value, int):
        if abs(value) > MAX_INTEGER:
            raise InvalidStructuredField("an integer has at most 15 digits")
        return str(value)
    if isinstance(value, Decimal):
        return format(value.quantize(Decimal("0.001")).normalize(), "f")
    if isinstance(value, bytes):
        return f":{base64.b64encode(value).decode('ascii')}:"
    if isinstance(value, Token):
        if not value or value[0] not in _KEY_FIRST | set(string.ascii_letters):
            raise InvalidStructuredField("a token starts with a letter or '*'")
        return str(value)
    if not all(" " <= char <= "~" for char in value):
        raise InvalidStructuredField("a string holds only visible ASCII and spaces")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def serialize_dictionary(members: Mapping[str, BareItem]) -> str:
    """RFC 9651 section 4.1.2, members without parameters; ``True`` is a bare key."""
    parts = []
    for key, value in members.items():
        if not _KEY.fullmatch(key):
            raise InvalidStructuredField(f"{key!r} is not a key")
        parts.append(key if value is True else f"{key}={serialize_bare_item(value)}")
    return ", ".join(parts)
