"""``LocalFileStore``: one file per upload on a ``FileSystemStorage``, written in place.

Truncating to the acknowledged offset is one ``ftruncate`` (when the file is longer), and each write is one ``pwrite`` under a
short ``flock`` (the lease in the database, not the lock, decides which request writes); completion moves the file (a
``FileSystemStorage`` moves a file in ``save()`` when the content has a ``temporary_file_path``, the
same path Django's own large uploads take), so no byte is copied. Nothing needs to be remembered
between requests: the state is always ``None``.
"""

from __future__ import annotations

import errno
import fcntl
import os
import posixpath
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, cast

from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage

from ..conf import conf
from . import (
    ChunkStore,
    ChunkWriter,
    PartialBytes,
    StoreBusy,
    StoredBytesMissing,
    StoreState,
    is_local_storage,
)

_LINK_ATTEMPTS = 10
# How long a part writer waits for another's write in its byte range (see ``_RangeWriter``).
_RANGE_LOCK_WAIT = 5.0
_RANGE_LOCK_POLL = 0.01
_NO_LOCKS = frozenset({errno.ENOLCK, errno.EINVAL, errno.EOPNOTSUPP})
_COPY_SIZE = 8 * 1024 * 1024
# ``copy_file_range`` refused (another file system on older kernels, a file system without it):
# copy through this process instead.
_NO_COPY_RANGE = frozenset({errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP})


class _LocalWriter:
    """Writes at its own position, holding the file's exclusive ``flock`` only for each write.

    The lease in the database decides who writes (``uploads.ChunkSession`` renews it before
    writing, and a request whose lease was taken over stops there). The lock only keeps one write
    and a newer writer's truncation from interleaving; held for the whole request, it let a
    stalled client block its upload for as long as its socket stayed open (issue 13). A write that
    finds the file not ending where this writer left it knows a newer writer truncated it, and
    refuses (``StoreBusy``) rather than write past that writer's bytes.
    """

    def __init__(self, file: File, position: int) -> None:  # type: ignore[type-arg]
        self._file = file
        self._fd = cast(IO[bytes], file.file).fileno()
        self._position = position

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        with _locked(self._fd):
            if os.fstat(self._fd).st_size != self._position:
                raise StoreBusy(self._file.name)
            while view:
                written = os.pwrite(self._fd, view, self._position)
                self._position += written
                view = view[written:]

    def sync(self) -> None:
        os.fsync(self._fd)

    def finish(self) -> StoreState:
        return None  # ``os.pwrite`` wrote through: nothing is buffered in this process

    def checkpoint(self) -> StoreState:
        # Written through to the kernel: survives the process (a SIGKILL), not a power loss
        # unless ``DRF_CHUNKED_UPLOAD_FSYNC`` is on, as for a whole chunk.
        if conf.fsync:
            self.sync()
        return self.finish()

    def close(self) -> None:
        self._file.close()


class _RangeWriter(_LocalWriter):
    """Writes one chunk of a parallel upload in place at its own position. Nothing is truncated
    and the file's end says nothing (other ranges are being written), so the fence against a
    writer that stalled past its reservation is the reservation itself: ``fence`` (set by
    ``PartSession``) renews it in the database when due, and raises if another request took it.

    Each write holds a lock on the chunk's byte range (an open file description lock, so threads
    of one process exclude each other too) from the fence to the end of its ``pwrite``. A writer
    paused between its fence and its write (a stopped process, a long pause) therefore holds the
    range: a request that took the range over waits for it (then ``StoreBusy``), and writes after
    it, never before. Without the lock, the paused writer's bytes could land over bytes the new
    holder had written and acknowledged. The lock is held for one write, not the request, so a
    stalled client blocks nobody (issue 13)."""

    fence: Callable[[], None] | None = None

    def __init__(self, file: File, position: int, length: int) -> None:  # type: ignore[type-arg]
        super().__init__(file, position)
        self._range = (position, length)

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        with _range_locked(self._fd, *self._range, self._file.name or ""):
            if self.fence is not None:
                self.fence()
            while view:
                written = os.pwrite(self._fd, view, self._position)
                self._position += written
                view = view[written:]


def _copy_range(source: int, target: int, start: int, length: int, name: str) -> None:
    """Copy ``length`` bytes from the start of ``source`` to ``target`` at ``start``."""
    done = 0
    copy_file_range = getattr(os, "copy_file_range", None)
    while done < length and copy_file_range is not None:
        try:
            copied = copy_file_range(source, target, length - done, done, start + done)
        except OSError as error:
            if error.errno not in _NO_COPY_RANGE:
                raise
            break
        if not copied:
            raise StoredBytesMissing(name)  # the partial's file is shorter than its length
        done += copied
    while done < length:
        block = os.pread(source, min(_COPY_SIZE, length - done), done)
        if not block:
            raise StoredBytesMissing(name)
        view = memoryview(block)
        while view:
            written = os.pwrite(target, view, start + done)
            done += written
            view = view[written:]


@contextmanager
def _locked(fd: int) -> Iterator[None]:
    # Blocking: the holder is a write or a truncation in progress, never a whole request.
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


@contextmanager
def _range_locked(fd: int, start: int, length: int, name: str) -> Iterator[None]:
    """An exclusive lock on ``[start, start + length)`` of ``fd``'s file, waited for at most
    ``_RANGE_LOCK_WAIT`` seconds (its holder is one write: only a paused process holds it longer),
    then ``StoreBusy``. Where the system or the file system has no open file description locks
    (not Linux, some network or FUSE file systems), none."""
    command: int | None = getattr(fcntl, "F_OFD_SETLK", None)
    locked: bool | None = False
    if command is not None and length > 0:
        deadline = time.monotonic() + _RANGE_LOCK_WAIT
        while (locked := _try_range_lock(fd, command, fcntl.F_WRLCK, start, length)) is False:
            if time.monotonic() >= deadline:
                raise StoreBusy(name)
            time.sleep(_RANGE_LOCK_POLL)
    try:
        yield
    finally:
        if locked and command is not None:
            _try_range_lock(fd, command, fcntl.F_UNLCK, start, length)


def _try_range_lock(fd: int, command: int, kind: int, start: int, length: int) -> bool | None:
    """Take (or release) the lock: whether it was taken, ``None`` if the file system has none."""
    try:
        fcntl.fcntl(fd, command, struct.pack("hhqqi", kind, os.SEEK_SET, start, length, 0))
    except OSError as error:
        if error.errno in _NO_LOCKS:
            return None
        if error.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


class _MovableFile(File):  # type: ignore[type-arg]
    """Lets ``FileSystemStorage.save`` move the part file instead of copying it."""

    def __init__(self, local_name: str) -> None:
        super().__init__(None, posixpath.basename(local_name))
        self._local_name = local_name

    def temporary_file_path(self) -> str:
        return self._local_name


class LocalFileStore(ChunkStore):
    """One file per upload on a ``FileSystemStorage``, written in place at the offset."""

    def create(self, name: str) -> str:
        return self.storage.save(name, ContentFile(b""))

    def open_writer(self, name: str, offset: int, state: StoreState = None) -> ChunkWriter:
        file = self.storage.open(name, "r+b")
        try:
            # The caller holds the upload's lease; the lock waits out a write of a request whose
            # lease ran out, which finds the file truncated under it and stops (``_LocalWriter``).
            with _locked(file.fileno()):
                size = os.fstat(file.fileno()).st_size
                if size < offset:
                    raise StoredBytesMissing(name)
                if size > offset:
                    # Only when there is something to cut. On ext4 a truncation to 0, even of an
                    # empty file, makes close() write back everything written since
                    # (``auto_da_alloc``): a whole-file tus PATCH waited ~0.25 s per GiB for it.
                    os.ftruncate(file.fileno(), offset)
        except BaseException:
            file.close()
            raise
        return _LocalWriter(file, offset)

    supports_parts = True

    def open_part_writer(
        self, name: str, start: int, length: int, state: StoreState = None
    ) -> ChunkWriter:
        """Write in place at ``start``: the range is reserved in the database, so writers of one
        upload never share a byte, and nothing is truncated (other ranges are being written)."""
        return _RangeWriter(self.storage.open(name, "r+b"), start, length)

    def open_part_reader(self, name: str, start: int, record: object) -> IO[bytes]:
        reader: IO[bytes] = self.storage.open(name, "rb")
        reader.seek(start)
        return reader

    def open_reader(self, name: str, state: StoreState = None) -> IO[bytes]:
        reader: IO[bytes] = self.storage.open(name, "rb")
        return reader

    def adopt_part(self, name: str, state: StoreState, source: PartialBytes) -> None:
        """Copy the partial's file into this upload's file at its offset: ``copy_file_range``
        (the kernel copies, or shares the blocks on file systems that can), else a plain copy."""
        with (
            self.storage.open(source.name, "rb") as partial,
            self.storage.open(name, "r+b") as file,
        ):
            source_fd = cast(IO[bytes], partial.file).fileno()
            target_fd = cast(IO[bytes], file.file).fileno()
            _copy_range(source_fd, target_fd, source.start, source.length, source.name)
            if conf.fsync:
                os.fsync(target_fd)

    def hand_off(self, name: str, target: Storage, target_name: str) -> str:
        """A hard link when ``target`` is a ``FileSystemStorage`` on the same file system (no byte
        copied, and the source name stays until it is discarded), else a copy."""
        if not is_local_storage(target):
            return super().hand_off(name, target, target_name)
        source = self.storage.path(name)
        for _ in range(_LINK_ATTEMPTS):
            new_name: str = target.get_available_name(target_name)
            destination = target.path(new_name)
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            try:
                os.link(source, destination)
            except FileExistsError:
                continue  # another request took the name between the check and the link
            except OSError as error:
                if error.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                    raise
                break  # another file system, or no hard links there: copy
            return new_name
        return super().hand_off(name, target, target_name)

    def finalize(self, name: str, final_name: str, state: StoreState = None) -> str:
        if final_name == name:
            return name
        with self.storage.open(name, "rb") as file:
            local_name = cast(IO[bytes], file.file).name
        new_name: str = self.storage.save(final_name, _MovableFile(local_name))
        return new_name
