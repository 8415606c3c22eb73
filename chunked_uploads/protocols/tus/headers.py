"""tus 1.0.0 request headers parsed into plain values, and the response headers built from an upload.

Nothing here touches the database or DRF: a malformed header raises ``InvalidTusHeader`` (answered
400 by ``errors.py``) before any body byte is read.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.http import http_date

from ...bodies import clean_filename
from ...chunk_digests import BodyDigests, expect_digest
from ...exceptions import InvalidChunkDigest
from ...models import AbstractChunkedUpload, Concatenation, UploadStatus
from ...ranges import MAX_TOTAL
from ...resumable_digests import is_resumable, new_digest

TUS_VERSION = "1.0.0"
# ``concatenation-unfinished`` is not offered: a final upload's partials must be complete.
EXTENSIONS = (
    "creation",
    "creation-with-upload",
    "creation-defer-length",
    "termination",
    "checksum",
    "expiration",
    "concatenation",
)
# ``Upload-Checksum`` algorithm names (tus: sha1 is required) -> hashlib names.
CHECKSUM_ALGORITHMS = {"sha1": "sha1", "md5": "md5", "sha256": "sha256", "sha512": "sha512"}
# RFC 9530 section 5 registry names of the running digest's algorithms, for ``Repr-Digest``.
REPR_DIGEST_NAMES = {"sha256": "sha-256", "sha512": "sha-512", "md5": "md5", "sha1": "sha"}
OFFSET_STREAM = "application/offset+octet-stream"
_METADATA_KEY = re.compile(r"[!-+\--~]+", re.ASCII)  # visible ASCII but the comma
_INTEGER = re.compile(r"[0-9]{1,19}", re.ASCII)
_CONCAT_URL = re.compile(r"[!-~]{1,2048}", re.ASCII)  # visible ASCII, no space: one URL


class InvalidTusHeader(Exception):
    """A tus request header is missing, malformed or contradicts another one."""

    def __init__(self, header: str, reason: str) -> None:
        super().__init__(header, reason)
        self.header, self.reason = header, reason


class UnsupportedTusVersion(Exception):
    """``Tus-Resumable`` is missing or names another version."""


class UnsupportedContentType(Exception):
    """A ``PATCH`` (or a creation with a body) that is not ``application/offset+octet-stream``."""


class FinalUploadPatched(Exception):
    """A ``PATCH`` to a final upload, whose bytes are its partial uploads' (tus: 403)."""


@dataclass(frozen=True)
class UploadConcat:
    """``Upload-Concat``: ``partial``, or ``final;<url> <url> ...`` (``urls`` in order)."""

    final: bool
    urls: tuple[str, ...] = ()


def header(meta: Mapping[str, Any], name: str) -> str | None:
    """The request header ``name`` (``Upload-Offset``), or ``None``."""
    value = meta.get("HTTP_" + name.upper().replace("-", "_"))
    return value if isinstance(value, str) else None


def check_version(meta: Mapping[str, Any]) -> None:
    if header(meta, "Tus-Resumable") != TUS_VERSION:
        raise UnsupportedTusVersion()


def integer(meta: Mapping[str, Any], name: str) -> int | None:
    """A non-negative integer header no larger than a database column holds; ``None`` if absent."""
    value = header(meta, name)
    if value is None:
        return None
    if not _INTEGER.fullmatch(value.strip()) or int(value) > MAX_TOTAL:
        raise InvalidTusHeader(name, "must be a non-negative integer")
    return int(value)


def upload_length(meta: Mapping[str, Any]) -> int | None:
    """``Upload-Length``, or ``None`` with ``Upload-Defer-Length: 1``; exactly one is required."""
    length = integer(meta, "Upload-Length")
    defer = header(meta, "Upload-Defer-Length")
    if defer is not None and defer.strip() != "1":
        raise InvalidTusHeader("Upload-Defer-Length", "must be 1")
    if (length is None) == (defer is None):
        raise InvalidTusHeader("Upload-Length", "send either Upload-Length or Upload-Defer-Length")
    return length


def upload_concat(meta: Mapping[str, Any], max_partials: int) -> UploadConcat | None:
    """``Upload-Concat`` parsed strictly: ``partial``, or ``final;`` and one to ``max_partials``
    distinct URLs separated by spaces; ``None`` if absent."""
    value = header(meta, "Upload-Concat")
    if value is None:
        return None
    value = value.strip()
    if value == "partial":
        return UploadConcat(final=False)
    kind, separator, listed = value.partition(";")
    urls = tuple(listed.split(" "))
    if kind != "final" or not separator or not all(_CONCAT_URL.fullmatch(u) for u in urls):
        raise InvalidTusHeader(
            "Upload-Concat", "must be 'partial' or 'final;' and URLs separated by one space"
        )
    if len(urls) > max_partials:
        raise InvalidTusHeader(
            "Upload-Concat", f"lists {len(urls)} partial uploads, more than {max_partials}"
        )
    if len(set(urls)) != len(urls):
        raise InvalidTusHeader("Upload-Concat", "lists a partial upload more than once")
    return UploadConcat(final=True, urls=urls)


# The metadata is stored with the upload and echoed by every ``HEAD``: bounded here, not only by
# the server in front (gunicorn's default header field limit is 8,190 bytes; others allow more).
MAX_METADATA_CHARS = 8192


def parse_metadata(value: str | None) -> dict[str, bytes]:
    """``Upload-Metadata``: comma-separated ``key`` or ``key base64value`` pairs, keys unique."""
    pairs: dict[str, bytes] = {}
    if value is None or not value.strip():
        return pairs
    if len(value) > MAX_METADATA_CHARS:
        raise InvalidTusHeader("Upload-Metadata", f"is over {MAX_METADATA_CHARS} characters")
    for item in value.split(","):
        key, _, encoded = item.strip().partition(" ")
        if not _METADATA_KEY.fullmatch(key) or key in pairs or " " in encoded.strip():
            raise InvalidTusHeader("Upload-Metadata", f"malformed or repeated key {key!r}")
        try:
            pairs[key] = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidTusHeader("Upload-Metadata", f"{key!r} is not base64") from None
    return pairs


def metadata_filename(metadata: Mapping[str, bytes]) -> str | None:
    """The file name a client put in the metadata (tus-js-client and Uppy: ``filename``)."""
    for key in ("filename", "name"):
        if key in metadata:
            return clean_filename(metadata[key].decode("utf-8", errors="replace"))
    return None


def upload_checksum(meta: Mapping[str, Any]) -> BodyDigests | None:
    """``Upload-Checksum: <algorithm> <base64 digest of the request body>``, if sent."""
    value = header(meta, "Upload-Checksum")
    if value is None:
        return None
    name, _, encoded = value.strip().partition(" ")
    algorithm = CHECKSUM_ALGORITHMS.get(name.lower())
    if algorithm is None:
        raise InvalidChunkDigest("Upload-Checksum")
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidChunkDigest("Upload-Checksum") from None
    return expect_digest("Upload-Checksum", algorithm, digest)


def capabilities(max_bytes: int | None) -> dict[str, str]:
    """What ``OPTIONS`` announces."""
    headers = {
        "Tus-Version": TUS_VERSION,
        "Tus-Extension": ",".join(EXTENSIONS),
        "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
    }
    if max_bytes is not None:
        headers["Tus-Max-Size"] = str(max_bytes)
    return headers


def expires(upload: AbstractChunkedUpload) -> dict[str, str]:
    """``Upload-Expires`` while the upload may still expire."""
    if upload.status != UploadStatus.UPLOADING:
        return {}
    return {"Upload-Expires": http_date(upload.expires_at.timestamp())}


def upload_state(upload: AbstractChunkedUpload, partial_urls: Sequence[str] = ()) -> dict[str, str]:
    """The headers of a ``HEAD``: offset, length, metadata as sent, expiry, digest when done;
    ``Upload-Concat`` for a partial or final upload (``partial_urls``: a final upload's partials)."""
    headers = {"Upload-Offset": str(upload.offset), **expires(upload)}
    if upload.concatenation == Concatenation.PARTIAL:
        headers["Upload-Concat"] = "partial"
    elif upload.concatenation == Concatenation.FINAL:
        headers["Upload-Concat"] = "final;" + " ".join(partial_urls)
    if upload.size is None:
        headers["Upload-Defer-Length"] = "1"
    else:
        headers["Upload-Length"] = str(upload.size)
    if upload.tus_metadata:
        headers["Upload-Metadata"] = upload.tus_metadata
    digest = repr_digest(upload)
    if digest is not None:
        headers["Repr-Digest"] = digest
    return headers


def repr_digest(upload: AbstractChunkedUpload) -> str | None:
    """RFC 9530 ``Repr-Digest`` of a completed upload, from its running digest (no re-read)."""
    algorithm = upload.checksum_algorithm
    name = REPR_DIGEST_NAMES.get(algorithm)
    if upload.status != UploadStatus.COMPLETE or name is None or not is_resumable(algorithm):
        return None
    digest = bytes.fromhex(new_digest(algorithm, upload.digest_state).hexdigest())
    return f"{name}=:{base64.b64encode(digest).decode('ascii')}:"
