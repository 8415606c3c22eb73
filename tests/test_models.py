"""Tests of ``models.py``: where bytes are stored, expiry, progress and the live storage proxy."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage
from django.test import override_settings
from django.utils import timezone

from chunked_uploads import uploads
from chunked_uploads.models import (
    ChunkedUpload,
    ConfiguredStorage,
    UploadStatus,
    generate_filename,
)
from chunked_uploads.ranges import ContentRange

from .helpers import file_name

MOMENT = "2031-02-03 04:05:06+00:00"


def make_upload(user: Any, **fields: Any) -> ChunkedUpload:
    return ChunkedUpload.objects.create(user=user, filename="client.bin", **fields)


def upload_to(instance: Any, filename: str) -> str:
    return f"by-callable/{instance.id}.bin"


@time_machine.travel(MOMENT, tick=False)
def test_default_name_is_path_with_date_and_id() -> None:
    instance = ChunkedUpload(id=uuid.uuid4())
    assert (
        generate_filename(instance, "client.bin")
        == f"chunked_uploads/2031/02/03/{instance.id}.part"
    )


@time_machine.travel(MOMENT, tick=False)
@override_settings(DRF_CHUNKED_UPLOAD_PATH="files/%Y-%m/", DRF_CHUNKED_UPLOAD_INCOMPLETE_EXT=".tmp")
def test_path_and_incomplete_ext_are_used() -> None:
    instance = ChunkedUpload(id=uuid.uuid4())
    assert generate_filename(instance, "client.bin") == f"files/2031-02/{instance.id}.tmp"


@time_machine.travel(MOMENT, tick=False)
@override_settings(DRF_CHUNKED_UPLOAD_TO="to/%d/{{ instance.id }}.incoming")
def test_to_string_replaces_the_id_and_formats_the_date() -> None:
    instance = ChunkedUpload(id=uuid.uuid4())
    assert generate_filename(instance, "client.bin") == f"to/03/{instance.id}.incoming"


@override_settings(DRF_CHUNKED_UPLOAD_TO=upload_to)
def test_to_callable_decides_the_name() -> None:
    instance = ChunkedUpload(id=uuid.uuid4())
    assert generate_filename(instance, "client.bin") == f"by-callable/{instance.id}.bin"


@pytest.mark.parametrize("client_name", ["report.pdf", "../../etc/passwd", "a/b/c.txt", "%Y.bin"])
def test_client_file_name_is_never_part_of_the_path(user: Any, client_name: str) -> None:
    session = uploads.start(ChunkedUpload, ContentRange.whole(3), client_name, {"user": user})
    session.write(b"abc")
    upload = session.commit()
    assert upload.filename == client_name
    stored = file_name(ChunkedUpload.objects.get())
    assert stored.startswith("chunked_uploads/")
    assert stored.endswith(f"/{upload.id}.part")
    assert Path(client_name).name not in stored
    assert ".." not in stored


@time_machine.travel(MOMENT, tick=False)
def test_expires_at_follows_the_expiration_delta(user: Any) -> None:
    upload = make_upload(user)
    assert upload.expires_at == timezone.now() + timedelta(days=1)
    with override_settings(DRF_CHUNKED_UPLOAD_EXPIRATION_DELTA=timedelta(minutes=10)):
        assert upload.expires_at == timezone.now() + timedelta(minutes=10)


def test_expired_once_the_delta_has_passed(user: Any) -> None:
    with time_machine.travel(MOMENT, tick=False) as traveller:
        upload = make_upload(user)
        assert not upload.expired
        traveller.shift(timedelta(days=1) - timedelta(seconds=1))
        assert not upload.expired
        traveller.shift(timedelta(seconds=1))
        assert upload.expired


def test_a_complete_upload_never_expires(user: Any) -> None:
    with time_machine.travel(MOMENT, tick=False) as traveller:
        upload = make_upload(user, status=UploadStatus.COMPLETE)
        traveller.shift(timedelta(days=30))
        assert not upload.expired


@pytest.mark.parametrize(
    ("offset", "size", "progress"),
    [
        (0, None, None),
        (10, None, None),
        (0, 0, 1.0),
        (0, 200, 0.0),
        (50, 200, 0.25),
        (200, 200, 1.0),
    ],
)
def test_progress(offset: int, size: int | None, progress: float | None) -> None:
    assert ChunkedUpload(offset=offset, size=size).progress == progress


def test_str_and_status_aliases(user: Any) -> None:
    upload = make_upload(user)
    assert str(upload) == f"client.bin ({upload.id})"
    assert upload.status == ChunkedUpload.UPLOADING == UploadStatus.UPLOADING
    assert ChunkedUpload.COMPLETE == "complete"
    labels = {value: str(label) for value, label in ChunkedUpload.STATUS_CHOICES}
    assert labels == {"uploading": "Incomplete", "complete": "Complete"}


def test_configured_storage_is_the_default_storage(media_root: Path) -> None:
    storage = ChunkedUpload._meta.get_field("file").storage
    assert isinstance(storage, ConfiguredStorage)
    name = storage.save("probe.bin", ContentFile(b"probe"))
    assert (media_root / name).read_bytes() == b"probe"
    assert storage.location == str(media_root)  # other attributes reach the real storage


def test_configured_storage_follows_override_settings(tmp_path: Path, media_root: Path) -> None:
    storage = ConfiguredStorage()
    memory = InMemoryStorage()
    with override_settings(DRF_CHUNKED_UPLOAD_STORAGE_CLASS=memory):
        name = storage.save("probe.bin", ContentFile(b"in memory"))
        assert storage.exists(name)
        assert storage.size(name) == 9
        with storage.open(name) as handle:
            assert handle.read() == b"in memory"
        assert storage.listdir("") == ([], [name])
        assert storage.url(name) == memory.url(name)
    assert memory.exists(name)
    assert not (media_root / name).exists()
    assert not storage.exists(name)
    other = FileSystemStorage(location=tmp_path / "other")
    with override_settings(DRF_CHUNKED_UPLOAD_STORAGE_CLASS=other):
        name = storage.save("probe.bin", ContentFile(b"elsewhere"))
        assert storage.path(name) == str(tmp_path / "other" / name)
        assert storage.get_available_name(name) != name
        assert storage.generate_filename("a/b.bin") == "a/b.bin"
        storage.delete(name)
        assert not other.exists(name)


def test_uploads_are_stored_in_the_configured_storage(
    user: Any, tmp_path: Path, media_root: Path
) -> None:
    other = FileSystemStorage(location=tmp_path / "other")
    with override_settings(DRF_CHUNKED_UPLOAD_STORAGE_CLASS=other):
        session = uploads.start(ChunkedUpload, ContentRange.whole(2), "x", {"user": user})
        session.write(b"hi")
        upload = session.commit()
    assert (tmp_path / "other" / file_name(upload)).read_bytes() == b"hi"
    assert not (media_root / file_name(upload)).exists()
