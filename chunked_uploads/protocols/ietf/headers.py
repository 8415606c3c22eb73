"""The draft's request headers parsed into plain values, per interop version, and the response
headers built from an upload.

Clients name the draft they speak in ``Upload-Draft-Interop-Version``; each version spells a few
things its own way (``InteropVersion``) and the answer uses the client's spelling. Every upload
header is a structured field (RFC 9651), parsed strictly by ``structured_fields.py``. Nothing here
touches the database or DRF: a malformed header raises ``InvalidUploadHeader`` before any body byte
is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from ...conf import conf
from ...models import AbstractChunkedUpload, UploadStatus
from ..tus.headers import repr_digest
from . import structured_fields as sf

PARTIAL_UPLOAD = "application/partial-upload"
VERSION_HEADER = "Upload-Draft-Interop-Version"
# A header longer than this is no offset, length or boolean: refused before it is parsed.
MAX_HEADER_CHARS = 64


@dataclass(frozen=True)
class InteropVersion:
    """What one interop version of the draft spells differently."""

    number: int
    draft: str
    # Interop 3 (draft -01) says ``Upload-Incomplete: ?1`` where later ones say ``Upload-Complete: ?0``.
    incomplete_header: bool = False
    # ``Content-Type: application/partial-upload`` on every append (interop 6 on).
    partial_upload_type: bool = True
    # ``Upload-Length`` and ``Upload-Limit`` exist (interop 6 on).
    lengths_and_limits: bool = True

    @property
    def complete_header(self) -> str:
        return "Upload-Incomplete" if self.incomplete_header else "Upload-Complete"

    def complete_value(self, complete: bool) -> str:
        return sf.serialize_bare_item(complete != self.incomplete_header)


VERSIONS = {
    3: InteropVersion(3, "-01", True, False, False),
    5: InteropVersion(5, "-03", False, False, False),
    6: InteropVersion(6, "-05"),
    8: InteropVersion(8, "-11"),
}
LATEST = VERSIONS[8]


class InvalidUploadHeader(Exception):
    """A request header is missing, malformed or contradicts another one."""

    def __init__(self, header: str, reason: str) -> None:
        super().__init__(header, reason)
        self.header, self.reason = header, reason


class UnsupportedInteropVersion(Exception):
    """``Upload-Draft-Interop-Version`` is missing or names a version this server does not speak."""

    def __init__(self, sent: str | None) -> None:
        super().__init__(sent)
        self.sent = sent


class UnsupportedContentType(Exception):
    """An append whose body is not ``application/partial-upload`` (interop 6 on)."""


def header(meta: Mapping[str, Any], name: str) -> str | None:
    value = meta.get("HTTP_" + name.upper().replace("-", "_"))
    return value if isinstance(value, str) else None


def _item(meta: Mapping[str, Any], name: str) -> sf.BareItem | None:
    value = header(meta, name)
    if value is None:
        return None
    if len(value) > MAX_HEADER_CHARS:
        raise InvalidUploadHeader(name, "is too long")
    try:
        return sf.parse_item(value).value  # parameters are allowed and ignored (RFC 9651 3.1.2)
    except sf.InvalidStructuredField as exc:
        raise InvalidUploadHeader(name, f"is not a structured field: {exc.reason}") from None


def version(meta: Mapping[str, Any]) -> InteropVersion:
    """The client's interop version; refused when missing or unknown."""
    sent = header(meta, VERSION_HEADER)
    value: sf.BareItem | None = None
    if sent is not None and len(sent) <= MAX_HEADER_CHARS:
        with suppress(sf.InvalidStructuredField):
            value = sf.parse_item(sent).value
    found = VERSIONS.get(value) if type(value) is int else None
    if found is None:
        raise UnsupportedInteropVersion(sent)
    return found


def integer(meta: Mapping[str, Any], name: str) -> int | None:
    """A non-negative ``sf-integer`` header; ``None`` if absent."""
    value = _item(meta, name)
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise InvalidUploadHeader(name, "must be a non-negative integer")
    return value


def boolean(meta: Mapping[str, Any], name: str) -> bool | None:
    value = _item(meta, name)
    if value is not None and type(value) is not bool:
        raise InvalidUploadHeader(name, "must be ?0 or ?1")
    return value


def complete(meta: Mapping[str, Any], interop: InteropVersion) -> bool:
    """Whether the request carries the upload's last byte (``Upload-Complete``, required)."""
    name = interop.complete_header
    value = boolean(meta, name)
    if value is None:
        raise InvalidUploadHeader(name, "is required")
    return value != interop.incomplete_header


def offset(meta: Mapping[str, Any]) -> int:
    value = integer(meta, "Upload-Offset")
    if value is None:
        raise InvalidUploadHeader("Upload-Offset", "is required")
    return value


def limits(max_bytes: int | None, upload: AbstractChunkedUpload | None = None) -> str:
    """``Upload-Limit``: ``max-size`` (the view's limit) and ``max-age`` (seconds the upload, or
    a new one, has before it expires)."""
    members: dict[str, sf.BareItem] = {}
    if max_bytes is not None and max_bytes <= sf.MAX_INTEGER:  # else no sf-integer: no limit
        members["max-size"] = max_bytes
    if upload is None:
        members["max-age"] = int(conf.expiration_delta.total_seconds())
    elif upload.status == UploadStatus.UPLOADING:
        left = (upload.expires_at - timezone.now()).total_seconds()
        members["max-age"] = max(0, int(left))
    return sf.serialize_dictionary(members)


def upload_state(
    upload: AbstractChunkedUpload, interop: InteropVersion, max_bytes: int | None
) -> dict[str, str]:
    """The headers that describe an upload: offset, completeness, length, limits, digest."""
    done = upload.status == UploadStatus.COMPLETE
    headers = {
        "Upload-Offset": str(upload.offset),
        interop.complete_header: interop.complete_value(done),
    }
    if interop.lengths_and_limits:
        if upload.size is not None:
            headers["Upload-Length"] = str(upload.size)
        limit = limits(max_bytes, upload)
        if limit:
            headers["Upload-Limit"] = limit
    digest = repr_digest(upload)
    if digest is not None:
        headers["Repr-Digest"] = digest
    return headers
