"""Receiving one chunk, without HTTP: the protocol's checks in their order, then the bytes.

A protocol edge describes the chunk in a ``ChunkRequest`` (its byte range, parsed once from the
protocol's header; the digests to verify; the limits; which upload it is for) and hands it to
``receive()`` with a body reader (``bodies/``). ``receive()`` runs the checks of PROTOCOL.md in
their order (the per-user limits of ``quotas.py`` first), refusing what the headers alone refuse
before any body byte is read, then pulls the
chunk's blocks from the reader into the upload's ``ChunkSession`` (store writer + running digest)
and acknowledges them. The path of a chunk's bytes is this loop:
view -> body reader -> ``receive()`` -> ``ChunkSession.write()`` -> store + digest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import exceptions, quotas, uploads
from .bodies import ChunkBody, ChunkPart, clean_filename
from .chunk_digests import BodyDigests
from .models import AbstractChunkedUpload
from .part_sessions import PartSession
from .ranges import ContentRange, parse_content_range


@dataclass(frozen=True)
class NewUpload:
    """The chunk starts an upload of ``model``; ``owner()`` gives the owner's fields (or raises
    ``UserRequired``, check 11) when the chunk begins. ``user`` (in ``user_field``) is whom the
    per-user limits count against (``quotas.py``)."""

    model: type[AbstractChunkedUpload]
    owner: Callable[[], Mapping[str, Any]]
    user: Any = None
    user_field: str = "user"
    # Other fields of the new row the edge sets (tus: the ``Upload-Metadata`` header as sent).
    fields: Mapping[str, Any] = field(default_factory=dict)
    # Parallel mode: later chunks at any offset, in any order (``parts.py``).
    parallel: bool = False


@dataclass(frozen=True)
class ExistingUpload:
    """The chunk continues an upload; ``find()`` looks it up (or raises, check 6) when the chunk
    begins. An upload whose length is not known yet grows within its owner's (``user_field``)
    bytes quota (``quotas.check_growth()``)."""

    find: Callable[[], AbstractChunkedUpload]
    user_field: str = "user"


@dataclass(frozen=True)
class ChunkRequest:
    """What a protocol edge tells the core about one chunk request."""

    target: NewUpload | ExistingUpload
    # ``None`` with ``whole``: a whole file in one request, its length that of the body.
    byte_range: ContentRange | None = None
    # The range header's fault, reported in the protocol's order (after "no chunk").
    range_error: exceptions.UploadError | None = None
    whole: bool = False
    digests: BodyDigests | None = None
    max_bytes: int | None = None
    max_chunk_bytes: int | None = None
    # The request's ``Content-Length``: what a whole file in one request declares at most.
    body_length: int | None = None
    # Acknowledge an existing upload's progress every so many bytes within the chunk (tus: a
    # whole file in one PATCH); ``None``, the native protocol's choice: all or nothing.
    checkpoint_bytes: int | None = None
    # Called once the upload exists and this request holds it, before the first body byte is
    # read (the IETF edge sends its 104 interim response there). It returns whether the client
    # now knows the upload's URL: then a new upload is check-pointed too, and outlives a request
    # that fails part-way with what its check-points acknowledged.
    on_begin: Callable[[AbstractChunkedUpload], bool] | None = None

    @classmethod
    def for_range_header(cls, header: str | None, **fields: Any) -> ChunkRequest:
        """A chunk with a ``bytes START-END/TOTAL`` header, parsed (once) here."""
        try:
            return cls(byte_range=parse_content_range(header), **fields)
        except (exceptions.InvalidContentRange, exceptions.RangeExceedsTotal) as error:
            return cls(range_error=error, **fields)


@dataclass(frozen=True)
class Received:
    """An acknowledged chunk: the upload as recorded, and the request's other form fields."""

    upload: AbstractChunkedUpload
    fields: Mapping[str, Any]


def receive(request: ChunkRequest, body: ChunkBody) -> Received:
    """Check the chunk, stream it into the upload and acknowledge it."""
    check_quota(request)
    check_limits(request)
    part = body.open_chunk()  # check 1
    if request.digests is not None and not part.digestible:
        raise exceptions.ChunkDigestUnverifiable()
    session = begin(request, part)
    try:
        if request.on_begin is not None and request.on_begin(session.upload):
            session.keep_on_abort = True
        for block in part.blocks:
            session.write(block)
        fields = body.fields()
        if request.digests is not None:
            request.digests.verify()
        filename = fields.get("filename")
        name = clean_filename(filename) if isinstance(filename, str) else None
        upload = session.commit(filename=name, announce=not request.whole)
        return Received(upload, fields)
    except BaseException:
        session.abort()
        raise


def check_quota(request: ChunkRequest) -> None:
    """The per-user limits on unfinished uploads, for a chunk that starts one."""
    target = request.target
    if isinstance(target, NewUpload):
        length = request.body_length if request.whole else None
        declared = quotas.declared_total(request.byte_range, length)
        quotas.check_new_upload(target.model, target.user_field, target.user, declared)


def check_limits(request: ChunkRequest) -> None:
    """Refuse a chunk over a size limit from its headers alone, before any body byte is read
    (a multipart reader reads a whole block before it reaches the chunk's part)."""
    if request.byte_range is not None:
        check_sizes(request, request.byte_range, None)


def check_sizes(request: ChunkRequest, byte_range: ContentRange, length: int | None) -> None:
    """Checks 4 and 5: the total and per-chunk limits, and the body's length."""
    total = byte_range.total
    if request.max_bytes is not None and total is not None and total > request.max_bytes:
        raise exceptions.SizeLimitExceeded(request.max_bytes)
    max_chunk = request.max_chunk_bytes
    if max_chunk is not None and byte_range.length > max_chunk:
        raise exceptions.ChunkTooLarge(byte_range.length, max_chunk)
    if length is not None and length != byte_range.length:
        raise exceptions.ChunkSizeMismatch(length, byte_range.length)


def begin(request: ChunkRequest, part: ChunkPart) -> uploads.ChunkSession | PartSession:
    """Checks 2 to 11 and the upload's lease: the chunk opened for writing."""
    if request.range_error is not None:
        raise request.range_error  # checks 2 and 3
    byte_range = request.byte_range
    if request.whole and part.length is not None:
        byte_range = ContentRange.whole(part.length)
    if byte_range is not None:
        check_sizes(request, byte_range, part.length)
    target = request.target
    if isinstance(target, ExistingUpload):
        assert byte_range is not None, "a chunk of an existing upload has a range"
        # Check-points would acknowledge bytes before the body's digest was verified.
        checkpoints = request.checkpoint_bytes if request.digests is None else None
        upload = target.find()
        quotas.check_growth(upload, target.user_field, byte_range)
        return uploads.resume(upload, byte_range, checkpoints)
    owner = {**target.owner(), **target.fields}
    # Only a new upload whose client may learn its URL before the end is worth check-pointing.
    resumable = request.on_begin is not None and request.digests is None
    checkpoints = request.checkpoint_bytes if resumable else None
    return uploads.start(
        target.model,
        byte_range,
        part.file_name,
        owner,
        request.max_bytes,
        checkpoints,
        parallel=target.parallel,
    )
