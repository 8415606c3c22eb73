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
    """What one interop version of the draft spells or answers differently, as read from the
    draft revision that names it (``draft``; the table in the IETF page of the docs)."""

    number: int
    draft: str
    # Interop 3 (draft -01) says ``Upload-Incomplete: ?1`` where later ones say ``Upload-Complete: ?0``.
    incomplete_header: bool = False
    # ``Content-Type: application/partial-upload`` on every append (interop 6 on).
    partial_upload_type: bool = True
    # ``Upload-Length`` and ``Upload-Limit`` exist (interop 6 on).
    lengths_and_limits: bool = True
    # An append without the completeness header: -01 counts it as the last one, -03 and -05 as
    # not the last (their examples send none); from -06 on it is required (``None``).
    append_complete_default: bool | None = None
    # An append that does not complete the upload: drafts -01 to -05 say it MUST be answered
    # ``201 (Created)``; from -06 on any 2xx (``204`` in the draft's example).
    stored_status: int = 204
    # Drafts -01 to -05: ``HEAD`` and ``DELETE`` carrying the upload's state headers get ``400``.
    refuses_state_headers: bool = False
    # The ``Upload-Limit`` key for the upload's remaining lifetime: ``expires`` in -04 and -05,
    # ``max-age`` from -06 on.
    expiry_key: str = "max-age"
    # From -09 on, an upload header whose value is not of its type "MUST cause the entire header
    # field to be ignored" (section 4.1); before, such a request is refused.
    ignores_malformed: bool = False
    # From -10 on, an append to a completed upload is an inconsistent length when it has content,
    # else 410 (Gone) with ``completed-upload`` (section 4.4.2); before, 400 ``completed-upload``.
    completed_append_gone: bool = False

    @property
    def complete_header(self) -> str:
        return "Upload-Incomplete" if self.incomplete_header else "Upload-Complete"

    def complete_value(self, complete: bool) -> str:
        return sf.serialize_bare_item(complete != self.incomplete_header)

    def state_headers(self, method: str) -> tuple[str, ...]:
        """The request headers a ``HEAD`` or ``DELETE`` must not carry (drafts -01 to -05)."""
        if not self.refuses_state_headers:
            return ()
        names: tuple[str, ...] = ("Upload-Offset", self.complete_header)
        if method == "HEAD" and self.lengths_and_limits:  # -05 adds Upload-Length, on HEAD only
            names += ("Upload-Length",)
        return names


VERSIONS = {
    3: InteropVersion(
        3, "-01", incomplete_header=True, partial_upload_type=False, lengths_and_limits=False,
        append_complete_default=True, stored_status=201, refuses_state_headers=True,
    ),
    5: InteropVersion(
        5, "-03", partial_upload_type=False, lengths_and_limits=False,
        append_complete_default=False, stored_status=201, refuses_state_headers=True,
    ),
    6: InteropVersion(
        6, "-05", append_complete_default=False, stored_status=201,
        refuses_state_headers=True, expiry_key="expires",
    ),
    8: InteropVersion(8, "-11", ignores_malformed=True, completed_append_gone=True),
}  # fmt: skip
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


def _typed(
    meta: Mapping[str, Any], name: str, interop: InteropVersion, expected: type, reason: str
) -> Any:
    """The header's value if it is of the ``expected`` type (a non-negative one for ``int``);
    otherwise refused, or ignored as if absent where the draft says so (``ignores_malformed``)."""
    try:
        value = _item(meta, name)
        negative = type(value) is int and value < 0
        if value is not None and (type(value) is not expected or negative):
            raise InvalidUploadHeader(name, reason)
    except InvalidUploadHeader:
        if interop.ignores_malformed:
            return None
        raise
    return value


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


def integer(meta: Mapping[str, Any], name: str, interop: InteropVersion) -> int | None:
    """A non-negative ``sf-integer`` header; ``None`` if absent."""
    value: int | None = _typed(meta, name, interop, int, "must be a non-negative integer")
    return value


def boolean(meta: Mapping[str, Any], name: str, interop: InteropVersion) -> bool | None:
    value: bool | None = _typed(meta, name, interop, bool, "must be ?0 or ?1")
    return value


def complete(meta: Mapping[str, Any], interop: InteropVersion, default: bool | None = None) -> bool:
    """Whether the request carries the upload's last byte (``Upload-Complete``); required
    unless a ``default`` says what its absence means."""
    name = interop.complete_header
    value = boolean(meta, name, interop)
    if value is None:
        if default is not None:
            return default
        raise InvalidUploadHeader(name, "is required (?0 or ?1)")
    return value != interop.incomplete_header


def offset(meta: Mapping[str, Any], interop: InteropVersion) -> int:
    value = integer(meta, "Upload-Offset", interop)
    if value is None:
        raise InvalidUploadHeader("Upload-Offset", "is required (a non-negative integer)")
    return value


def refuse_state_headers(meta: Mapping[str, Any], interop: InteropVersion, method: str) -> None:
    """Drafts -01 to -05: a ``HEAD`` or ``DELETE`` with the upload's state headers is a ``400``."""
    for name in interop.state_headers(method):
        if header(meta, name) is not None:
            raise InvalidUploadHeader(name, f"is not allowed on {method}")


def limits(
    max_bytes: int | None,
    interop: InteropVersion,
    upload: AbstractChunkedUpload | None = None,
) -> str:
    """``Upload-Limit``: ``max-size`` (the view's limit) and ``max-age`` (``expires`` in interop
    6: seconds the upload, or a new one, has before it expires)."""
    members: dict[str, sf.BareItem] = {}
    if max_bytes is not None and max_bytes <= sf.MAX_INTEGER:  # else no sf-integer: no limit
        members["max-size"] = max_bytes
    if upload is None:
        members[interop.expiry_key] = int(conf.expiration_delta.total_seconds())
    elif upload.status == UploadStatus.UPLOADING:
        left = (upload.expires_at - timezone.now()).total_seconds()
        members[interop.expiry_key] = max(0, int(left))
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
        limit = limits(max_bytes, interop, upload)
        if limit:
            headers["Upload-Limit"] = limit
    digest = repr_digest(upload)
    if digest is not None:
        headers["Repr-Digest"] = digest
    return headers
