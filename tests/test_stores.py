"""The same uploads on every store: local files, any Django storage, and S3 multipart.

Each test runs on four set-ups: the ``LocalFileStore`` (the default), the generic ``StorageStore``
forced onto a ``FileSystemStorage``, the ``StorageStore`` on django-storages' ``S3Storage`` and the
``S3MultipartStore``, both against moto's S3 server over HTTP. Chunks of 2 MiB make the S3 store
buffer (under the 5 MiB part minimum) and upload parts in turn; the stored bytes are compared with
what was sent, and nothing else may be left behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.storage import FileSystemStorage, InMemoryStorage
from django.core.management import call_command
from django.db.models import FileField
from django.db.models.fields.files import FieldFile
from django.test import override_settings
from rest_framework.test import APIClient

from chunked_uploads import signals, uploads
from chunked_uploads.handoff import NotHandedOff, hand_off
from chunked_uploads.models import ChunkedUpload
from chunked_uploads.ranges import ContentRange
from chunked_uploads.stores import ChunkStore, get_store, store_class
from chunked_uploads.stores.local import LocalFileStore
from chunked_uploads.stores.s3 import S3MultipartStore
from chunked_uploads.stores.storage import StorageStore

from .helpers import LIST_URL, complete, md5, put_chunk, stored_bytes
from .s3server import Bucket, S3Storage, s3_bucket, s3_endpoint  # noqa: F401  (fixtures)

MiB = 1024 * 1024
CHUNK = 2 * MiB
STORES = ["local", "storage-fs", "storage-s3", "s3-multipart"]


@dataclass
class Setup:
    """One store set-up: the store class in use and what the storage holds afterwards."""

    store_class: type[ChunkStore]
    leftovers: Callable[[], list[str]]
    s3: bool = False


@pytest.fixture(params=STORES)
def setup(request: Any, settings: Any, media_root: Path) -> Setup:
    kind = request.param

    def files() -> list[str]:
        return sorted(str(p.relative_to(media_root)) for p in media_root.rglob("*") if p.is_file())

    if kind == "local":
        return Setup(LocalFileStore, files)
    if kind == "storage-fs":
        settings.DRF_CHUNKED_UPLOAD_STORE = "chunked_uploads.stores.storage.StorageStore"
        return Setup(StorageStore, files)
    bucket: Bucket = request.getfixturevalue("s3_bucket")
    settings.DRF_CHUNKED_UPLOAD_STORAGE_CLASS = bucket.storage()
    if kind == "s3-multipart":
        settings.DRF_CHUNKED_UPLOAD_STORE = "chunked_uploads.stores.s3.S3MultipartStore"
        return Setup(S3MultipartStore, bucket.object_keys, s3=True)
    return Setup(
        StorageStore, bucket.object_keys, s3=True
    )  # chosen automatically for a non-local storage


@pytest.fixture
def data() -> bytes:
    """9 MiB and a few bytes: five chunks, the last one short."""
    return os.urandom(4 * CHUNK + MiB + 5)


def send(api: APIClient, data: bytes, url: str = LIST_URL, start: int = 0, stop: int = 0) -> str:
    """PUT the chunks of ``data[start:stop]`` (to the end if ``stop`` is 0); return the upload URL."""
    stop = stop or len(data)
    for offset in range(start, stop, CHUNK):
        response = put_chunk(api, url, data[offset : min(offset + CHUNK, stop)], offset, len(data))
        assert response.status_code == 200, response.content
        assert response.json()["offset"] == min(offset + CHUNK, stop)
        url = response.json()["url"]
    return url


def test_the_configured_store_is_used(setup: Setup) -> None:
    assert type(get_store()) is setup.store_class


def test_multi_chunk_upload_is_stored_exactly(setup: Setup, api: APIClient, data: bytes) -> None:
    url = send(api, data)
    assert api.get(url).json()["offset"] == len(data)
    upload = complete(api, url, data)
    assert upload.file.name.endswith(".done")
    assert stored_bytes(upload) == data
    assert [name.rsplit("/", 1)[-1] for name in setup.leftovers()] == [f"{upload.pk}.done"]


def test_resume_from_the_reported_offset(setup: Setup, api: APIClient, data: bytes) -> None:
    url = send(api, data, stop=2 * CHUNK)
    # A new client (a restarted browser, another machine) asks where to go on.
    offset = APIClient().get(url, HTTP_AUTHORIZATION=api._credentials["HTTP_AUTHORIZATION"])
    assert offset.json()["offset"] == 2 * CHUNK
    send(api, data, url, start=offset.json()["offset"])
    assert stored_bytes(complete(api, url, data)) == data


def test_crash_after_writing_then_resume(setup: Setup, api: APIClient, data: bytes) -> None:
    """Bytes a dying request wrote (parts, buffers, file tails) never reach the final file."""
    url = send(api, data, stop=2 * CHUNK)
    upload = ChunkedUpload.objects.get()
    writer = get_store().open_writer(upload.file.name, upload.offset, upload.store_state)
    writer.write(os.urandom(2 * CHUNK))  # a part and a buffer's worth for the S3 store
    writer.finish()  # every byte reached the store; the offset was never recorded
    writer.close()
    assert api.get(url).json()["offset"] == 2 * CHUNK
    send(api, data, url, start=2 * CHUNK)
    upload = complete(api, url, data)
    assert stored_bytes(upload) == data
    assert [name.rsplit("/", 1)[-1] for name in setup.leftovers()] == [f"{upload.pk}.done"]


def test_abort_removes_every_byte(
    setup: Setup, api: APIClient, data: bytes, django_capture_on_commit_callbacks: Any
) -> None:
    url = send(api, data, stop=3 * CHUNK)
    assert setup.leftovers()
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(url).status_code == 204
    assert setup.leftovers() == []
    assert not ChunkedUpload.objects.exists()


def test_expired_upload_is_removed_by_the_cleanup_command(
    setup: Setup, api: APIClient, data: bytes, django_capture_on_commit_callbacks: Any
) -> None:
    send(api, data, stop=2 * CHUNK)
    with (
        time_machine.travel(timedelta(days=2)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        call_command("delete_expired_uploads", stdout=StringIO())
    assert setup.leftovers() == []
    assert not ChunkedUpload.objects.exists()


def test_a_failed_checksum_leaves_the_upload_resumable(
    setup: Setup, api: APIClient, data: bytes
) -> None:
    url = send(api, data)
    response = api.post(url, {"md5": md5(b"something else")}, format="json")
    assert response.status_code == 400
    assert stored_bytes(complete(api, url, data)) == data


def test_a_failed_completion_hook_leaves_the_upload_to_complete_again(
    setup: Setup, api: APIClient, data: bytes, user: Any
) -> None:
    """The hook runs in one transaction with the completion: a raising receiver rolls both back,
    and completing again (the bytes finalized once, whatever the store) runs it again."""
    attempts: list[str] = []

    def receiver(sender: Any, upload: ChunkedUpload, **kwargs: Any) -> None:
        attempts.append(upload.status)
        user.first_name = f"attempt {len(attempts)}"
        user.save()  # what the hook did must not outlive its failure
        if len(attempts) == 1:
            raise RuntimeError("the app's hook failed")

    url = send(api, data)
    api.raise_request_exception = False
    signals.upload_completed.connect(receiver, dispatch_uid="failing-hook")
    try:
        response = api.post(url, {"md5": md5(data)}, format="json")
        assert response.status_code == 500
        upload = ChunkedUpload.objects.get()
        assert (upload.status, upload.completed_at, upload.lease_token) == ("uploading", None, None)
        user.refresh_from_db()
        assert user.first_name == ""
        assert api.get(url).json()["status"] == "uploading"
        assert stored_bytes(complete(api, url, data)) == data
    finally:
        signals.upload_completed.disconnect(dispatch_uid="failing-hook")
    assert attempts == ["complete", "complete"]
    user.refresh_from_db()
    assert user.first_name == "attempt 2"
    assert api.post(url, {"md5": md5(data)}, format="json").json()["code"] == "upload_complete"


@pytest.fixture
def target(setup: Setup, request: Any, tmp_path: Path) -> FieldFile:
    """An app's ``FileField`` (``upload_to="documents/%Y/"``) on a storage of its own: a folder
    beside the media root, or the ``documents`` location of the S3 bucket."""
    field = FileField(upload_to="documents/%Y/")
    field.set_attributes_from_name("file")
    if setup.s3:
        bucket: Bucket = request.getfixturevalue("s3_bucket")
        field.storage = S3Storage(**bucket.storage_options(location="documents"))
    else:
        field.storage = FileSystemStorage(location=tmp_path / "app-files")
    return FieldFile(None, field, None)


@pytest.fixture
def other_target(setup: Setup, request: Any, tmp_path: Path) -> FieldFile:
    """A ``FileField`` on the other kind of storage: S3 for the local set-ups, a folder for S3."""
    field = FileField(upload_to="elsewhere/")
    field.set_attributes_from_name("file")
    if setup.s3:
        field.storage = FileSystemStorage(location=tmp_path / "app-files")
    else:
        bucket: Bucket = request.getfixturevalue("s3_bucket")
        field.storage = S3Storage(**bucket.storage_options(location="documents"))
    return FieldFile(None, field, None)


def test_hand_off_between_kinds_of_storage_streams_the_bytes(
    setup: Setup,
    other_target: FieldFile,
    api: APIClient,
    data: bytes,
    django_capture_on_commit_callbacks: Any,
) -> None:
    url = send(api, data)
    receiver = hand_off_on_completion(other_target)
    signals.upload_completed.connect(receiver, weak=False, dispatch_uid="hand-off")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            complete(api, url, data)
    finally:
        signals.upload_completed.disconnect(dispatch_uid="hand-off")
    assert other_target.name == "elsewhere/payload.bin"
    with other_target.storage.open(other_target.name, "rb") as handle:
        assert handle.read() == data
    assert setup.leftovers() == []  # the target is on another storage than the set-up's


def hand_off_on_completion(target: FieldFile, fail: bool = False) -> Callable[..., None]:
    def receiver(sender: Any, upload: ChunkedUpload, **kwargs: Any) -> None:
        hand_off(upload, target)
        if fail:
            raise RuntimeError("the hook failed after the hand-off")

    return receiver


def test_hand_off_moves_the_file_and_deletion_leaves_it(
    setup: Setup,
    target: FieldFile,
    api: APIClient,
    data: bytes,
    media_root: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    url = send(api, data)
    inodes = [part.stat().st_ino for part in media_root.rglob("*.part")]
    signals.upload_completed.connect(
        hand_off_on_completion(target), weak=False, dispatch_uid="hand-off"
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            upload = complete(api, url, data)
    finally:
        signals.upload_completed.disconnect(dispatch_uid="hand-off")
    assert target.name.startswith("documents/") and target.name.endswith("/payload.bin")
    with target.storage.open(target.name, "rb") as handle:
        assert handle.read() == data
    if setup.store_class is LocalFileStore:  # a hard link: the same inode, no byte copied
        assert inodes == [os.stat(target.path).st_ino]
    assert not upload.file
    assert setup.leftovers() == _target_keys(target)  # the upload's own name for them is gone
    with django_capture_on_commit_callbacks(execute=True):
        uploads.abort(upload)  # the admin's abort; a DELETE or an expiry deletes the same way
    with target.storage.open(target.name, "rb") as handle:
        assert handle.read() == data


def test_a_hook_failing_after_the_hand_off_keeps_the_upload_whole(
    setup: Setup,
    target: FieldFile,
    api: APIClient,
    data: bytes,
    django_capture_on_commit_callbacks: Any,
) -> None:
    url = send(api, data)
    api.raise_request_exception = False
    failing = hand_off_on_completion(target, fail=True)
    signals.upload_completed.connect(failing, weak=False, dispatch_uid="hand-off")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert api.post(url, {"md5": md5(data)}, format="json").status_code == 500
    finally:
        signals.upload_completed.disconnect(dispatch_uid="hand-off")
    upload = ChunkedUpload.objects.get()
    assert upload.status == "uploading" and upload.file
    assert stored_bytes(upload) == data  # the upload still names its bytes
    assert target.name and not target.storage.exists(target.name)  # the failed copy is gone
    signals.upload_completed.connect(
        hand_off_on_completion(target), weak=False, dispatch_uid="hand-off"
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            complete(api, url, data)
    finally:
        signals.upload_completed.disconnect(dispatch_uid="hand-off")
    with target.storage.open(target.name, "rb") as handle:
        assert handle.read() == data
    assert not ChunkedUpload.objects.get().file


def test_hand_off_refuses_an_incomplete_upload(api: APIClient, data: bytes, tmp_path: Path) -> None:
    send(api, data[:CHUNK], stop=CHUNK)
    field = FileField(upload_to="documents/")
    field.storage = FileSystemStorage(location=tmp_path)
    with pytest.raises(NotHandedOff):
        hand_off(ChunkedUpload.objects.get(), FieldFile(None, field, None))


def _target_keys(target: FieldFile) -> list[str]:
    """What ``setup.leftovers()`` lists of the target file: its S3 key if it is in the bucket."""
    if isinstance(target.storage, S3Storage):
        return [f"documents/{target.name}"]
    return []


# -- store selection ---------------------------------------------------------------------------


def test_auto_selection_follows_the_storage() -> None:
    assert store_class(FileSystemStorage())[0] is LocalFileStore
    assert store_class(InMemoryStorage())[0] is StorageStore


def test_backend_and_options() -> None:
    value = {"BACKEND": StorageStore, "OPTIONS": {"spool_bytes": 1024}}
    with override_settings(
        DRF_CHUNKED_UPLOAD_STORE=value, DRF_CHUNKED_UPLOAD_STORAGE_CLASS=InMemoryStorage()
    ):
        store = get_store()
    assert isinstance(store, StorageStore)
    assert store.spool_bytes == 1024


def test_a_class_that_is_no_store_is_refused() -> None:
    with (
        override_settings(DRF_CHUNKED_UPLOAD_STORE=InMemoryStorage),
        pytest.raises(TypeError, match="not a ChunkStore"),
    ):
        get_store()


def test_generic_store_on_in_memory_storage(api: APIClient, data: bytes) -> None:
    """A storage with no files on disk at all: parts and the final file are storage objects."""
    storage = InMemoryStorage()
    with override_settings(DRF_CHUNKED_UPLOAD_STORAGE_CLASS=storage):
        url = send(api, data)
        upload = complete(api, url, data)
        assert stored_bytes(upload) == data
    directory = upload.file.name.rsplit("/", 1)[0]
    assert storage.listdir(directory)[1] == [f"{upload.pk}.done"]
    assert storage.listdir(f"{directory}/{upload.pk}.part.chunks")[1] == []


@pytest.mark.skipif(
    not os.path.isdir("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat("/tmp").st_dev,
    reason="needs /dev/shm on another file system than /tmp",
)
def test_local_hand_off_to_another_file_system_copies(
    api: APIClient, data: bytes, django_capture_on_commit_callbacks: Any
) -> None:
    """No hard link across file systems (EXDEV): the bytes are copied, and still checked."""
    with tempfile.TemporaryDirectory(dir="/dev/shm") as folder:
        field = FileField(upload_to="documents/")
        field.set_attributes_from_name("file")
        field.storage = FileSystemStorage(location=folder)
        target = FieldFile(None, field, None)
        url = send(api, data[: 2 * CHUNK], stop=2 * CHUNK)
        receiver = hand_off_on_completion(target)
        signals.upload_completed.connect(receiver, weak=False, dispatch_uid="hand-off")
        try:
            with django_capture_on_commit_callbacks(execute=True):
                complete(api, url, data[: 2 * CHUNK])
        finally:
            signals.upload_completed.disconnect(dispatch_uid="hand-off")
        with target.storage.open(target.name, "rb") as handle:
            assert handle.read() == data[: 2 * CHUNK]


TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


def tus_patch(api: APIClient, url: str, data: bytes, offset: int) -> Any:
    return api.generic(
        "PATCH",
        url,
        data,
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET=str(offset),
        **TUS,
    )


@override_settings(DRF_CHUNKED_UPLOAD_CHECKPOINT_BYTES=CHUNK)
def test_tus_whole_file_patch_with_check_points(setup: Setup, api: APIClient, data: bytes) -> None:
    url = api.post("/api/tus/", HTTP_UPLOAD_LENGTH=str(len(data)), **TUS)["Location"]
    response = tus_patch(api, url, data, 0)
    assert response.status_code == 204, response.content
    upload = ChunkedUpload.objects.get()
    assert upload.status == "complete"
    assert stored_bytes(upload) == data
    assert upload.checksum == md5(data)
    assert [name.rsplit("/", 1)[-1] for name in setup.leftovers()] == [f"{upload.pk}.done"]


def test_check_points_survive_an_interrupted_request(
    setup: Setup, api: APIClient, data: bytes
) -> None:
    """A request cut off after 5 MiB keeps what its check-points (every 2 MiB) acknowledged:
    the stored bytes, the digest state and the store's state, and resumes from there."""
    url = api.post("/api/tus/", HTTP_UPLOAD_LENGTH=str(len(data)), **TUS)["Location"]
    upload = ChunkedUpload.objects.get()
    byte_range = ContentRange(0, len(data) - 1, len(data))
    session = uploads.resume(upload, byte_range, checkpoint_bytes=CHUNK)
    for offset in range(0, 5 * MiB, MiB):
        session.write(data[offset : offset + MiB])
    session.abort()  # the client went away: what the check-points acknowledged stays
    head = api.head(url, **TUS)
    assert head["Upload-Offset"] == str(2 * CHUNK)
    response = tus_patch(api, url, data[2 * CHUNK :], 2 * CHUNK)
    assert response.status_code == 204, response.content
    upload.refresh_from_db()
    assert upload.status == "complete"
    assert stored_bytes(upload) == data
    assert upload.checksum == md5(data)
    assert [name.rsplit("/", 1)[-1] for name in setup.leftovers()] == [f"{upload.pk}.done"]
