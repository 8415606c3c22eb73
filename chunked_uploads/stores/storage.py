"""``StorageStore``: uploads on any Django ``Storage`` (django-storages backends included).

Each chunk becomes its own object, named after the upload's name and the chunk's start offset,
``<name>.chunks/<start, 20 digits>-<token>``. Storages cannot append or truncate, and some (S3)
overwrite on ``save()``: the random token keeps a request that stalled past its lease from
overwriting the part of the request that took over. Which parts hold the acknowledged bytes is the
upload's recorded state (``{"parts": [[start, length, name], ...]}``), so truncating to the offset
means forgetting the recorded parts at or after it and deleting the objects nobody acknowledged.
Reading concatenates the parts in order; completion streams them into the final name through a
bounded buffer (no byte is held whole in memory), then deletes them.

A chunk is spooled (in memory up to ``spool_bytes``, then in a temporary file) before its
``save()``, because ``Storage.save()`` reads from a file-like object and cannot be fed block by
block.
"""

from __future__ import annotations

import io
import secrets
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage

from . import ChunkStore, ChunkWriter, PartialBytes, StoredBytesMissing, StoreState

Part = tuple[int, int, str]  # start offset, length, storage name
_READ_SIZE = 1024 * 1024


def _parts(state: StoreState) -> list[Part]:
    return [
        (int(start), int(length), str(name))
        for start, length, name in (state or {}).get("parts", [])
    ]


def _state(parts: list[Part]) -> dict[str, Any]:
    return {"parts": [list(part) for part in parts]}


class _PartWriter:
    """Spools one chunk and saves it as a new part object when the chunk is finished."""

    def __init__(
        self, store: StorageStore, name: str, offset: int, parts: list[Part] | None
    ) -> None:
        self._store = store
        self._name = name
        self._offset = offset
        self._parts = parts
        # Closed by ``close()``, which the core calls on every path.
        self._spool = tempfile.SpooledTemporaryFile(max_size=store.spool_bytes)  # noqa: SIM115
        self._length = 0

    def write(self, data: bytes | memoryview) -> None:
        self._spool.write(data)
        self._length += len(data)

    def sync(self) -> None:
        """Nothing to do: the part reaches the storage in ``finish()``, whose save is durable."""

    def finish(self) -> StoreState:
        if self._parts is None:  # one chunk of a parallel upload: its record is its object
            return {"name": self._save()}
        if not self._length:
            return _state(self._parts)
        return _state([*self._parts, (self._offset, self._length, self._save())])

    def _save(self) -> str:
        self._spool.seek(0)
        part_name = self._store.part_name(self._name, self._offset)
        saved: str = self._store.storage.save(part_name, File(self._spool, part_name))
        return saved

    def checkpoint(self) -> StoreState:
        """Save what was spooled so far as a part of its own and spool the rest afresh."""
        state = self.finish()
        self._parts = _parts(state)
        self._offset += self._length
        self._length = 0
        self._spool.close()
        self._spool = tempfile.SpooledTemporaryFile(max_size=self._store.spool_bytes)  # noqa: SIM115
        return state

    def close(self) -> None:
        self._spool.close()


class _PartsReader(io.RawIOBase):
    """The parts' bytes, one after the other, opening each part only when it is reached."""

    def __init__(self, storage: Storage, parts: list[Part]) -> None:
        super().__init__()
        self._storage = storage
        self._pending = [name for _, _, name in parts]
        self._current: IO[bytes] | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while True:
            if self._current is None:
                if not self._pending:
                    return 0
                self._current = self._storage.open(self._pending.pop(0), "rb")
            data = self._current.read(len(buffer))
            if data:
                buffer[: len(data)] = data
                return len(data)
            self._current.close()
            self._current = None

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None
        super().close()


class _ConcatenatedFile(File):  # type: ignore[type-arg]
    """A ``File`` over the parts, with the size known up front (storages ask for it)."""

    def __init__(self, reader: IO[bytes], name: str, size: int) -> None:
        super().__init__(reader, name)
        self.size = size
        self._reader = reader

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        # The parts are read once, in order: ``File.chunks`` would try to seek back to the start.
        while block := self._reader.read(chunk_size or _READ_SIZE):
            yield block


class StorageStore(ChunkStore):
    """One object per chunk on any ``Storage``; assembled with a streaming copy at completion."""

    def __init__(self, storage: Storage, *, spool_bytes: int = 8 * 1024 * 1024) -> None:
        super().__init__(storage)
        self.spool_bytes = spool_bytes

    def create(self, name: str) -> str:
        # Nothing to reserve: parts live under ``<name>.chunks/`` and the name contains the id.
        return name

    def open_writer(self, name: str, offset: int, state: StoreState = None) -> ChunkWriter:
        parts = _truncated(_parts(state), offset, name)
        self._delete_parts(name, keep={part_name for _, _, part_name in parts})
        return _PartWriter(self, name, offset, parts)

    supports_parts = True

    def open_part_writer(
        self, name: str, start: int, length: int, state: StoreState = None
    ) -> ChunkWriter:
        return _PartWriter(self, name, start, None)

    def open_part_reader(self, name: str, start: int, record: Any) -> IO[bytes]:
        reader: IO[bytes] = self.storage.open(str(record["name"]), "rb")
        return reader

    def assembled_state(
        self, name: str, state: StoreState, parts: list[tuple[int, int, Any]]
    ) -> StoreState:
        # Objects of chunks never acknowledged are not listed: ``finalize`` deletes them.
        return _state([(start, length, str(record["name"])) for start, length, record in parts])

    def adopt_part(self, name: str, state: StoreState, source: PartialBytes) -> dict[str, str]:
        """The partial's completed object is the part itself: nothing is copied until completion
        streams the parts into the final object (the partial's object goes with the partial)."""
        if not self.storage.exists(source.name):
            raise StoredBytesMissing(source.name)
        return {"name": source.name}

    def open_reader(self, name: str, state: StoreState = None) -> IO[bytes]:
        return io.BufferedReader(_PartsReader(self.storage, _parts(state)), _READ_SIZE)

    def finalize(self, name: str, final_name: str, state: StoreState = None) -> str:
        parts = _parts(state)
        size = sum(length for _, length, _ in parts)
        with self.open_reader(name, state) as reader:
            content = _ConcatenatedFile(reader, final_name, size) if parts else ContentFile(b"")
            saved: str = self.storage.save(final_name, content)
        self._delete_parts(name)
        return saved

    def discard(self, name: str, state: StoreState = None) -> None:
        self._delete_parts(name)
        self.storage.delete(name)

    def part_name(self, name: str, start: int) -> str:
        return f"{_parts_dir(name)}/{start:020d}-{secrets.token_hex(8)}"

    def _delete_parts(self, name: str, keep: frozenset[str] | set[str] = frozenset()) -> None:
        """Delete the part objects of ``name`` except ``keep`` (the acknowledged ones)."""
        directory = _parts_dir(name)
        try:
            _, files = self.storage.listdir(directory)
        except FileNotFoundError:
            return
        for file in files:
            part_name = f"{directory}/{file}"
            if part_name not in keep:
                self.storage.delete(part_name)


def _parts_dir(name: str) -> str:
    return f"{name}.chunks"


def _truncated(parts: list[Part], offset: int, name: str) -> list[Part]:
    """The recorded parts holding bytes before ``offset``, which must be exactly ``offset`` bytes."""
    kept = [part for part in parts if part[0] < offset]
    # Parts are recorded only whole, so none can straddle the offset; a gap means bytes were lost.
    if sum(length for _, length, _ in kept) != offset or any(
        start + length > offset for start, length, _ in kept
    ):
        raise StoredBytesMissing(name)
    return kept
