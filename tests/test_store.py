"""Tests of the local-filesystem store: truncation to the offset, the per-write lock, the part
writers' range lock, moves, discard."""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.test import override_settings

from chunked_uploads.stores import StoreBusy, StoredBytesMissing, get_store, local
from chunked_uploads.stores.local import LocalFileStore


@pytest.fixture
def storage(tmp_path: Path) -> FileSystemStorage:
    return FileSystemStorage(location=tmp_path / "store")


@pytest.fixture
def store(storage: FileSystemStorage) -> LocalFileStore:
    return LocalFileStore(storage)


def write(store: LocalFileStore, name: str, offset: int, data: bytes) -> None:
    writer = store.open_writer(name, offset)
    try:
        writer.write(data)
    finally:
        writer.close()


def read(store: LocalFileStore, name: str) -> bytes:
    with store.open_reader(name) as reader:
        data: bytes = reader.read()
    return data


def test_create_makes_an_empty_file(store: LocalFileStore, storage: FileSystemStorage) -> None:
    name = store.create("uploads/2031/a.part")
    assert name == "uploads/2031/a.part"
    assert Path(storage.path(name)).read_bytes() == b""


def test_create_never_overwrites(store: LocalFileStore, storage: FileSystemStorage) -> None:
    storage.save("a.part", ContentFile(b"keep me"))
    name = store.create("a.part")
    assert name != "a.part"
    assert read(store, "a.part") == b"keep me"
    assert read(store, name) == b""


def test_writes_append_from_the_offset(store: LocalFileStore) -> None:
    name = store.create("a.part")
    write(store, name, 0, b"0123")
    write(store, name, 4, b"4567")
    assert read(store, name) == b"01234567"


def test_open_writer_truncates_to_the_offset(store: LocalFileStore) -> None:
    name = store.create("a.part")
    write(store, name, 0, b"0123456789")
    writer = store.open_writer(name, 4)
    assert read(store, name) == b"0123"  # dropped before the first new byte arrives
    writer.write(b"XY")
    writer.sync()
    writer.close()
    assert read(store, name) == b"0123XY"


def test_open_writer_leaves_a_file_that_ends_at_the_offset_untouched(
    store: LocalFileStore, storage: FileSystemStorage
) -> None:
    """No ``ftruncate`` when there is nothing to cut (it would change the file's mtime, and on
    ext4 a truncation to 0 makes the writer's close() flush everything it wrote)."""
    for offset, content in ((0, b""), (4, b"0123")):
        name = store.create(f"{offset}.part")
        write(store, name, 0, content)
        path = storage.path(name)
        os.utime(path, (1_000_000, 1_000_000))
        writer = store.open_writer(name, offset)
        writer.close()
        assert os.stat(path).st_mtime == 1_000_000
        assert read(store, name) == content


def test_offset_past_the_stored_bytes_is_missing_bytes(store: LocalFileStore) -> None:
    name = store.create("a.part")
    write(store, name, 0, b"012")
    with pytest.raises(StoredBytesMissing):
        store.open_writer(name, 4)
    assert read(store, name) == b"012"
    write(store, name, 3, b"3")  # the failed attempt released its lock
    assert read(store, name) == b"0123"


def test_missing_file_cannot_be_written(store: LocalFileStore) -> None:
    with pytest.raises(FileNotFoundError):
        store.open_writer("never-created.part", 0)


def test_a_newer_writer_takes_over_and_the_older_one_stops(store: LocalFileStore) -> None:
    """The lock is held only around each write: a writer that stalled does not block a newer one
    (the lease decided it may write), and once that one truncated, the old one writes nothing."""
    name = store.create("a.part")
    write(store, name, 0, b"acked")
    stalled = store.open_writer(name, 5)
    stalled.write(b"-half")
    newer = store.open_writer(name, 5)  # the stalled writer's bytes are dropped
    assert read(store, name) == b"acked"
    newer.write(b"-retry")
    with pytest.raises(StoreBusy):
        stalled.write(b"-rest")
    newer.write(b"!")
    newer.close()
    stalled.close()
    assert read(store, name) == b"acked-retry!"


def test_a_writer_stops_even_where_the_newer_one_reached_its_position(
    store: LocalFileStore,
) -> None:
    name = store.create("a.part")
    stalled = store.open_writer(name, 0)
    stalled.write(b"12345")
    newer = store.open_writer(name, 0)
    newer.write(b"abcd")
    with pytest.raises(StoreBusy):
        stalled.write(b"6")  # the file is shorter than where it left off
    newer.close()
    stalled.close()
    assert read(store, name) == b"abcd"


def test_finalize_moves_the_file_without_copying(
    store: LocalFileStore, storage: FileSystemStorage
) -> None:
    name = store.create("dir/a.part")
    write(store, name, 0, b"payload")
    inode = os.stat(storage.path(name)).st_ino
    final = store.finalize(name, "dir/a.done")
    assert final == "dir/a.done"
    assert os.stat(storage.path(final)).st_ino == inode
    assert not storage.exists(name)
    assert read(store, final) == b"payload"


def test_finalize_keeps_an_existing_target(
    store: LocalFileStore, storage: FileSystemStorage
) -> None:
    storage.save("a.done", ContentFile(b"someone else's"))
    name = store.create("a.part")
    write(store, name, 0, b"mine")
    final = store.finalize(name, "a.done")
    assert final != "a.done"
    assert final.endswith(".done")
    assert read(store, final) == b"mine"
    assert read(store, "a.done") == b"someone else's"


def test_finalize_to_the_same_name_keeps_the_file(store: LocalFileStore) -> None:
    name = store.create("a.bin")
    write(store, name, 0, b"same")
    assert store.finalize(name, name) == name
    assert read(store, name) == b"same"


def test_discard_removes_and_tolerates_missing(
    store: LocalFileStore, storage: FileSystemStorage
) -> None:
    name = store.create("a.part")
    write(store, name, 0, b"gone")
    store.discard(name)
    assert not storage.exists(name)
    store.discard(name)  # already gone: not an error


def test_writer_finish_keeps_no_state(store: LocalFileStore) -> None:
    name = store.create("a.part")
    writer = store.open_writer(name, 0)
    writer.write(b"flushed")
    assert writer.finish() is None
    assert read(store, name) == b"flushed"  # visible to a reader before close
    writer.close()
    assert store.can_read_in_progress


def test_a_filesystem_storage_gets_the_local_store(storage: FileSystemStorage) -> None:
    with override_settings(DRF_CHUNKED_UPLOAD_STORAGE_CLASS=storage):
        store = get_store()
    assert type(store) is LocalFileStore
    assert store.storage is storage


def hold_range(path: str, start: int, length: int) -> int:
    """Another open file description holding ``[start, start + length)``, as another writer's
    write in progress does; the caller closes it."""
    fd = os.open(path, os.O_RDWR)
    assert local._try_range_lock(fd, fcntl.F_OFD_SETLK, fcntl.F_WRLCK, start, length) is True
    return fd


@pytest.mark.skipif(not hasattr(fcntl, "F_OFD_SETLK"), reason="open file description locks: Linux")
def test_a_part_writer_waits_for_a_write_in_its_range_then_is_busy(
    store: LocalFileStore, storage: FileSystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "_RANGE_LOCK_WAIT", 0.2)
    name = store.create("upload.part")
    write(store, name, 0, b"." * 300)
    held = hold_range(storage.path(name), 150, 50)
    try:
        overlapping = store.open_part_writer(name, 100, 100)
        with pytest.raises(StoreBusy):
            overlapping.write(b"b" * 100)
        overlapping.close()
        beside = store.open_part_writer(name, 200, 100)  # no byte in common: no wait
        beside.write(b"c" * 100)
        beside.close()
    finally:
        os.close(held)  # the other write ends: the range is free
    after = store.open_part_writer(name, 100, 100)
    after.write(b"b" * 100)
    after.close()
    assert read(store, name) == b"." * 100 + b"b" * 100 + b"c" * 100


def test_a_part_writer_writes_where_the_file_system_has_no_range_locks(
    store: LocalFileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fcntl = fcntl.fcntl

    def no_locks(fd: int, command: int, argument: Any = 0) -> Any:
        if command == getattr(fcntl, "F_OFD_SETLK", None):
            raise OSError(errno.ENOLCK, "No locks available")
        return real_fcntl(fd, command, argument)

    monkeypatch.setattr(local.fcntl, "fcntl", no_locks)
    name = store.create("upload.part")
    write(store, name, 0, b"." * 10)
    writer = store.open_part_writer(name, 5, 5)
    writer.write(b"abcde")
    writer.close()
    assert read(store, name) == b"....." + b"abcde"
