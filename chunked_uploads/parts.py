"""Parallel uploads: the byte ranges of one upload, written in any order over several connections.

An upload started in parallel mode (``uploads.start(..., parallel=True)``) takes chunks at any
offset. Its row's ``parts`` column holds two lists (``end`` exclusive)::

    {"stored":   [[start, end, record], ...],          # acknowledged; ``record``: the store's
     "reserved": [[start, end, token, expires], ...]}  # being written, until ``expires`` (epoch s)

A chunk *reserves* its range, streams its bytes into the store (``ChunkStore.open_part_writer``),
then *acknowledges* it. Each step is one conditional
``UPDATE ... SET parts = P', parts_version = V + 1 WHERE pk = X AND parts_version = V``, ``P'``
computed from the value read at version ``V``; if another request changed the row in between,
the ``UPDATE`` changes nothing and the step reads again and retries. The same on SQLite,
PostgreSQL and MariaDB (no ``SELECT FOR UPDATE``, no transaction open while bytes stream), so no
two requests ever hold overlapping ranges (no double acceptance) and no acknowledgement overwrites
another (no lost range). A reservation expires after ``DRF_CHUNKED_UPLOAD_LEASE_SECONDS`` (renewed
while the chunk makes progress): a worker killed mid-chunk leaves an expired reservation and bytes
nobody counts, which the retry overwrites (local store) or which completion deletes (one object per
chunk).

``offset`` and ``digest_state`` keep their meaning: the contiguous prefix ``[0, offset)`` and the
running digest of exactly those bytes. A chunk that starts at the prefix when it is reserved feeds
that digest as it streams and moves the prefix when acknowledged; chunks that arrived ahead of the
prefix are read back from the store when the gap before them fills (``advance_prefix``). Only the
bytes that arrived ahead are read twice, and completion finds the digest (nearly) ready.

The mechanism knows nothing of HTTP or of who writes the ranges: a tus ``final`` upload made by
concatenating ``partial`` uploads is an upload in this mode whose stored ranges are the partial
uploads' bytes (see docs/architecture.md).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from typing import Any

from . import exceptions
from .combinable_checksums import Crc32cDigest, combine_all, is_combinable
from .conf import conf
from .models import AbstractChunkedUpload, UploadStatus
from .ranges import ContentRange
from .resumable_digests import is_resumable, new_digest
from .stores import ChunkStore

Parts = dict[str, Any]  # {"stored": [...], "reserved": [...], "digester": [token, expires]}
# Each step rewrites the row's list of ranges: bounded, so that tiny chunks cannot make every
# chunk of an upload cost more than the last (S3 has the same limit on parts).
MAX_PARTS = 10_000
_ATTEMPTS = 200  # conditional UPDATEs lost to other chunks of the same upload before "busy"
_READ_SIZE = 1024 * 1024
_CLAIM_POLL = 0.05  # seconds between looks at another request's read-back, when waiting
_ROW_FIELDS = (
    "parts",
    "parts_version",
    "offset",
    "digest_state",
    "status",
    "completed_at",
    "size",
    "store_state",
)


def empty_parts() -> Parts:
    return {"stored": [], "reserved": []}


def stored_spans(upload: AbstractChunkedUpload) -> list[tuple[int, int]]:
    """The stored bytes as ``[start, end]`` (inclusive) spans, adjacent ranges merged."""
    if not upload.parallel:
        return [(0, upload.offset - 1)] if upload.offset else []
    spans: list[tuple[int, int]] = []
    for start, end, *_ in sorted((upload.parts or empty_parts())["stored"]):
        if spans and spans[-1][1] + 1 == start:
            spans[-1] = (spans[-1][0], end - 1)
        else:
            spans.append((start, end - 1))
    return spans


def missing_spans(upload: AbstractChunkedUpload) -> list[tuple[int, int]]:
    """The gaps (``[start, end]``, inclusive) between the stored ranges and the declared size."""
    missing, position = [], 0
    for start, end in stored_spans(upload):
        if start > position:
            missing.append((position, start - 1))
        position = end + 1
    if upload.size is not None and position < upload.size:
        missing.append((position, upload.size - 1))
    return missing


def refresh(upload: AbstractChunkedUpload) -> None:
    try:
        upload.refresh_from_db(fields=_ROW_FIELDS)
    except type(upload).DoesNotExist:
        raise exceptions.UploadNotFound() from None


def change(upload: AbstractChunkedUpload, step: Callable[[Parts], Parts], **fields: Any) -> None:
    """Apply ``step`` to the row's parts with a conditional ``UPDATE`` on ``parts_version``,
    reading the row again and retrying while other requests win; ``step`` may raise."""
    manager = type(upload)._default_manager
    for _ in range(_ATTEMPTS):
        parts = step(upload.parts or empty_parts())
        version = upload.parts_version
        if manager.filter(pk=upload.pk, parts_version=version).update(
            parts=parts, parts_version=version + 1, **fields
        ):
            upload.parts, upload.parts_version = parts, version + 1
            for name, value in fields.items():
                setattr(upload, name, value)
            return
        refresh(upload)
    raise exceptions.UploadBusy()


def check_chunk(upload: AbstractChunkedUpload, byte_range: ContentRange) -> None:
    """Checks 7, 8 and 10 for a chunk of a parallel upload (9 is the overlap check)."""
    if upload.expired:
        raise exceptions.UploadExpired()
    if upload.status == UploadStatus.COMPLETE:
        raise exceptions.UploadAlreadyComplete()
    if upload.size is not None and byte_range.total is not None and upload.size != byte_range.total:
        raise exceptions.TotalMismatch(upload.size, byte_range.total)


def reserve(upload: AbstractChunkedUpload, byte_range: ContentRange) -> str:
    """Reserve the chunk's range: refuse bytes already stored (``RangeOverlap``), answer
    ``UploadBusy`` for bytes another request is writing; return the reservation's token."""
    token = uuid.uuid4().hex
    start, end = byte_range.start, byte_range.end + 1

    def step(parts: Parts) -> Parts:
        check_chunk(upload, byte_range)
        now = time.time()
        if any(s < end and start < e for s, e, *_ in parts["stored"]):
            raise exceptions.RangeOverlap(start, end - 1, stored_spans(upload))
        reserved = [r for r in parts["reserved"] if r[3] > now]
        if any(s < end and start < e for s, e, *_ in reserved):
            raise exceptions.UploadBusy()
        if len(parts["stored"]) + len(reserved) >= MAX_PARTS:
            raise exceptions.PartLayoutRefused(
                f"A parallel upload takes at most {MAX_PARTS} chunks: send larger chunks"
            )
        mine = [start, end, token, now + conf.lease_seconds]
        return {**parts, "reserved": [*reserved, mine]}

    change(upload, step)
    return token


def release(upload: AbstractChunkedUpload, token: str) -> None:
    """Drop a reservation (a chunk that failed); its bytes were never counted."""

    def step(parts: Parts) -> Parts:
        return {**parts, "reserved": [r for r in parts["reserved"] if r[2] != token]}

    with contextlib.suppress(exceptions.UploadError):  # gone or busy: it expires on its own
        change(upload, step)


def _without(parts: Parts, token: str) -> list[list[Any]]:
    """The reservations but ``token``'s; ``UploadBusy`` if it is no longer there (it expired
    and another request took its range: these bytes are not ours to acknowledge)."""
    reserved = [r for r in parts["reserved"] if r[2] != token]
    if len(reserved) == len(parts["reserved"]):
        raise exceptions.UploadBusy()
    return reserved


def acknowledge(
    upload: AbstractChunkedUpload,
    token: str,
    byte_range: ContentRange,
    record: Any,
    crc: int | None = None,
    **fields: Any,
) -> None:
    """Record the chunk's range as stored (with the store's record of it and, for a combinable
    checksum, the CRC of its bytes), in place of its reservation."""
    start, end = byte_range.start, byte_range.end + 1

    def step(parts: Parts) -> Parts:
        mine = [start, end, record, crc]
        stored = sorted([*parts["stored"], mine], key=lambda r: int(r[0]))
        return {**parts, "stored": stored, "reserved": _without(parts, token)}

    change(upload, step, **fields)


def renew(upload: AbstractChunkedUpload, token: str) -> None:
    """Push the reservation's expiry back while its chunk makes progress."""

    def step(parts: Parts) -> Parts:
        reserved = _without(parts, token)
        mine = next(r for r in parts["reserved"] if r[2] == token)
        return {**parts, "reserved": [*reserved, [*mine[:3], time.time() + conf.lease_seconds]]}

    change(upload, step)


def advance_prefix(
    upload: AbstractChunkedUpload, store: ChunkStore, name: str, *, wait: bool = False
) -> None:
    """Move the contiguous prefix over the stored ranges that follow it, feeding the running
    digest with their bytes read back from the store (the ranges that arrived ahead).

    One request at a time reads back (it holds the ``digester`` claim in ``parts``); the others
    leave their ranges to it, and it looks again after giving the claim up, so a range stored
    while it read is never left behind. ``wait``: wait for another reader instead (completion).
    """
    algorithm = upload.checksum_algorithm
    # A combinable checksum is computed from the chunks' CRCs at completion: nothing to read.
    if not is_resumable(algorithm) or is_combinable(algorithm):
        _move_prefix(upload, store, name, read_back=False)
        return
    while True:
        refresh(upload)
        if not _following(upload):
            return
        token = _claim(upload)
        if token is None:
            if not wait:
                return
            time.sleep(_CLAIM_POLL)  # another request reads back; completion waits for it
            continue
        try:
            _move_prefix(upload, store, name, read_back=True)
        finally:
            _unclaim(upload, token)


def _claim(upload: AbstractChunkedUpload) -> str | None:
    """Take the ``digester`` claim (free, or expired: its holder died), or ``None``."""
    token = uuid.uuid4().hex
    taken = False

    def step(parts: Parts) -> Parts:
        nonlocal taken
        holder = parts.get("digester")
        taken = not holder or holder[1] <= time.time()
        if not taken:
            return parts
        return {**parts, "digester": [token, time.time() + conf.lease_seconds]}

    change(upload, step)
    return token if taken else None


def _unclaim(upload: AbstractChunkedUpload, token: str) -> None:
    def step(parts: Parts) -> Parts:
        holder = parts.get("digester")
        return {**parts, "digester": None} if holder and holder[0] == token else parts

    with contextlib.suppress(exceptions.UploadError):
        change(upload, step)


def _move_prefix(
    upload: AbstractChunkedUpload, store: ChunkStore, name: str, *, read_back: bool
) -> None:
    """Move the prefix over the stored ranges that follow it (``read_back``: feeding them to the
    running digest), until none follows."""
    manager = type(upload)._default_manager
    algorithm = upload.checksum_algorithm
    for _ in range(_ATTEMPTS):
        refresh(upload)
        following = _following(upload)
        if not following:
            return
        fields: dict[str, Any] = {"offset": following[-1][1]}
        if read_back:
            digest = new_digest(algorithm, state_bytes(upload.digest_state))
            for start, end, record in following:
                _read_into(digest, store, name, start, end - start, record)
            fields["digest_state"] = digest.state()
        manager.filter(pk=upload.pk, offset=upload.offset).update(**fields)
    raise exceptions.UploadBusy()


def _following(upload: AbstractChunkedUpload) -> list[list[Any]]:
    following, position = [], upload.offset
    for start, end, record, *_ in (upload.parts or empty_parts())["stored"]:
        if start == position:
            following.append([start, end, record])
            position = end
    return following


def state_bytes(state: Any) -> bytes | None:
    return bytes(state) if state is not None else None


def _read_into(
    digest: Any, store: ChunkStore, name: str, start: int, length: int, record: Any
) -> None:
    with store.open_part_reader(name, start, record) as reader:
        while length > 0:
            block = reader.read(min(_READ_SIZE, length))
            if not block:
                raise exceptions.StoredBytesMissing(name)
            digest.update(block)
            length -= len(block)


def settle(upload: AbstractChunkedUpload, store: ChunkStore, name: str) -> None:
    """Before completion: every byte stored (else ``RangesMissing``), the prefix and its digest
    caught up (or the chunks' CRCs combined), and ``upload`` given the store's state naming the
    stored parts as one file."""
    refresh(upload)
    missing = missing_spans(upload)
    if missing:
        raise exceptions.RangesMissing(missing, upload.size or 0)
    advance_prefix(upload, store, name, wait=True)
    stored = (upload.parts or empty_parts())["stored"]
    fields: dict[str, Any] = {
        "store_state": store.assembled_state(
            name, upload.store_state, [(s, e - s, r) for s, e, r, *_ in stored]
        )
    }
    if is_combinable(upload.checksum_algorithm):
        crc = combine_all((entry[3], entry[1] - entry[0]) for entry in stored)
        fields["digest_state"] = Crc32cDigest(crc.to_bytes(4, "big")).state()
    # Set on this copy only, which completion goes on with: the row keeps what it had (a failed
    # completion settles again), and completing costs no extra write.
    for field, value in fields.items():
        setattr(upload, field, value)
