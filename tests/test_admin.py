"""The uploads admin: list with progress, filters, and the abort and delete actions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from chunked_uploads import signals
from chunked_uploads.models import ChunkedUpload
from tests.helpers import LIST_URL, md5, put_chunk, upload_in_chunks

CHANGELIST = "/admin/chunked_uploads/chunkedupload/"


@pytest.fixture
def partial(api: Any, payload: bytes) -> ChunkedUpload:
    """An upload with its first 100 kB of 300 kB received."""
    response = put_chunk(api, LIST_URL, payload[:100_000], 0, len(payload), filename="half.bin")
    assert response.status_code == 200
    return ChunkedUpload.objects.get(pk=response.json()["id"])


@pytest.fixture
def complete(api: Any, payload: bytes) -> ChunkedUpload:
    response = upload_in_chunks(api, payload, filename="whole.bin")
    url = response.json()["url"]
    assert api.post(url, {"md5": md5(payload)}, format="json").status_code == 200
    return ChunkedUpload.objects.get(pk=response.json()["id"])


def files_in(root: Path) -> list[str]:
    return sorted(path.name for path in root.rglob("*") if path.is_file())


def act(client: Client, action: str, *uploads: ChunkedUpload, **extra: str) -> Any:
    data = {"action": action, "_selected_action": [str(upload.pk) for upload in uploads], **extra}
    return client.post(CHANGELIST, data, follow=True)


def test_list_shows_name_owner_status_and_progress(
    admin_client: Client, partial: ChunkedUpload, complete: ChunkedUpload
) -> None:
    page = admin_client.get(CHANGELIST).content.decode()
    assert "half.bin" in page and "whole.bin" in page
    assert "alice" in page
    assert (
        '<progress value="100000" max="300000"></progress> 100000 / 300000 bytes (33.3 %)' in page
    )
    assert '<progress value="300000" max="300000"></progress>' in page


def test_status_and_expired_filters(
    admin_client: Client, partial: ChunkedUpload, complete: ChunkedUpload
) -> None:
    uploading = admin_client.get(CHANGELIST, {"status": "uploading"}).content.decode()
    assert "half.bin" in uploading and "whole.bin" not in uploading
    assert "half.bin" not in admin_client.get(CHANGELIST, {"expired": "yes"}).content.decode()
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        expired = admin_client.get(CHANGELIST, {"expired": "yes"}).content.decode()
        fresh = admin_client.get(CHANGELIST, {"expired": "no"}).content.decode()
    assert "half.bin" in expired and "whole.bin" not in expired
    assert "half.bin" not in fresh and "whole.bin" in fresh


def test_complete_tus_partial_uploads_expire(admin_client: Client, api: Any) -> None:
    """A tus partial upload waits for a final upload: it expires even once complete."""
    metadata = "filename cGllY2UuYmlu"  # piece.bin
    headers = {"HTTP_TUS_RESUMABLE": "1.0.0", "HTTP_UPLOAD_METADATA": metadata}
    response = api.post(
        "/api/tus/",
        b"abc",
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_LENGTH="3",
        HTTP_UPLOAD_CONCAT="partial",
        **headers,
    )
    assert response.status_code == 201
    assert ChunkedUpload.objects.get().status == "complete"
    partials = admin_client.get(CHANGELIST, {"concatenation": "partial"}).content.decode()
    assert "piece.bin" in partials
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        expired = admin_client.get(CHANGELIST, {"expired": "yes"}).content.decode()
    assert "piece.bin" in expired


def test_abort_removes_uploads_in_progress_and_their_bytes(
    admin_client: Client,
    partial: ChunkedUpload,
    complete: ChunkedUpload,
    media_root: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    aborted: list[Any] = []
    receiver = lambda sender, upload, **kwargs: aborted.append(upload.pk)  # noqa: E731
    signals.upload_aborted.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = act(admin_client, "abort_uploads", partial, complete)
    finally:
        signals.upload_aborted.disconnect(receiver)
    assert "Aborted 1 upload." in response.content.decode()
    assert aborted == [partial.pk]
    assert list(ChunkedUpload.objects.values_list("pk", flat=True)) == [complete.pk]
    assert files_in(media_root) == [Path(complete.file.name).name]  # the completed file stays


def test_abort_leaves_a_busy_upload_alone(
    admin_client: Client, partial: ChunkedUpload, media_root: Path
) -> None:
    ChunkedUpload.objects.filter(pk=partial.pk).update(
        lease_token="00000000-0000-0000-0000-000000000001",
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )
    response = act(admin_client, "abort_uploads", partial).content.decode()
    assert "Aborted 0 uploads." in response
    assert "1 upload was busy receiving a chunk; try again." in response
    assert ChunkedUpload.objects.filter(pk=partial.pk).exists()
    assert files_in(media_root) == [Path(partial.file.name).name]


def test_delete_action_removes_the_bytes_too(
    admin_client: Client,
    complete: ChunkedUpload,
    media_root: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    assert files_in(media_root)
    with django_capture_on_commit_callbacks(execute=True):
        act(admin_client, "delete_selected", complete, post="yes")
    assert not ChunkedUpload.objects.exists()
    assert files_in(media_root) == []


def test_abort_needs_the_delete_permission(
    client: Client, partial: ChunkedUpload, django_user_model: Any
) -> None:
    from django.contrib.auth.models import Permission

    staff = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_chunkedupload"))
    client.force_login(staff)
    page = client.get(CHANGELIST).content.decode()
    assert "half.bin" in page
    assert "abort_uploads" not in page
    act(client, "abort_uploads", partial)
    assert ChunkedUpload.objects.filter(pk=partial.pk).exists()
