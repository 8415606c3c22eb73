"""``LocalFileStore``: one file per upload on a ``FileSystemStorage``, written in place.

Truncating to the acknowledged offset is one ``ftruncate``; completion moves the file (a
``FileSystemStorage`` moves a file in ``save()`` when the content has a ``temporary_file_path``, the
same path Django's own large uploads take), so no byte is copied. Nothing needs to be remembered
between requests: the state is always ``None``.
"""

from __future__ import annotations

import errno
import fcntl
import os
import posixpath
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
    """Appends to an open file that it holds an exclusive ``flock`` on until closed."""

    def __init__(self, file: File) -> None:  # type: ignore[type-arg]
        self._file = file
        self._raw = cast(IO[bytes], file.file)

    def write(self, data: bytes | memoryview) -> None:
        self._raw.write(data)

    def sync(self) -> None:
        self._raw.flush()
        os.fsync(self._raw.fileno())

    def finish(self) -> StoreState:
        self._raw.flush()
        return None

    def checkpoint(self) -> StoreState:
        # Flushed to the kernel: survives the process (a SIGKILL), not a power loss unless
        # ``DRF_CHUNKED_UPLOAD_FSYNC`` is on, as for a whole chunk.
        if conf.fsync:
            self.sync()
        return self.finish()

    def close(self) -> None:
        self._file.close()


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
            # The lease in the database serializes writers; the lock fences a writer whose
            # process stalled past its lease on this host (so two never interleave bytes).
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            raise StoreBusy(name) from None
        size = file.seek(0, os.SEEK_END)
        if size < offset:
            file.close()
            raise StoredBytesMissing(name)
        file.seek(offset)
        file.truncate()
        return _LocalWriter(file)

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
