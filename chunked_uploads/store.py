"""Where an upload's bytes live: the small ``ChunkStore`` interface and the local-filesystem store.

The upload core (``uploads.py``) only calls this interface: create an empty object, open a writer
that first truncates to the acknowledged offset (healing bytes of a request that died before its
offset was recorded) and then appends, read the bytes back, finalize (rename to the complete
extension) and discard. Stores reach bytes only through Django's storage API: no ``.path``, no
``os.rename`` (a ``FileSystemStorage`` moves a file in ``save()`` when the content has a
``temporary_file_path``, the same path Django's own large uploads take).
"""

from __future__ import annotations

import fcntl
import os
import posixpath
from abc import ABC, abstractmethod
from typing import IO, Protocol

from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, Storage

from .conf import conf


class StoreBusy(Exception):
    """Another writer holds the object (a stalled request whose lease already ran out)."""


class StoredBytesMissing(Exception):
    """The store holds fewer bytes than were acknowledged (deleted or lost outside the app)."""


class ChunkWriter(Protocol):
    def write(self, data: bytes | memoryview) -> None: ...
    def sync(self) -> None: ...
    def close(self) -> None: ...


class ChunkStore(ABC):
    """Bytes of uploads in progress, keyed by the name stored in the upload's ``file`` field."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    @abstractmethod
    def create(self, name: str) -> str:
        """Reserve an empty object near ``name``; return the name actually used."""

    @abstractmethod
    def open_writer(self, name: str, offset: int) -> ChunkWriter:
        """Drop every byte at or after ``offset`` and return a writer appending from there."""

    @abstractmethod
    def open_reader(self, name: str) -> IO[bytes]:
        """Read the stored bytes from the start."""

    @abstractmethod
    def finalize(self, name: str, final_name: str) -> str:
        """Turn the bytes into the completed file ``final_name``; return the name used."""

    def discard(self, name: str) -> None:
        """Remove the bytes; a missing object is not an error."""
        self.storage.delete(name)


class _LocalWriter:
    """Appends to an open file that it holds an exclusive ``flock`` on until closed."""

    def __init__(self, file: File) -> None:  # type: ignore[type-arg]
        self._file = file
        self._raw = file.file

    def write(self, data: bytes | memoryview) -> None:
        self._raw.write(data)

    def sync(self) -> None:
        self._raw.flush()
        os.fsync(self._raw.fileno())

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

    def open_writer(self, name: str, offset: int) -> ChunkWriter:
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

    def open_reader(self, name: str) -> IO[bytes]:
        reader: IO[bytes] = self.storage.open(name, "rb")
        return reader

    def finalize(self, name: str, final_name: str) -> str:
        if final_name == name:
            return name
        with self.storage.open(name, "rb") as file:
            local_name = file.file.name
        new_name = self.storage.save(final_name, _MovableFile(local_name))
        return new_name


def get_store() -> ChunkStore:
    """The store for the configured storage."""
    return LocalFileStore(conf.storage)


def is_local_storage(storage: Storage) -> bool:
    return isinstance(storage, FileSystemStorage)
