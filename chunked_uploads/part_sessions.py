"""``PartSession``: one chunk of a parallel upload, written in the range it reserved (``parts.py``).

It has the interface of ``uploads.ChunkSession`` (``write``, ``commit``, ``abort``), so
``chunks.receive()`` streams a chunk the same way whatever the upload's mode.
"""

from __future__ import annotations

import time
from typing import Any, cast

from . import exceptions
from .combinable_checksums import Crc32cDigest, is_combinable
from .conf import conf
from .models import AbstractChunkedUpload
from .parts import acknowledge, advance_prefix, release, renew, state_bytes
from .ranges import ContentRange
from .resumable_digests import is_resumable, new_digest
from .stores import ChunkStore, ChunkWriter, FencedWriter, StoreBusy


class PartSession:
    """One chunk of a parallel upload being written in its reserved range."""

    def __init__(
        self,
        upload: AbstractChunkedUpload,
        token: str,
        byte_range: ContentRange,
        store: ChunkStore,
        name: str,
        *,
        created: bool,
    ) -> None:
        self.upload = upload
        self.byte_range: ContentRange | None = byte_range
        self.received = 0
        self.committed = False
        self._range = byte_range
        self._token = token
        self._store = store
        self._name = name
        self._created = created
        # A new upload whose client already knows its URL (``ChunkRequest.on_begin``) is kept
        # when its first chunk fails, as ``ChunkSession`` keeps one.
        self.keep_on_abort = False
        # Wall-clock time, as the reservation's expiry: a writer that stalled past it renews
        # before its next write, and stops there if another request took its range over.
        self._renewed_at = time.time()
        algorithm = upload.checksum_algorithm
        # A combinable checksum: the CRC of this chunk's own bytes, combined at completion.
        self._crc = Crc32cDigest() if is_combinable(algorithm) else None
        # At the prefix when reserved: nobody can move the prefix past this chunk's start until
        # it is stored, so the saved digest is that of exactly the bytes before it.
        at_prefix = upload.offset == byte_range.start and is_resumable(algorithm)
        self._digest = (
            new_digest(algorithm, state_bytes(upload.digest_state))
            if at_prefix and self._crc is None
            else None
        )
        self._writer: ChunkWriter | None = store.open_part_writer(
            name, byte_range.start, byte_range.length, upload.store_state
        )
        # A writer that can fence under its own lock does (``FencedWriter``); others are fenced
        # just before each write.
        self._fenced = isinstance(self._writer, FencedWriter)
        if self._fenced:
            cast(FencedWriter, self._writer).fence = self._renew_if_due

    def write(self, data: bytes | memoryview) -> None:
        if self.received + len(data) > self._range.length:
            raise exceptions.ChunkSizeMismatch(self.received + len(data), self._range.length)
        if not self._fenced:
            self._renew_if_due()
        assert self._writer is not None, "write() after commit() or abort()"
        try:
            self._writer.write(data)
        except StoreBusy:
            raise exceptions.UploadBusy() from None
        if self._digest is not None:
            self._digest.update(data)
        if self._crc is not None:
            self._crc.update(data)
        self.received += len(data)

    def commit(
        self, filename: str | None = None, *, announce: bool = True
    ) -> AbstractChunkedUpload:
        """Acknowledge the chunk, then move the prefix over what it completes."""
        byte_range = self._range
        if self.received != byte_range.length:
            raise exceptions.ChunkSizeMismatch(self.received, byte_range.length)
        assert self._writer is not None, "commit() twice"
        if conf.fsync:
            self._writer.sync()
        record = self._writer.finish()
        self._close_writer()
        fields: dict[str, Any] = {"filename": filename} if filename else {}
        if self._digest is not None:
            fields.update(offset=byte_range.end + 1, digest_state=self._digest.state())
        crc = self._crc.value if self._crc is not None else None
        acknowledge(self.upload, self._token, byte_range, record, crc, **fields)
        self.committed = True
        advance_prefix(self.upload, self._store, self._name)
        if announce:
            from .uploads import announce_chunk

            announce_chunk(self.upload, byte_range, created=self._created)
        return self.upload

    def _renew_if_due(self) -> None:
        """The fence: a reservation renewed less than a third of its length ago cannot have been
        taken over; an older one is renewed, or ``UploadBusy`` if another request took it."""
        if time.time() - self._renewed_at >= conf.lease_seconds / 3:
            renew(self.upload, self._token)
            self._renewed_at = time.time()

    def abort(self) -> None:
        if self.committed:
            return
        self._close_writer()
        if self._created and not self.keep_on_abort:
            self.upload.delete()
        else:
            release(self.upload, self._token)

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
