"""The transactional core of an upload, without HTTP: ``start``, ``resume``, ``complete``, ``abort``.

Writers of one upload are serialized by a lease in its row: a conditional ``UPDATE`` takes it (the
same on SQLite, PostgreSQL and MariaDB, and no transaction stays open while bytes stream), the writer
renews it while it makes progress, and the new offset is recorded by another conditional ``UPDATE``
(``... WHERE lease_token = T AND offset = start``), so even a lost lease cannot move an offset twice.
Before writing, the store drops any byte past the recorded offset: bytes of a request that died
before it was acknowledged never survive. Completion compares the running digest saved in the row,
so it never re-reads the file (unless the algorithm cannot be saved, see ``resumable_digests.py``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import IntegrityError, router, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.crypto import salted_hmac

from . import exceptions, handoff, parts, signals
from .combinable_checksums import is_combinable
from .conf import conf
from .models import AbstractChunkedUpload, Concatenation, UploadStatus
from .part_sessions import PartSession
from .ranges import ContentRange
from .resumable_digests import is_resumable, new_digest
from .stores import (
    ChunkStore,
    ChunkWriter,
    StoreBusy,
    completed_name,
    get_store,
)

Upload = TypeVar("Upload", bound=AbstractChunkedUpload)

_FREE_LEASE = {"lease_token": None, "lease_expires_at": None}
_READ_SIZE = 1024 * 1024


def _lease_until() -> datetime:
    return timezone.now() + _lease_delta()


def _lease_delta() -> timedelta:
    return timedelta(seconds=conf.lease_seconds)


def _acquire(upload: Upload) -> uuid.UUID:
    """Take the upload's lease, or refresh ``upload`` and raise ``UploadBusy``.

    The ``UPDATE`` also requires the row's ``offset`` and ``completed_at`` to be those of
    ``upload``: every other field a writer relies on (size, digest and store state, file name,
    status) changes only under a lease together with one of them (completion sets ``status`` and
    ``completed_at`` together), so when the lease is taken the caller's copy is current and need
    not be read again. A stale copy is refreshed and the lease tried once more. ``status`` itself
    is not in the ``WHERE``: it is indexed, and on MariaDB a condition on it let InnoDB lock the
    status index entry before the row and deadlock with a completion changing that entry.
    """
    manager = type(upload)._default_manager
    for _ in range(2):
        token = uuid.uuid4()
        now = timezone.now()
        expires = now + _lease_delta()
        free = Q(lease_token__isnull=True) | Q(lease_expires_at__lte=now)
        taken = (
            manager.filter(pk=upload.pk, offset=upload.offset, completed_at=upload.completed_at)
            .filter(free)
            .update(lease_token=token, lease_expires_at=expires)
        )
        if taken:
            upload.lease_token, upload.lease_expires_at = token, expires
            return token
        offset, completed_at = upload.offset, upload.completed_at
        _refresh(upload)
        if (upload.offset, upload.completed_at) == (offset, completed_at):
            break  # the copy was current: the lease is held by another request
    raise exceptions.UploadBusy()


def _refresh(upload: AbstractChunkedUpload) -> None:
    try:
        upload.refresh_from_db()
    except type(upload).DoesNotExist:
        raise exceptions.UploadNotFound() from None


def _release(upload: AbstractChunkedUpload, token: uuid.UUID) -> None:
    type(upload)._default_manager.filter(pk=upload.pk, lease_token=token).update(**_FREE_LEASE)


def _insert(upload: AbstractChunkedUpload) -> None:
    """Insert the new upload's row; ``UploadBusy`` if its id is taken: another request with the
    same idempotency key made it a moment ago (``idempotent_id``), and its retry will find it."""
    model = type(upload)
    try:
        with transaction.atomic(using=router.db_for_write(model, instance=upload)):
            upload.save(force_insert=True)
    except IntegrityError:
        if model._default_manager.filter(pk=upload.pk).exists():
            raise exceptions.UploadBusy() from None
        raise


def hold_new(upload: AbstractChunkedUpload) -> uuid.UUID:
    """Give ``upload``, a row about to be inserted, a lease held by its creator: a first chunk's
    request (``start()``), or the maker of a final upload (``concatenation``, so that one whose
    maker died can be told from one being made)."""
    token = uuid.uuid4()
    upload.lease_token, upload.lease_expires_at = token, _lease_until()
    return token


def renew_lease(upload: AbstractChunkedUpload, token: uuid.UUID) -> None:
    """Extend the lease ``token`` holds on ``upload``; ``UploadBusy`` if another took it over."""
    manager = type(upload)._default_manager
    if not manager.filter(pk=upload.pk, lease_token=token).update(lease_expires_at=_lease_until()):
        raise exceptions.UploadBusy()


def check_writable(upload: AbstractChunkedUpload) -> None:
    """Refuse an expired or completed upload (checks 7 and 8 of the protocol)."""
    if upload.expired:
        raise exceptions.UploadExpired()
    if upload.status == UploadStatus.COMPLETE:
        raise exceptions.UploadAlreadyComplete()


def check_range(upload: AbstractChunkedUpload, byte_range: ContentRange) -> None:
    """Refuse a chunk that does not continue the upload (checks 9 and 10)."""
    if upload.offset != byte_range.start:
        raise exceptions.OffsetMismatch(upload.offset, byte_range.start)
    if upload.size is not None and byte_range.total is not None and upload.size != byte_range.total:
        raise exceptions.TotalMismatch(upload.size, byte_range.total)


class ChunkSession:
    """One chunk being written under the upload's lease; ``commit()`` acknowledges it."""

    def __init__(
        self,
        upload: AbstractChunkedUpload,
        token: uuid.UUID,
        byte_range: ContentRange | None,
        store: ChunkStore,
        *,
        created: bool,
        max_bytes: int | None = None,
        checkpoint_bytes: int | None = None,
    ) -> None:
        self.upload = upload
        # ``None``: a whole file whose length is known only at its end, bounded by ``max_bytes``.
        self.byte_range = byte_range
        self.max_bytes = max_bytes
        # Acknowledge progress every so many bytes (``None``: only the whole chunk, at commit).
        self.checkpoint_bytes = checkpoint_bytes
        self.received = 0
        # Bytes of this chunk acknowledged by check-points so far.
        self.checkpointed = 0
        self.committed = False
        self._token = token
        self._store = store
        self._created = created
        # A new upload whose client already knows its URL (IETF 104) survives ``abort()``.
        self.keep_on_abort = False
        self._renewed_at = time.monotonic()
        algorithm = upload.checksum_algorithm
        self._digest = (
            new_digest(algorithm, upload.digest_state) if is_resumable(algorithm) else None
        )
        start = byte_range.start if byte_range is not None else 0
        self._writer: ChunkWriter | None = _open_writer(store, upload, start)

    def write(self, data: bytes | memoryview) -> None:
        """Store the next bytes of the chunk and feed them to the running digest."""
        self._check_length(self.received + len(data))
        # The fence: a lease renewed less than a third of its length ago cannot have been taken
        # over, so a request that stalled past its lease stops here, before writing a byte.
        self._renew_if_due()
        assert self._writer is not None, "write() after commit() or abort()"
        try:
            self._writer.write(data)
        except StoreBusy:
            raise exceptions.UploadBusy() from None
        if self._digest is not None:
            self._digest.update(data)
        self.received += len(data)
        if self._checkpoint_due():
            self.checkpoint()

    def _checkpoint_due(self) -> bool:
        if not self.checkpoint_bytes or self.received - self.checkpointed < self.checkpoint_bytes:
            return False
        # The chunk's last byte is acknowledged by ``commit()``, with the upload's completion
        # right after: a check-point there would only cost one more write.
        return self.byte_range is None or self.received < self.byte_range.length

    def checkpoint(self) -> None:
        """Acknowledge the bytes received so far without ending the chunk.

        The store makes them durable first (``ChunkWriter.checkpoint()``), then the offset, the
        digest state and the store's state are recorded in one conditional ``UPDATE`` under the
        lease, as ``commit()`` does: a request that dies later leaves the upload resumable here.
        No signal is sent; ``chunk_received`` follows the chunk's ``commit()``.
        """
        assert self._writer is not None, "checkpoint() after commit() or abort()"
        store_state = self._writer.checkpoint()
        start = self.byte_range.start if self.byte_range is not None else 0
        fields: dict[str, Any] = {
            "offset": start + self.received,
            "store_state": store_state,
            "digest_state": self._digest.state() if self._digest is not None else None,
            "lease_expires_at": _lease_until(),
        }
        manager = type(self.upload)._default_manager
        if not manager.filter(
            pk=self.upload.pk, lease_token=self._token, offset=start + self.checkpointed
        ).update(**fields):
            raise exceptions.UploadBusy()
        for name, value in fields.items():
            setattr(self.upload, name, value)
        self.checkpointed = self.received
        self._renewed_at = time.monotonic()

    def commit(
        self, filename: str | None = None, *, announce: bool = True
    ) -> AbstractChunkedUpload:
        """Acknowledge the chunk: record the new offset and digest state, release the lease.

        ``announce=False`` holds the signals back: a single shot sends them once it completed.
        """
        byte_range = self.byte_range or ContentRange.whole(self.received)
        if self.received != byte_range.length:
            raise exceptions.ChunkSizeMismatch(self.received, byte_range.length)
        self.byte_range = byte_range
        assert self._writer is not None, "commit() twice"
        if conf.fsync:
            self._writer.sync()
        store_state = self._writer.finish()
        self._close_writer()
        upload = self.upload
        fields: dict[str, Any] = {
            "offset": byte_range.end + 1,
            "store_state": store_state,
            "size": byte_range.total if byte_range.total is not None else upload.size,
            "digest_state": self._digest.state() if self._digest is not None else None,
            **_FREE_LEASE,
        }
        if filename:
            fields["filename"] = filename
        manager = type(upload)._default_manager
        updated = manager.filter(
            pk=upload.pk, lease_token=self._token, offset=byte_range.start + self.checkpointed
        ).update(**fields)
        if not updated:
            # The lease ran out and another request took over: these bytes are not ours to
            # acknowledge; that request already truncated them away or will.
            raise exceptions.UploadBusy()
        for name, value in fields.items():
            setattr(upload, name, value)
        self.committed = True
        if announce:
            self._send_signals()
        return upload

    def abort(self) -> None:
        """Give up the chunk: its bytes are dropped by the next writer; a new upload is removed.

        A no-op once committed: acknowledged bytes are never taken back (say, when a signal
        receiver raised after the commit).
        """
        if self.committed:
            return
        self._close_writer()
        if self._created and not self.keep_on_abort:
            delete_upload(self.upload)
            return
        _release(self.upload, self._token)
        if self._created:  # kept: its client knows it, so it has started (with what was kept)
            signals.upload_started.send(sender=type(self.upload), upload=self.upload)

    def _check_length(self, length: int) -> None:
        if self.byte_range is not None and length > self.byte_range.length:
            raise exceptions.ChunkSizeMismatch(length, self.byte_range.length)
        if self.byte_range is None and self.max_bytes is not None and length > self.max_bytes:
            raise exceptions.SizeLimitExceeded(self.max_bytes)

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _renew_if_due(self) -> None:
        if time.monotonic() - self._renewed_at < conf.lease_seconds / 3:
            return
        renew_lease(self.upload, self._token)
        self._renewed_at = time.monotonic()

    def _send_signals(self) -> None:
        assert self.byte_range is not None
        announce_chunk(self.upload, self.byte_range, created=self._created)


def announce_chunk(
    upload: AbstractChunkedUpload, byte_range: ContentRange, *, created: bool
) -> None:
    """Send ``upload_started`` (for a new upload) and ``chunk_received`` for a stored chunk."""
    sender = type(upload)
    if created:
        signals.upload_started.send(sender=sender, upload=upload)
    signals.chunk_received.send(
        sender=sender, upload=upload, start=byte_range.start, end=byte_range.end
    )


def stored_name(upload: AbstractChunkedUpload) -> str:
    """The name of the upload's bytes in its store."""
    name = upload.file.name
    if not name:
        raise exceptions.StoredBytesMissing()
    return name


def _open_writer(store: ChunkStore, upload: AbstractChunkedUpload, offset: int) -> ChunkWriter:
    try:
        return store.open_writer(stored_name(upload), offset, upload.store_state)
    except StoreBusy:
        raise exceptions.UploadBusy() from None
    except FileNotFoundError:
        raise exceptions.StoredBytesMissing() from None


_IDEMPOTENCY_SALT = "chunked_uploads.uploads.idempotent_id"


def idempotent_id(
    model: type[AbstractChunkedUpload], owner: Mapping[str, Any], key: str
) -> uuid.UUID:
    """The id of the upload a creation request carrying the idempotency ``key`` makes for
    ``owner``: the same when the request is sent again, another for any other owner or key. A
    second row with that id cannot be inserted, so two requests with one key never make two
    uploads, on any database. It is an HMAC under the project's ``SECRET_KEY``: nobody can tell
    an upload's id from its key, as nobody can guess an id made at random."""
    who = "&".join(f"{name}={getattr(value, 'pk', value)}" for name, value in sorted(owner.items()))
    name = f"{model._meta.label_lower}\n{who}\n{key}"
    digest = salted_hmac(_IDEMPOTENCY_SALT, name, algorithm="sha256").digest()
    return uuid.UUID(bytes=digest[:16], version=4)


def made_before(
    queryset: QuerySet[Upload],
    upload_id: uuid.UUID,
    *,
    total: int | None,
    parallel: bool,
    whole: bool,
) -> Upload | None:
    """The upload an earlier creation request with the same idempotency key made, for its retry
    (``idempotent_id``), or ``None``: the earlier request never made it, or it expired unfinished,
    or (``whole``) it is the remains of a single shot that died part-way; those are deleted here,
    so that the retry makes the upload again. ``IdempotencyKeyReused`` if it was made for another
    total or mode; ``UploadBusy`` while the earlier request still writes it."""
    upload = queryset.filter(pk=upload_id).first()
    if upload is None:
        return None
    if upload.expired:  # nothing to go on with: the retry starts the upload again
        delete_upload(upload)
        return None
    if upload.parallel != parallel or (total is not None and upload.size != total):
        raise exceptions.IdempotencyKeyReused()
    if upload.status == UploadStatus.COMPLETE:
        return upload
    expires = upload.lease_expires_at
    if upload.lease_token is not None and expires is not None and expires > timezone.now():
        raise exceptions.UploadBusy()  # the earlier request is still writing it
    if whole:
        delete_upload(upload)
        return None
    return upload


def start(
    model: type[AbstractChunkedUpload],
    byte_range: ContentRange | None,
    filename: str | None,
    owner: Mapping[str, Any],
    max_bytes: int | None = None,
    checkpoint_bytes: int | None = None,
    *,
    parallel: bool = False,
) -> ChunkSession | PartSession:
    """Create an upload for its first chunk and open that chunk for writing.

    ``byte_range`` is ``None`` for a whole file whose length the request did not tell.
    ``checkpoint_bytes``: acknowledge progress every so many bytes, for a client that learns the
    upload's URL before the body ends (the session's ``keep_on_abort`` then keeps it).
    ``parallel``: later chunks may come at any offset, in any order (``parts.py``); the first
    one still starts at 0.
    """
    if byte_range is not None and byte_range.start != 0:
        raise exceptions.OffsetMismatch(0, byte_range.start)
    store = get_store()
    if parallel:
        _check_parallel(store, byte_range)
    upload = model(
        size=byte_range.total if byte_range is not None else None,
        checksum_algorithm=conf.checksum,
        **owner,
    )
    if parallel:
        assert byte_range is not None
        token = uuid.uuid4()
        upload.parallel = True
        mine = [0, byte_range.length, token.hex, time.time() + conf.lease_seconds]
        upload.parts = {"stored": [], "reserved": [mine]}
    else:
        token = hold_new(upload)
    upload.filename = filename or str(upload.pk)
    _insert(upload)
    try:
        field = upload._meta.get_field("file")
        upload.file.name = store.create(field.generate_filename(upload, upload.filename))
        model._default_manager.filter(pk=upload.pk).update(file=upload.file.name)
        if parallel:
            assert byte_range is not None and byte_range.total is not None  # _check_parallel
            name = upload.file.name
            upload.store_state = store.begin_parts(name, byte_range.length, byte_range.total)
            model._default_manager.filter(pk=upload.pk).update(store_state=upload.store_state)
            return PartSession(upload, token.hex, byte_range, store, name, created=True)
        return ChunkSession(
            upload,
            token,
            byte_range,
            store,
            created=True,
            max_bytes=max_bytes,
            checkpoint_bytes=checkpoint_bytes,
        )
    except BaseException:
        delete_upload(upload)
        raise


def _check_parallel(store: ChunkStore, byte_range: ContentRange | None) -> None:
    """Refuse parallel mode where the store cannot keep it (``part_layout_refused``)."""
    name = type(store).__name__
    if byte_range is None or not store.supports_parts:
        raise exceptions.PartLayoutRefused(
            f"This server's store ({name}) does not take parallel uploads"
        )
    if byte_range.total is None:
        # Chunks at any offset: completion, the stores' layouts and the gaps need the end.
        raise exceptions.PartLayoutRefused("A parallel upload needs its total size from the start")
    if not store.can_read_in_progress and not is_combinable(conf.checksum):
        # Chunks that arrive ahead of the prefix cannot be read back into the running digest.
        raise exceptions.PartLayoutRefused(
            f"This server's store ({name}) cannot read parts back: parallel uploads need the"
            " combinable checksum (DRF_CHUNKED_UPLOAD_CHECKSUM = 'crc32c')"
        )


def resume(
    upload: AbstractChunkedUpload,
    byte_range: ContentRange,
    checkpoint_bytes: int | None = None,
) -> ChunkSession | PartSession:
    """Open the next chunk of an existing upload for writing, after the protocol's checks.

    ``checkpoint_bytes``: acknowledge progress every so many bytes (``ChunkSession.checkpoint()``);
    a chunk of an upload in parallel mode is acknowledged whole.
    """
    if upload.parallel:
        return _resume_part(upload, byte_range)
    try:
        token = _acquire(upload)
    except exceptions.UploadBusy:
        # Another request holds the upload: answer as precisely as its state allows.
        check_writable(upload)
        check_range(upload, byte_range)
        raise
    try:
        check_writable(upload)
        check_range(upload, byte_range)
        return ChunkSession(
            upload,
            token,
            byte_range,
            get_store(),
            created=False,
            checkpoint_bytes=checkpoint_bytes,
        )
    except BaseException:
        _release(upload, token)
        raise


def _resume_part(upload: AbstractChunkedUpload, byte_range: ContentRange) -> PartSession:
    """A chunk of a parallel upload: reserve its range, open it at its offset."""
    token = parts.reserve(upload, byte_range)
    try:
        store = get_store()
        return PartSession(upload, token, byte_range, store, stored_name(upload), created=False)
    except StoreBusy:
        parts.release(upload, token)
        raise exceptions.UploadBusy() from None
    except BaseException:
        parts.release(upload, token)
        raise


def end_stalled_writer(upload: AbstractChunkedUpload) -> None:
    """Let the next request take the upload's lease now, instead of when it runs out.

    For protocols whose client, after an interruption, knows better than the server that the
    request still holding the upload is dead (the IETF draft: a new request for an upload ends
    an older one). The older request stops at its next write: the store refuses a write after a
    newer writer's truncation (``StoreBusy``), and its next acknowledgement or lease renewal no
    longer matches its token, so it cannot move the offset.
    """
    manager = type(upload)._default_manager
    manager.filter(pk=upload.pk, lease_token__isnull=False).update(lease_expires_at=timezone.now())


def complete(
    upload: Upload,
    checksum: str | None,
    *,
    single_shot: bool = False,
    on_complete: Callable[[Upload], Any] | None = None,
    lease: uuid.UUID | None = None,
) -> Upload:
    """Verify the whole file's checksum (unless ``None``) and finalize the upload.

    The upload is marked complete in one transaction with its hooks: the ``upload_completed``
    receivers and ``on_complete``. If one raises, the transaction rolls back and the upload stays
    incomplete (its bytes already in their completed form, which a retry does not redo), so
    completing it again runs the hooks again: a failed hook is never hidden behind a completed
    upload. ``single_shot``: the upload's only chunk was committed without signals; send them now,
    so a single shot that fails (and leaves nothing behind) is never announced. A tus partial
    upload's completion is not announced at all (``concatenation.py``): its final upload's is.
    ``lease``: the caller holds the upload's lease already (a final upload's maker), and
    completion takes it on.
    """
    if upload.parallel and not upload.checksum:
        check_writable(upload)
        parts.settle(upload, get_store(), stored_name(upload))
    try:
        token = _acquire(upload) if lease is None else _take_on(upload, lease)
    except exceptions.UploadBusy:
        check_writable(upload)
        raise
    try:
        check_writable(upload)
        if upload.size is None or upload.offset != upload.size:
            raise exceptions.UploadIncomplete(upload.offset, upload.size or 0)
        # A recorded checksum: an earlier attempt finalized the bytes, then a hook failed.
        finalized = bool(upload.checksum)
        actual = upload.checksum if finalized else whole_file_digest(upload)
        if checksum is not None and actual != checksum.strip().lower():
            raise exceptions.ChecksumMismatch()
        if not finalized:
            _finalize_bytes(upload, token, actual)
        with transaction.atomic(using=_database(upload)):
            _mark_complete(upload, token)
            if single_shot:
                announce_chunk(upload, ContentRange.whole(upload.offset), created=True)
            # A tus partial upload is a piece of a file to come, not a user's file: its final
            # upload announces the file (``concatenation.py``).
            if upload.concatenation != Concatenation.PARTIAL:
                signals.upload_completed.send(sender=type(upload), upload=upload)
                if on_complete is not None:
                    on_complete(upload)
    except BaseException:
        _release(upload, token)
        _forget_completion(upload)
        handoff.discard_hand_offs(upload)  # the hooks' copies, of a rolled-back completion
        raise
    handoff.forget_hand_offs(upload)  # committed: they belong to the targets now
    return upload


def _take_on(upload: AbstractChunkedUpload, token: uuid.UUID) -> uuid.UUID:
    """The lease ``token`` the caller holds, renewed. Held since the row was made, nobody else
    changed it, so the caller's copy is current (and keeps what ``parts.settle()`` set on it)."""
    renew_lease(upload, token)
    return token


def whole_file_digest(upload: AbstractChunkedUpload) -> str:
    """The hex digest of the stored bytes: from the saved state, or by reading them back."""
    algorithm = conf.checksum
    if algorithm == upload.checksum_algorithm and is_resumable(algorithm):
        return new_digest(algorithm, upload.digest_state).hexdigest()
    digest = new_digest(algorithm)
    with get_store().open_reader(stored_name(upload), upload.store_state) as reader:
        while block := reader.read(_READ_SIZE):
            digest.update(block)
    return digest.hexdigest()


def _finalize_bytes(upload: AbstractChunkedUpload, token: uuid.UUID, checksum: str) -> None:
    """Turn the stored bytes into the completed file and record its name and checksum.

    Committed on its own, before the hooks run: a recorded ``checksum`` on an upload still
    ``uploading`` means its bytes are complete already (a store cannot finalize twice: an S3
    multipart upload is gone once completed).
    """
    name = stored_name(upload)
    with transaction.atomic(using=_database(upload)):
        # The rename happens inside the transaction: if it fails, the row still names the part.
        manager = type(upload)._default_manager
        if not manager.filter(pk=upload.pk, lease_token=token).update(checksum=checksum):
            raise exceptions.UploadBusy()
        final_name = get_store().finalize(name, completed_name(name), upload.store_state)
        manager.filter(pk=upload.pk).update(file=final_name)
    upload.checksum = checksum
    upload.file.name = final_name


def _mark_complete(upload: AbstractChunkedUpload, token: uuid.UUID) -> None:
    fields: dict[str, Any] = {
        "status": UploadStatus.COMPLETE,
        "completed_at": timezone.now(),
        **_FREE_LEASE,
    }
    manager = type(upload)._default_manager
    if not manager.filter(pk=upload.pk, lease_token=token).update(**fields):
        raise exceptions.UploadBusy()
    for field, value in fields.items():
        setattr(upload, field, value)


def _forget_completion(upload: AbstractChunkedUpload) -> None:
    """Undo, on the in-memory copy, what a rolled-back completion set: its status, and the file
    a hook handed off (``handoff.py``), which the row names again."""
    if upload.status == UploadStatus.COMPLETE:
        upload.status, upload.completed_at = UploadStatus.UPLOADING, None
        row = type(upload)._default_manager.filter(pk=upload.pk).values_list("file", flat=True)
        upload.file.name = row.first() or upload.file.name


def _database(upload: AbstractChunkedUpload) -> str:
    return router.db_for_write(type(upload), instance=upload)


def abort(upload: AbstractChunkedUpload) -> None:
    """Abort an upload on the client's request: remove its record and its bytes."""
    _acquire(upload)
    signals.upload_aborted.send(sender=type(upload), upload=upload)
    delete_upload(upload)


def delete_upload(upload: AbstractChunkedUpload) -> None:
    """Delete the record; its bytes go with it (see ``discard_file_on_delete``)."""
    upload.delete()


def discard_file_on_delete(
    sender: type[AbstractChunkedUpload], instance: Any, **kwargs: Any
) -> None:
    """``post_delete`` receiver: remove the bytes once the deletion is committed (no orphans)."""
    name = instance.file.name if instance.file else None
    state = instance.store_state
    if name:
        transaction.on_commit(lambda: get_store().discard(name, state), using=kwargs.get("using"))
