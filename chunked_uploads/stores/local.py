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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, cast

from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage

from ..conf import conf
from . import (
    ChunkStore,
    ChunkWriter,
    StoreBusy,
    StoredBytesMissing,
    StoreState,
    is_local_storage,
)

_LINK_ATTEMPTS = 10


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


@contextmanager
def _locked(fd: int) -> Iterator[None]:
    # Blocking: the holder is a write or a truncation in progress, never a whole request.
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


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

    def open_reader(self, name: str, state: StoreState = None) -> IO[bytes]:
        reader: IO[bytes] = self.storage.open(name, "rb")
        return reader

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
