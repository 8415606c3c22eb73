"""Tests of ``uploads.py`` without HTTP: start, resume, commit, complete, abort, the lease, healing.

Every test drives the core the way the view does (a ``ChunkSession`` per chunk) and checks the row
and the stored bytes, read back through the storage API.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from chunked_uploads import exceptions, signals, uploads
from chunked_uploads.models import AbstractChunkedUpload, ChunkedUpload, UploadStatus
from chunked_uploads.ranges import ContentRange

from .helpers import file_name, md5, stored_bytes

TOTAL = 30_000
CHUNK = 10_000


def chunk_range(start: int, length: int = CHUNK, total: int = TOTAL) -> ContentRange:
    return ContentRange(start, start + length - 1, total)


def send_first(user: Any, data: bytes, length: int = CHUNK) -> ChunkedUpload:
    session = uploads.start(
        ChunkedUpload, chunk_range(0, length, len(data)), "data.bin", {"user": user}
    )
    session.write(data[:length])
    upload = session.commit()
    assert isinstance(upload, ChunkedUpload)
    return upload


def send_next(upload: ChunkedUpload, data: bytes, start: int, length: int = CHUNK) -> None:
    session = uploads.resume(upload, chunk_range(start, length, len(data)))
    session.write(data[start : start + length])
    session.commit()


def fresh(upload: AbstractChunkedUpload) -> ChunkedUpload:
    return ChunkedUpload.objects.get(pk=upload.pk)


def append_directly(upload: ChunkedUpload, data: bytes) -> None:
    """Bytes a request wrote before it died, past the acknowledged offset."""
    with upload.file.storage.open(file_name(upload), "ab") as handle:
        handle.write(data)


@pytest.fixture
def data() -> bytes:
    return os.urandom(TOTAL)


def test_start_records_the_first_chunk(user: Any, data: bytes) -> None:
    upload = fresh(send_first(user, data))
    assert (upload.offset, upload.size, upload.filename) == (CHUNK, TOTAL, "data.bin")
    assert upload.status == UploadStatus.UPLOADING
    assert upload.user == user
    assert upload.checksum_algorithm == "md5"
    assert upload.lease_token is None and upload.lease_expires_at is None
    assert stored_bytes(upload) == data[:CHUNK]


def test_first_chunk_must_start_at_zero(user: Any) -> None:
    with pytest.raises(exceptions.OffsetMismatch) as caught:
        uploads.start(ChunkedUpload, chunk_range(CHUNK), "x", {"user": user})
    assert (caught.value.expected, caught.value.provided) == (0, CHUNK)
    assert not ChunkedUpload.objects.exists()


def test_whole_upload_then_complete(user: Any, data: bytes) -> None:
    upload = send_first(user, data)
    send_next(upload, data, CHUNK)
    send_next(upload, data, 2 * CHUNK)
    upload = fresh(upload)
    assert upload.offset == TOTAL
    part_name = file_name(upload)
    done = uploads.complete(upload, md5(data).upper())
    assert done.status == UploadStatus.COMPLETE
    stored = fresh(upload)
    assert stored.status == UploadStatus.COMPLETE
    assert stored.completed_at is not None
    assert stored.checksum == md5(data)
    assert file_name(stored) == part_name.removesuffix(".part") + ".done"
    assert not stored.file.storage.exists(part_name)
    assert stored_bytes(stored) == data


def test_complete_without_a_checksum_check(user: Any, data: bytes) -> None:
    upload = send_first(user, data[:CHUNK], length=CHUNK)
    uploads.complete(upload, None)
    assert fresh(upload).status == UploadStatus.COMPLETE
    assert fresh(upload).checksum == md5(data[:CHUNK])


def test_wrong_checksum_keeps_the_upload_resumable(user: Any, data: bytes) -> None:
    upload = send_first(user, data[:CHUNK], length=CHUNK)
    with pytest.raises(exceptions.ChecksumMismatch):
        uploads.complete(upload, "0" * 32)
    upload = fresh(upload)
    assert upload.status == UploadStatus.UPLOADING
    assert upload.lease_token is None
    uploads.complete(upload, md5(data[:CHUNK]))
    assert fresh(upload).status == UploadStatus.COMPLETE


def test_complete_before_all_bytes_arrived(user: Any, data: bytes) -> None:
    upload = send_first(user, data)
    with pytest.raises(exceptions.UploadIncomplete) as caught:
        uploads.complete(upload, md5(data))
    assert (caught.value.received, caught.value.total) == (CHUNK, TOTAL)
    assert fresh(upload).lease_token is None


def test_resume_refuses_a_complete_upload(user: Any, data: bytes) -> None:
    upload = send_first(user, data[:CHUNK], length=CHUNK)
    uploads.complete(upload, None)
    with pytest.raises(exceptions.UploadAlreadyComplete):
        uploads.resume(fresh(upload), chunk_range(CHUNK))
    with pytest.raises(exceptions.UploadAlreadyComplete):
        uploads.complete(fresh(upload), None)


def test_resume_refuses_an_expired_upload(user: Any, data: bytes) -> None:
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        upload = send_first(user, data)
        traveller.shift(timedelta(days=1))
        with pytest.raises(exceptions.UploadExpired):
            uploads.resume(upload, chunk_range(CHUNK))
        with pytest.raises(exceptions.UploadExpired):
            uploads.complete(upload, None)
    assert fresh(upload).lease_token is None


def test_resume_refuses_a_wrong_offset_and_total(user: Any, data: bytes) -> None:
    upload = send_first(user, data)
    with pytest.raises(exceptions.OffsetMismatch) as caught:
        uploads.resume(upload, chunk_range(2 * CHUNK))
    assert (caught.value.expected, caught.value.provided) == (CHUNK, 2 * CHUNK)
    with pytest.raises(exceptions.TotalMismatch):
        uploads.resume(upload, chunk_range(CHUNK, total=TOTAL + 1))
    assert fresh(upload).lease_token is None
    assert fresh(upload).offset == CHUNK


def test_chunk_length_is_enforced(user: Any, data: bytes) -> None:
    upload = send_first(user, data)
    session = uploads.resume(upload, chunk_range(CHUNK))
    with pytest.raises(exceptions.ChunkSizeMismatch):
        session.write(data[CHUNK : 2 * CHUNK + 1])
    session.write(data[CHUNK : 2 * CHUNK - 1])
    with pytest.raises(exceptions.ChunkSizeMismatch):
        session.commit()
    session.abort()
    assert fresh(upload).offset == CHUNK
    send_next(upload, data, CHUNK)
    assert stored_bytes(fresh(upload)) == data[: 2 * CHUNK]


def test_whole_file_of_unknown_length_respects_max_bytes(user: Any) -> None:
    session = uploads.start(ChunkedUpload, None, "whole.bin", {"user": user}, max_bytes=5)
    session.write(b"12345")
    with pytest.raises(exceptions.SizeLimitExceeded):
        session.write(b"6")
    upload = session.commit()
    assert (fresh(upload).offset, fresh(upload).size) == (5, 5)


def test_resume_with_a_stale_copy_reads_the_row_again(user: Any, data: bytes) -> None:
    upload = send_first(user, data)
    stale = fresh(upload)
    send_next(upload, data, CHUNK)  # the offset moves past the stale copy's
    send_next(stale, data, 2 * CHUNK)  # the lease's UPDATE misses, the row is read, then taken
    assert fresh(upload).offset == TOTAL
    assert stored_bytes(fresh(upload)) == data
    assert uploads.complete(fresh(upload), md5(data)).status == UploadStatus.COMPLETE


def test_resume_reads_the_row_once_when_the_copy_is_current(
    user: Any, data: bytes, django_assert_num_queries: Any
) -> None:
    upload = send_first(user, data)
    # Take the lease (UPDATE), no refresh; then acknowledge (UPDATE).
    with django_assert_num_queries(2):
        send_next(upload, data, CHUNK)
    assert fresh(upload).offset == 2 * CHUNK


def test_second_resume_while_the_lease_is_held_is_busy(user: Any, data: bytes) -> None:
    upload = send_first(user, data)
    holder = uploads.resume(upload, chunk_range(CHUNK))
    with pytest.raises(exceptions.UploadBusy):
        uploads.resume(fresh(upload), chunk_range(CHUNK))
    with pytest.raises(exceptions.UploadBusy):
        uploads.complete(fresh(upload), None)
    with pytest.raises(exceptions.UploadBusy):
        uploads.abort(fresh(upload))
    holder.write(data[CHUNK : 2 * CHUNK])
    holder.commit()  # the refused requests did not disturb the holder
    assert fresh(upload).offset == 2 * CHUNK


def test_busy_answer_reports_offset_errors_first(user: Any, data: bytes) -> None:
    upload = send_first(user, data)
    holder = uploads.resume(upload, chunk_range(CHUNK))
    with pytest.raises(exceptions.OffsetMismatch):
        uploads.resume(fresh(upload), chunk_range(2 * CHUNK))
    holder.abort()


def test_an_expired_lease_is_taken_over_and_its_bytes_dropped(user: Any, data: bytes) -> None:
    upload = send_first(user, data)
    # A request took the lease, wrote part of its chunk and died.
    ChunkedUpload.objects.filter(pk=upload.pk).update(
        lease_token=uuid.uuid4(), lease_expires_at=timezone.now() + timedelta(seconds=60)
    )
    append_directly(upload, b"garbage from the dead request")
    with pytest.raises(exceptions.UploadBusy):
        uploads.resume(upload, chunk_range(CHUNK))
    ChunkedUpload.objects.filter(pk=upload.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    send_next(upload, data, CHUNK)
    send_next(upload, data, 2 * CHUNK)
    uploads.complete(fresh(upload), md5(data))
    assert stored_bytes(fresh(upload)) == data


def test_commit_after_losing_the_lease_is_busy(user: Any, data: bytes) -> None:
    upload = send_first(user, data)
    state = fresh(upload).digest_state
    session = uploads.resume(upload, chunk_range(CHUNK))
    session.write(data[CHUNK : 2 * CHUNK])
    # The lease ran out and another request took it.
    ChunkedUpload.objects.filter(pk=upload.pk).update(
        lease_token=uuid.uuid4(), lease_expires_at=timezone.now() + timedelta(seconds=60)
    )
    with pytest.raises(exceptions.UploadBusy):
        session.commit()
    stored = fresh(upload)
    assert stored.offset == CHUNK
    assert state is not None and stored.digest_state is not None
    assert bytes(stored.digest_state) == bytes(state)


def test_commit_with_a_moved_offset_is_busy(user: Any, data: bytes) -> None:
    upload = send_first(user, data)
    session = uploads.resume(upload, chunk_range(CHUNK))
    session.write(data[CHUNK : 2 * CHUNK])
    ChunkedUpload.objects.filter(pk=upload.pk).update(offset=2 * CHUNK)
    with pytest.raises(exceptions.UploadBusy):
        session.commit()
    assert fresh(upload).offset == 2 * CHUNK  # not moved twice


@override_settings(DRF_CHUNKED_UPLOAD_LEASE_SECONDS=1e-9)
def test_writer_renews_its_lease_and_notices_losing_it(user: Any, data: bytes) -> None:
    upload = send_first(user, data)
    session = uploads.resume(upload, chunk_range(CHUNK))
    before = fresh(upload).lease_expires_at
    session.write(data[CHUNK : CHUNK + 10])
    after = fresh(upload).lease_expires_at
    assert before is not None and after is not None and after >= before
    ChunkedUpload.objects.filter(pk=upload.pk).update(lease_token=uuid.uuid4())
    with pytest.raises(exceptions.UploadBusy):
        session.write(data[CHUNK + 10 : CHUNK + 20])


def test_resume_heals_bytes_written_past_the_offset(user: Any, data: bytes) -> None:
    upload = send_first(user, data)
    append_directly(upload, os.urandom(CHUNK // 2))  # a request died before acknowledging
    assert len(stored_bytes(upload)) == CHUNK + CHUNK // 2
    send_next(upload, data, CHUNK)
    send_next(upload, data, 2 * CHUNK)
    uploads.complete(fresh(upload), md5(data))
    assert stored_bytes(fresh(upload)) == data


def test_aborted_chunk_is_not_acknowledged(user: Any, data: bytes) -> None:
    upload = send_first(user, data)
    session = uploads.resume(upload, chunk_range(CHUNK))
    session.write(b"x" * (CHUNK // 2))
    session.abort()
    assert fresh(upload).offset == CHUNK
    assert fresh(upload).lease_token is None
    send_next(upload, data, CHUNK)
    assert stored_bytes(fresh(upload)) == data[: 2 * CHUNK]


def test_aborted_first_chunk_leaves_nothing(
    user: Any, data: bytes, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        session = uploads.start(ChunkedUpload, chunk_range(0), "x", {"user": user})
        name = file_name(session.upload)
        session.write(data[:100])
        session.abort()
    assert not ChunkedUpload.objects.exists()
    assert not ChunkedUpload._meta.get_field("file").storage.exists(name)


def test_stored_bytes_lost_outside_the_app(user: Any, data: bytes) -> None:
    upload = send_first(user, data)
    upload.file.storage.delete(file_name(upload))
    with pytest.raises(exceptions.StoredBytesMissing):
        uploads.resume(upload, chunk_range(CHUNK))
    assert fresh(upload).lease_token is None


def test_truncated_stored_bytes_are_lost(user: Any, data: bytes) -> None:
    upload = send_first(user, data)
    with upload.file.storage.open(file_name(upload), "r+b") as handle:
        handle.truncate(CHUNK - 1)
    with pytest.raises(exceptions.StoredBytesMissing):
        uploads.resume(upload, chunk_range(CHUNK))


@override_settings(DRF_CHUNKED_UPLOAD_CHECKSUM="sha3_256")
def test_a_streaming_algorithm_rereads_the_file(user: Any, data: bytes) -> None:
    upload = send_first(user, data)
    assert fresh(upload).digest_state is None
    send_next(upload, data, CHUNK)
    send_next(upload, data, 2 * CHUNK)
    expected = hashlib.sha3_256(data).hexdigest()
    with pytest.raises(exceptions.ChecksumMismatch):
        uploads.complete(fresh(upload), hashlib.md5(data).hexdigest())
    uploads.complete(fresh(upload), expected)
    assert fresh(upload).checksum == expected


def test_algorithm_changed_mid_upload_rereads_the_file(user: Any, data: bytes) -> None:
    upload = send_first(user, data[:CHUNK], length=CHUNK)
    with override_settings(DRF_CHUNKED_UPLOAD_CHECKSUM="sha256"):
        uploads.complete(fresh(upload), hashlib.sha256(data[:CHUNK]).hexdigest())
    assert fresh(upload).checksum == hashlib.sha256(data[:CHUNK]).hexdigest()


def test_abort_removes_record_and_bytes(
    user: Any, data: bytes, django_capture_on_commit_callbacks: Any
) -> None:
    upload = send_first(user, data)
    name = file_name(upload)
    storage = upload.file.storage
    with django_capture_on_commit_callbacks(execute=True):
        uploads.abort(upload)
    assert not ChunkedUpload.objects.exists()
    assert not storage.exists(name)


@pytest.fixture
def received() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    receivers: dict[str, Callable[..., None]] = {}
    names = ["upload_started", "chunk_received", "upload_completed", "upload_aborted"]
    for name in names:

        def receiver(sender: Any, name: str = name, **kwargs: Any) -> None:
            kwargs.pop("signal")
            events.append((name, kwargs))

        receivers[name] = receiver
        getattr(signals, name).connect(receiver, sender=ChunkedUpload)
    yield events
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver, sender=ChunkedUpload)


def test_signals(user: Any, data: bytes, received: list[tuple[str, dict[str, Any]]]) -> None:
    upload = send_first(user, data)
    send_next(upload, data, CHUNK)
    session = uploads.resume(fresh(upload), chunk_range(2 * CHUNK))
    session.abort()  # an aborted chunk sends nothing
    send_next(upload, data, 2 * CHUNK)
    uploads.complete(fresh(upload), None)
    other = send_first(user, data)
    uploads.abort(other)
    summary = [(name, kwargs.get("start"), kwargs["upload"].pk) for name, kwargs in received]
    assert summary == [
        ("upload_started", None, upload.pk),
        ("chunk_received", 0, upload.pk),
        ("chunk_received", CHUNK, upload.pk),
        ("chunk_received", 2 * CHUNK, upload.pk),
        ("upload_completed", None, upload.pk),
        ("upload_started", None, other.pk),
        ("chunk_received", 0, other.pk),
        ("upload_aborted", None, other.pk),
    ]
    assert received[1][1]["end"] == CHUNK - 1


def test_delete_removes_the_file_after_commit(
    user: Any, data: bytes, django_capture_on_commit_callbacks: Any
) -> None:
    upload = send_first(user, data[:CHUNK], length=CHUNK)
    uploads.complete(upload, None)
    upload = fresh(upload)
    storage, name = upload.file.storage, file_name(upload)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        upload.delete()
        assert storage.exists(name)  # not before the deletion is committed
    assert len(callbacks) == 1
    assert not storage.exists(name)


def test_queryset_delete_removes_every_file(
    user: Any, data: bytes, django_capture_on_commit_callbacks: Any
) -> None:
    names = [file_name(send_first(user, data)) for _ in range(3)]
    storage = ChunkedUpload._meta.get_field("file").storage
    with django_capture_on_commit_callbacks(execute=True):
        ChunkedUpload.objects.all().delete()
    assert [storage.exists(name) for name in names] == [False, False, False]


def test_deleting_the_user_removes_their_files(
    user: Any, other_user: Any, data: bytes, django_capture_on_commit_callbacks: Any
) -> None:
    mine = send_first(user, data)
    theirs = send_first(other_user, data)
    storage = mine.file.storage
    with django_capture_on_commit_callbacks(execute=True):
        user.delete()
    assert not storage.exists(file_name(mine))
    assert storage.exists(file_name(theirs))
    assert list(ChunkedUpload.objects.all()) == [theirs]


def test_rolled_back_delete_keeps_the_file(
    user: Any, data: bytes, django_capture_on_commit_callbacks: Any
) -> None:
    upload = send_first(user, data)
    pk, storage, name = upload.pk, upload.file.storage, file_name(upload)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        upload.delete()
        raise RuntimeError("roll back")
    assert callbacks == []
    assert storage.exists(name)
    assert stored_bytes(ChunkedUpload.objects.get(pk=pk)) == data[:CHUNK]


@override_settings(DRF_CHUNKED_UPLOAD_CHECKPOINT_BYTES=2**20)
def test_a_kept_first_chunk_stays_with_its_check_points(user: Any) -> None:
    """A new upload whose client learned its URL (IETF 104) outlives its failed first request."""
    data = os.urandom(3 * 2**20)
    started: list[Any] = []

    def receiver(upload: ChunkedUpload, **kwargs: Any) -> None:
        started.append(upload.pk)

    signals.upload_started.connect(receiver)
    try:
        session = uploads.start(
            ChunkedUpload, ContentRange.whole(len(data)), "x", {"user": user}, None, 2**20
        )
        session.keep_on_abort = True
        for start in range(0, 2 * 2**20 + 100, 2**20 // 2):
            session.write(data[start : start + 2**20 // 2])
        session.abort()
    finally:
        signals.upload_started.disconnect(receiver)
    upload = fresh(session.upload)
    assert upload.offset == 2 * 2**20 and upload.lease_token is None
    assert started == [upload.pk]  # it started, once
    send_next(upload, data, 2 * 2**20, 2**20)
    assert stored_bytes(fresh(upload)) == data


def test_end_stalled_writer_lets_the_next_request_in_and_fences_the_old(
    user: Any, data: bytes
) -> None:
    upload = send_first(user, data)
    stalled = uploads.resume(upload, chunk_range(CHUNK))
    stalled.write(data[CHUNK : CHUNK + 100])
    with pytest.raises(exceptions.UploadBusy):
        uploads.resume(fresh(upload), chunk_range(CHUNK))
    uploads.end_stalled_writer(fresh(upload))
    send_next(fresh(upload), data, CHUNK)  # did not wait for the lease
    with pytest.raises(exceptions.UploadBusy):
        stalled.write(data[CHUNK + 100 : CHUNK + 200])  # the store refuses the old writer
    stalled.abort()
    assert fresh(upload).offset == 2 * CHUNK
    assert stored_bytes(fresh(upload)) == data[: 2 * CHUNK]
