"""Where an upload's bytes live: the small ``ChunkStore`` interface and the choice of a store.

The upload core (``uploads.py``) only calls this interface: reserve a name, open a writer that
continues from the acknowledged offset (dropping bytes of a request that died before its offset
was recorded), read the bytes back, finalize into the completed file, hand the completed file off
to another field's storage (``handoff.py``) and discard. A store that
needs to remember something between requests (the S3 multipart store's ``UploadId`` and part
ETags, the generic store's list of part objects) returns it from ``ChunkWriter.finish()`` as a
small JSON value; the core records it in the upload's ``store_state`` column in the same
conditional ``UPDATE`` as the offset and hands it back on every later call. Nothing lives in
process memory between requests, so any worker of any machine can serve the next chunk.

Stores reach bytes only through Django's storage API or the object store's own API: no
``.path``, no ``os.rename``, no append mode (S3 has none of them).

``DRF_CHUNKED_UPLOAD_STORE`` picks the store: ``None`` (a ``LocalFileStore`` on a
``FileSystemStorage``, a ``StorageStore`` on any other storage), a ``ChunkStore`` subclass or its
dotted path, or ``{"BACKEND": ..., "OPTIONS": {...}}`` whose options go to the store's constructor.
"""

from __future__ import annotations

import posixpath
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, Protocol, runtime_checkable

from django.core.files.storage import FileSystemStorage, Storage
from django.utils.module_loading import import_string

from ..conf import conf
from ..exceptions import StoredBytesMissing

__all__ = [
    "AdoptedRange",
    "ChunkStore",
    "ChunkWriter",
    "FencedWriter",
    "PartialBytes",
    "StoreBusy",
    "StoreState",
    "StoredBytesMissing",
    "completed_name",
    "get_store",
    "is_local_storage",
    "is_s3_storage",
    "s3_key",
    "store_class",
]

# JSON-serializable, stored in ``AbstractChunkedUpload.store_state``; ``None`` for stateless stores.
StoreState = dict[str, Any] | None


@dataclass(frozen=True)
class PartialBytes:
    """A completed upload's bytes to become the range ``[start, start + length)`` of another
    upload (tus concatenation): its completed file ``name`` and, when known, their CRC-32C."""

    start: int
    length: int
    name: str
    crc: int | None = None


@dataclass(frozen=True)
class AdoptedRange:
    """A range of an upload made of other uploads' bytes: the store's ``record`` of it (as for
    a chunk of a parallel upload) and, when known, the CRC-32C of its bytes."""

    start: int
    length: int
    record: Any
    crc: int | None = None


class StoreBusy(Exception):
    """Another writer holds the object (a stalled request whose lease already ran out)."""


class ChunkWriter(Protocol):
    def write(self, data: bytes | memoryview) -> None: ...

    def sync(self) -> None:
        """Make the bytes written so far survive a power loss (``DRF_CHUNKED_UPLOAD_FSYNC``)."""

    def finish(self) -> StoreState:
        """Make every written byte durable and return the state to record with the new offset."""

    def checkpoint(self) -> StoreState:
        """Make every byte written so far durable and return the state to record with it; the
        writer goes on writing (a check-point within a long request, see ``uploads.py``)."""

    def close(self) -> None:
        """Release the writer; bytes not followed by ``finish()`` are never acknowledged."""


@runtime_checkable
class FencedWriter(Protocol):
    """A part writer that runs ``fence`` under its own lock before each write, so that a writer
    whose reservation was taken over cannot write after the new holder (``PartSession`` sets it
    to renew the reservation when due). Writers without one are fenced before each write."""

    fence: Callable[[], None] | None


class ChunkStore(ABC):
    """Bytes of uploads, keyed by the name stored in the upload's ``file`` field.

    Every method but ``create`` receives the state last recorded for the upload (``None`` before
    the first acknowledged chunk, and for stores that keep none).
    """

    # Whether ``open_reader`` works before ``finalize``: completion re-reads the bytes when the
    # checksum cannot be saved between requests (see ``resumable_digests.py``), which such a store refuses.
    can_read_in_progress = True

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    @abstractmethod
    def create(self, name: str) -> str:
        """Reserve an object near ``name`` for a new upload; return the name actually used."""

    @abstractmethod
    def open_writer(self, name: str, offset: int, state: StoreState = None) -> ChunkWriter:
        """Forget every byte at or after ``offset`` and return a writer appending from there."""

    @abstractmethod
    def open_reader(self, name: str, state: StoreState = None) -> IO[bytes]:
        """Read the acknowledged bytes from the start."""

    @abstractmethod
    def finalize(self, name: str, final_name: str, state: StoreState = None) -> str:
        """Turn the bytes into the completed file ``final_name``; return the name used."""

    # -- parallel mode (``parts.py``): each chunk written on its own, at its offset -----------

    # Whether this store keeps the chunks of a parallel upload (``open_part_writer``).
    supports_parts = False

    def begin_parts(self, name: str, first_length: int, total: int) -> StoreState:
        """Prepare a parallel upload whose first chunk holds ``first_length`` of ``total`` bytes;
        the state returned is recorded with the new upload. Refuse a layout the store cannot
        keep with ``PartLayoutRefused``."""
        return None

    def open_part_writer(
        self, name: str, start: int, length: int, state: StoreState = None
    ) -> ChunkWriter:
        """A writer for one chunk of a parallel upload, ``length`` bytes at ``start``; ``finish()``
        returns the part's record (JSON), which the core keeps with the stored range. Bytes of a
        chunk never acknowledged are overwritten by its retry or dropped by ``assembled_state``."""
        raise NotImplementedError(f"{type(self).__name__} keeps no parallel uploads")

    def open_part_reader(self, name: str, start: int, record: Any) -> IO[bytes]:
        """Read back one stored part (the running digest catching up over a filled gap)."""
        raise NotImplementedError(f"{type(self).__name__} cannot read parts back")

    def assembled_state(
        self, name: str, state: StoreState, parts: list[tuple[int, int, Any]]
    ) -> StoreState:
        """The state under which ``open_reader``, ``finalize`` and ``discard`` see the stored
        parts (``[start, length, record]``, in order, covering the file) as one file."""
        return None

    # -- tus concatenation (``concatenation.py``): completed uploads' bytes as ranges -------

    def begin_adoption(self, name: str, total: int) -> StoreState:
        """Prepare the upload ``name`` (``total`` bytes, in parallel mode) to be made of other
        uploads' bytes; the state returned is recorded with it."""
        return None

    def adopt_part(self, name: str, state: StoreState, source: PartialBytes) -> Any:
        """Make ``source``'s bytes the range ``[source.start, source.start + source.length)``
        of the upload ``name``; return its record (as ``open_part_writer``'s ``finish()``)."""
        raise NotImplementedError(f"{type(self).__name__} cannot adopt other uploads' bytes")

    def adopt_parts(
        self, name: str, state: StoreState, sources: Sequence[PartialBytes]
    ) -> Iterator[AdoptedRange]:
        """Adopt ``sources`` (in order, covering the upload) as ranges of ``name``, yielding each
        range once its bytes are in place. One range per source here; a store whose parts obey
        rules of their own (S3's 5 MiB minimum) may cut them otherwise."""
        for source in sources:
            record = self.adopt_part(name, state, source)
            yield AdoptedRange(source.start, source.length, record, source.crc)

    def discard(self, name: str, state: StoreState = None) -> None:
        """Remove the bytes (complete or not); a missing object is not an error."""
        self.storage.delete(name)

    def hand_off(self, name: str, target: Storage, target_name: str) -> str:
        """Put the completed file ``name`` at ``target_name`` on ``target`` (another field's
        storage); return the name used there. The source stays until the caller discards it.

        Between two S3 storages (django-storages) the copy is done by S3 itself; otherwise the
        bytes are streamed into ``target.save()``. Stores override this with cheaper moves.
        """
        if is_s3_storage(self.storage) and is_s3_storage(target):
            from .s3 import copy_between_buckets

            source: Any = self.storage
            client = source.connection.meta.client
            key = s3_key(source, name)
            return copy_between_buckets(client, source.bucket_name, key, target, target_name)
        with self.storage.open(name, "rb") as file:
            saved: str = target.save(target_name, file)
        return saved


def completed_name(name: str) -> str:
    """The name an upload's file takes when it completes (``COMPLETE_EXT`` replaces the extension)."""
    if conf.complete_ext == conf.incomplete_ext:
        return name
    return posixpath.splitext(name)[0] + conf.complete_ext


def is_local_storage(storage: Storage) -> bool:
    return isinstance(storage, FileSystemStorage)


def is_s3_storage(storage: Storage) -> bool:
    """A django-storages ``S3Storage`` (or one like it): a bucket and a boto3 connection."""
    return hasattr(storage, "bucket_name") and hasattr(storage, "connection")


def s3_key(storage: Storage, name: str) -> str:
    """The object key of ``name`` on an ``S3Storage`` (its ``location`` is the key prefix)."""
    location = str(getattr(storage, "location", "") or "").strip("/")
    return posixpath.join(location, name) if location else name


def store_class(storage: Storage) -> tuple[type[ChunkStore], Mapping[str, Any]]:
    """The store class and its options that ``DRF_CHUNKED_UPLOAD_STORE`` names for ``storage``."""
    value = conf.store
    options: Mapping[str, Any] = {}
    if isinstance(value, Mapping):
        options = value.get("OPTIONS", {})
        value = value["BACKEND"]
    if value is None:
        from .local import LocalFileStore
        from .storage import StorageStore

        return (LocalFileStore if is_local_storage(storage) else StorageStore), options
    cls = import_string(value) if isinstance(value, str) else value
    if not (isinstance(cls, type) and issubclass(cls, ChunkStore)):
        raise TypeError(f"{cls!r} is not a ChunkStore subclass")
    return cls, options


def get_store() -> ChunkStore:
    """The configured store, on the configured storage."""
    storage = conf.storage
    cls, options = store_class(storage)
    return cls(storage, **options)


def __getattr__(name: str) -> Any:
    # ``from chunked_uploads.stores import LocalFileStore`` keeps working without importing every
    # store (and boto3) whenever the interface is imported.
    if name == "LocalFileStore":
        from .local import LocalFileStore

        return LocalFileStore
    if name == "StorageStore":
        from .storage import StorageStore

        return StorageStore
    raise AttributeError(name)
