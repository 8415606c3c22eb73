"""The serializer: the upload as the protocol returns it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from django.utils.dateparse import parse_datetime  # fromisoformat takes no Z before 3.11
from rest_framework.test import APIRequestFactory

from chunked_uploads.models import ChunkedUpload
from chunked_uploads.serializers import ChunkedUploadSerializer

UTC = timezone.utc  # datetime.UTC needs Python 3.11

CREATED = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def upload(user: Any) -> ChunkedUpload:
    return ChunkedUpload.objects.create(
        user=user,
        filename="video.mp4",
        offset=4,
        size=10,
        created_at=CREATED,
        file="chunked_uploads/2026/03/04/secret.part",
    )


def test_upload_body_has_the_protocol_fields_only(upload: ChunkedUpload) -> None:
    request = APIRequestFactory().get("/anything/", HTTP_HOST="localhost:8443")
    data = ChunkedUploadSerializer(upload, context={"request": request}).data
    assert data == {
        "id": str(upload.pk),
        "url": f"http://localhost:8443/api/uploads/{upload.pk}/",
        "filename": "video.mp4",
        "offset": 4,
        "size": 10,
        "status": "uploading",
        "created_at": "2026-03-04T12:00:00Z",
        "completed_at": None,
        "expires": "2026-03-05T12:00:00Z",
        "checksum_algorithm": "md5",
        "parallel": False,
        "ranges": [[0, 3]],
    }


def test_url_is_relative_without_a_request(upload: ChunkedUpload) -> None:
    assert ChunkedUploadSerializer(upload).data["url"] == f"/api/uploads/{upload.pk}/"


def test_url_uses_the_request_scheme(upload: ChunkedUpload) -> None:
    request = APIRequestFactory().get("/", secure=True)
    data = ChunkedUploadSerializer(upload, context={"request": request}).data
    assert data["url"] == f"https://testserver/api/uploads/{upload.pk}/"


def test_expires_follows_the_expiration_setting(upload: ChunkedUpload, settings: Any) -> None:
    settings.DRF_CHUNKED_UPLOAD_EXPIRATION_DELTA = timedelta(hours=2)
    expires = ChunkedUploadSerializer(upload).data["expires"]
    assert parse_datetime(expires) == CREATED + timedelta(hours=2)


def test_completed_upload(upload: ChunkedUpload) -> None:
    upload.status = ChunkedUpload.COMPLETE
    upload.completed_at = CREATED + timedelta(minutes=1)
    data = ChunkedUploadSerializer(upload).data
    assert (data["status"], data["completed_at"]) == ("complete", "2026-03-04T12:01:00Z")


@pytest.mark.urls("tests.urls_hooks")
def test_url_follows_the_named_url_setting(upload: ChunkedUpload, settings: Any) -> None:
    settings.DRF_CHUNKED_UPLOAD_NAMED_URL = "named-detail"
    assert ChunkedUploadSerializer(upload).data["url"] == f"/api/named/{upload.pk}/"


def test_every_field_is_read_only(upload: ChunkedUpload) -> None:
    serializer = ChunkedUploadSerializer(upload, data={"offset": 0, "filename": "x"}, partial=True)
    assert serializer.is_valid()
    assert serializer.validated_data == {}
