"""Per-request body digests: RFC 9530 ``Content-Digest`` and RFC 1864 ``Content-MD5``.

A client may send either header with a chunk; the body is hashed as it streams through (no second
read) and the chunk is acknowledged only if every digest the server supports matches. For a raw
``application/octet-stream`` chunk the body is the chunk; for a multipart chunk it is the whole
multipart body, as RFC 9530 section 2 defines content. Algorithms the server does not know are
ignored, as RFC 9530 section 5 allows; a header that cannot be parsed is refused.

Each algorithm hashes the body once however many members name it, and a header longer than
``MAX_HEADER_CHARS`` or with more than ``MAX_MEMBERS`` members is refused before the body is read:
gunicorn joins repeated headers, and one hash per member made the header a CPU amplifier.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import exceptions
from .bodies import Readable

# RFC 9530 section 5 registry names -> hashlib names (the "deprecated" ones are still checked).
ALGORITHMS = {"sha-256": "sha256", "sha-512": "sha512", "md5": "md5", "sha": "sha1"}
_MEMBER = re.compile(r"\s*([a-z*][a-z0-9_\-.*]*)\s*=\s*:([A-Za-z0-9+/=]*):\s*(?:;.*)?", re.ASCII)
_HEX_MD5 = re.compile(r"[0-9a-fA-F]{32}", re.ASCII)
# Four algorithms, a few members each, fit easily: a sha-512 member is about 100 characters.
MAX_HEADER_CHARS = 1024
MAX_MEMBERS = 16


@dataclass(frozen=True)
class _Expected:
    header: str
    algorithm: str
    digest: bytes


class BodyDigests:
    """The digests a request announced, fed with its body as it is read (once per algorithm)."""

    def __init__(self, expected: list[_Expected]) -> None:
        self._expected = expected
        self._hashers: dict[str, Any] = {
            item.algorithm: hashlib.new(item.algorithm, usedforsecurity=False) for item in expected
        }

    def update(self, data: bytes) -> None:
        for hasher in self._hashers.values():
            hasher.update(data)

    def verify(self) -> None:
        """Raise ``ChunkDigestMismatch`` unless every announced digest matches."""
        digests = {name: hasher.digest() for name, hasher in self._hashers.items()}
        for item in self._expected:
            if digests[item.algorithm] != item.digest:
                raise exceptions.ChunkDigestMismatch(item.header, item.algorithm)


class DigestingStream:
    """A read-only stream that feeds what it reads to ``BodyDigests``."""

    def __init__(self, stream: Readable, digests: BodyDigests) -> None:
        self._stream = stream
        self._digests = digests

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._digests.update(data)
        return data


def expect_digest(header: str, algorithm: str, digest: bytes) -> BodyDigests:
    """One announced digest of the body (``algorithm`` a hashlib name), from a header that
    another protocol defines (tus ``Upload-Checksum``)."""
    if len(digest) != hashlib.new(algorithm).digest_size:
        raise exceptions.InvalidChunkDigest(header)
    return BodyDigests([_Expected(header, algorithm, digest)])


def parse_body_digests(meta: Mapping[str, Any]) -> BodyDigests | None:
    """The digests of ``Content-Digest`` and ``Content-MD5``; ``None`` when neither is sent."""
    expected: list[_Expected] = []
    header = meta.get("HTTP_CONTENT_DIGEST")
    if header is not None:
        expected += _parse_content_digest(header)
    md5 = meta.get("HTTP_CONTENT_MD5")
    if md5 is not None:
        expected.append(_Expected("Content-MD5", "md5", _decode_md5(md5)))
    return BodyDigests(expected) if expected else None


def _parse_content_digest(header: str) -> list[_Expected]:
    members = header.split(",")
    if len(header) > MAX_HEADER_CHARS or len(members) > MAX_MEMBERS:
        raise exceptions.ChunkDigestHeaderTooLarge(MAX_HEADER_CHARS, MAX_MEMBERS)
    expected = []
    for member in members:
        match = _MEMBER.fullmatch(member)
        if match is None:
            raise exceptions.InvalidChunkDigest("Content-Digest")
        name, value = match.groups()
        algorithm = ALGORITHMS.get(name)
        if algorithm is None:
            continue
        digest = _b64(value, "Content-Digest")
        if len(digest) != hashlib.new(algorithm).digest_size:
            raise exceptions.InvalidChunkDigest("Content-Digest")
        expected.append(_Expected("Content-Digest", algorithm, digest))
    return expected


def _decode_md5(value: str) -> bytes:
    value = value.strip()
    # RFC 1864 says base64; some clients send hex, which is unambiguous at 32 characters.
    digest = bytes.fromhex(value) if _HEX_MD5.fullmatch(value) else _b64(value, "Content-MD5")
    if len(digest) != 16:
        raise exceptions.InvalidChunkDigest("Content-MD5")
    return digest


def _b64(value: str, header: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise exceptions.InvalidChunkDigest(header) from None
