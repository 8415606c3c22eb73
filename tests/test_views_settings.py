"""``ChunkedUploadViewSet`` through ``APIClient``: every ``DRF_CHUNKED_UPLOAD_*`` setting it reads."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.files.storage import FileSystemStorage
from django.test import override_settings
from django.urls import reverse
from django.utils.dateparse import parse_datetime  # fromisoformat takes no Z before 3.11
from rest_framework.test import APIClient

from chunked_uploads.models import ChunkedUpload
from chunked_uploads.resumable_digests import is_resumable

from .helpers import LIST_URL, md5, put_chunk, stored_bytes, upload_in_chunks
from .view_helpers import (
    CHUNK,
    NOW,
    TOTAL,
    assert_error,
    assert_unchanged,
    detail,
    hooks_urls,
    single_shot,
    start,
    stored_files,
)


class SideStorage(FileSystemStorage):
    """A storage other than the default one: ``MEDIA_ROOT/side``, read on every access."""

    @property
    def base_location(self) -> str:
        return os.path.join(django_settings.MEDIA_ROOT, "side")

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)


# -- settings ----------------------------------------------------------------------------------


def test_expiration_delta_setting(api: APIClient, payload: bytes, settings: Any) -> None:
    settings.DRF_CHUNKED_UPLOAD_EXPIRATION_DELTA = timedelta(minutes=5)
    with time_machine.travel(NOW, tick=False):
        body = put_chunk(api, LIST_URL, payload[:CHUNK], 0, TOTAL).json()
    assert parse_datetime(body["expires"]) == NOW + timedelta(minutes=5)
    url = detail(body["id"])
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        assert_error(put_chunk(api, url, payload[CHUNK:], CHUNK, TOTAL), 410, "upload_expired")
    with time_machine.travel(NOW + timedelta(minutes=4), tick=False):
        assert put_chunk(api, url, payload[CHUNK:], CHUNK, TOTAL).status_code == 200


def test_path_setting_with_strftime(api: APIClient, payload: bytes, settings: Any) -> None:
    settings.DRF_CHUNKED_UPLOAD_PATH = "custom/%Y/%j/"
    with time_machine.travel(NOW):
        upload_id = start(api, payload)
    assert ChunkedUpload.objects.get().file.name == f"custom/2026/063/{upload_id}.part"


def upload_to(instance: Any, filename: str) -> str:
    return f"by-callable/{instance.pk}-{len(filename)}.part"


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("to/%Y/{{ instance.id }}.part", "to/2026/{id}"),
        ("to/{{ instance.id }}/data.part", "to/{id}/data"),
        (upload_to, "by-callable/{id}-9"),
    ],
)
def test_to_setting(
    api: APIClient, payload: bytes, settings: Any, setting: Any, expected: str
) -> None:
    settings.DRF_CHUNKED_UPLOAD_TO = setting
    with time_machine.travel(NOW):
        url = upload_in_chunks(api, payload, filename="video.mp4").json()["url"]
        upload = ChunkedUpload.objects.get()
        stem = expected.format(id=upload.pk)
        assert upload.file.name == stem + ".part"
        assert api.post(url, {"md5": md5(payload)}).status_code == 200
    upload.refresh_from_db()
    assert upload.file.name == stem + ".done"
    assert stored_bytes(upload) == payload


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512", "blake2b", "sha3_256"])
def test_checksum_setting_names_the_algorithm_and_the_field(
    api: APIClient, payload: bytes, settings: Any, algorithm: str
) -> None:
    settings.DRF_CHUNKED_UPLOAD_CHECKSUM = algorithm
    url = upload_in_chunks(api, payload).json()["url"]
    upload = ChunkedUpload.objects.get()
    assert upload.checksum_algorithm == algorithm
    # Non-resumable algorithms keep no state: completion streams the stored bytes instead.
    assert (upload.digest_state is not None) == is_resumable(algorithm)
    digest = hashlib.new(algorithm, payload).hexdigest()
    response = api.post(url, {"md5": md5(payload)}, format="json")
    assert_error(response, 400, "checksum_required", f"Checksum of type '{algorithm}' is required")
    wrong = hashlib.new(algorithm, payload[:-1]).hexdigest()
    assert_error(api.post(url, {algorithm: wrong}), 400, "checksum_mismatch")
    response = api.post(url, {algorithm: digest.upper()}, format="json")
    assert response.status_code == 200, response.content
    upload.refresh_from_db()
    assert (upload.status, upload.checksum) == ("complete", digest)


def test_checksum_setting_changed_mid_upload_reads_the_bytes_back(
    api: APIClient, payload: bytes, settings: Any
) -> None:
    url = upload_in_chunks(api, payload).json()["url"]
    settings.DRF_CHUNKED_UPLOAD_CHECKSUM = "sha256"
    assert_error(api.post(url, {"md5": md5(payload)}), 400, "checksum_required")
    response = api.post(url, {"sha256": hashlib.sha256(payload).hexdigest()})
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("incomplete", "complete"), [(".part", ".bin"), (".tmp", ".done"), (".data", ".data")]
)
def test_extension_settings(
    api: APIClient, payload: bytes, settings: Any, incomplete: str, complete: str
) -> None:
    settings.DRF_CHUNKED_UPLOAD_INCOMPLETE_EXT = incomplete
    settings.DRF_CHUNKED_UPLOAD_COMPLETE_EXT = complete
    url = upload_in_chunks(api, payload).json()["url"]
    upload = ChunkedUpload.objects.get()
    assert upload.file.name.endswith(f"/{upload.pk}{incomplete}")
    part_name = upload.file.name
    assert api.post(url, {"md5": md5(payload)}).status_code == 200
    upload.refresh_from_db()
    assert upload.file.name == part_name.removesuffix(incomplete) + complete
    assert stored_bytes(upload) == payload
    assert upload.file.storage.exists(part_name) == (incomplete == complete)


@pytest.mark.parametrize(
    "storage_class", [SideStorage, "tests.test_views_settings.SideStorage", "side"], ids=str
)
def test_storage_class_setting(
    api: APIClient, payload: bytes, media_root: Path, storage_class: Any
) -> None:
    storages = {
        **django_settings.STORAGES,
        "side": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(media_root / "side")},
        },
    }
    with override_settings(DRF_CHUNKED_UPLOAD_STORAGE_CLASS=storage_class, STORAGES=storages):
        url = upload_in_chunks(api, payload).json()["url"]
        assert api.post(url, {"md5": md5(payload)}).status_code == 200
        upload = ChunkedUpload.objects.get()
        assert stored_files(media_root) == [media_root / "side" / upload.file.name]
        assert stored_bytes(upload) == payload


def test_storage_class_none_is_the_default_storage(
    api: APIClient, payload: bytes, media_root: Path, settings: Any
) -> None:
    settings.DRF_CHUNKED_UPLOAD_STORAGE_CLASS = None
    url = upload_in_chunks(api, payload).json()["url"]
    assert api.post(url, {"md5": md5(payload)}).status_code == 200
    upload = ChunkedUpload.objects.get()
    assert stored_files(media_root) == [media_root / upload.file.name]


@pytest.mark.parametrize(
    ("overrides", "visible"),
    [
        ({}, False),
        ({"DRF_CHUNKED_UPLOAD_USER_RESTRICTED": False}, True),
        ({"DRF_CHUNKED_UPLOAD_USER_RESTRICED": False}, True),
        (
            {
                "DRF_CHUNKED_UPLOAD_USER_RESTRICTED": True,
                "DRF_CHUNKED_UPLOAD_USER_RESTRICED": False,
            },
            False,
        ),
    ],
)
def test_user_restricted_setting(
    api: APIClient, other_api: APIClient, payload: bytes, overrides: dict[str, bool], visible: bool
) -> None:
    upload_id = start(api, payload)
    with override_settings(**overrides):
        assert (other_api.get(detail(upload_id)).status_code == 200) is visible
        assert (
            [item["id"] for item in other_api.get(LIST_URL).json()["results"]] == [upload_id]
        ) is visible
        response = put_chunk(other_api, detail(upload_id), payload[CHUNK:], CHUNK, TOTAL)
        assert (response.status_code == 200) is visible


@hooks_urls
@pytest.mark.parametrize("prefix", ["/api/named/", "/v2/uploads/"])
def test_url_names_the_route_that_answered(api: APIClient, payload: bytes, prefix: str) -> None:
    """A ViewSet registered under another basename, or in a URL namespace, answers with its own
    detail URL (drf-chunked-upload always reversed ``NAMED_URL``: another route, or a 500 after
    the chunk was stored when no route had that name), and the URL takes the next chunk."""
    body = put_chunk(api, prefix, payload[:CHUNK], 0, TOTAL).json()
    assert body["url"] == f"http://testserver{prefix}{body['id']}/"
    response = put_chunk(api, body["url"], payload[CHUNK:], CHUNK, TOTAL)
    assert response.status_code == 200, response.content
    assert response.json()["url"] == body["url"]


@hooks_urls
def test_named_url_setting_wins_over_the_route(
    api: APIClient, payload: bytes, settings: Any
) -> None:
    settings.DRF_CHUNKED_UPLOAD_NAMED_URL = "chunkedupload-detail"
    body = put_chunk(api, "/api/named/", payload[:CHUNK], 0, TOTAL).json()
    assert body["url"] == f"http://testserver/api/uploads/{body['id']}/"
    settings.DRF_CHUNKED_UPLOAD_NAMED_URL = "v2:chunkedupload-detail"
    body = put_chunk(api, "/api/named/", payload[:CHUNK], 0, TOTAL).json()
    assert body["url"] == f"http://testserver/v2/uploads/{body['id']}/"
    assert reverse("named-list") == "/api/named/"


def test_max_chunk_bytes_setting(api: APIClient, payload: bytes, settings: Any) -> None:
    settings.DRF_CHUNKED_UPLOAD_MAX_CHUNK_BYTES = 1000
    for raw in (False, True):
        response = put_chunk(api, LIST_URL, payload[:1001], 0, TOTAL, raw=raw)
        body = assert_error(
            response,
            400,
            "chunk_too_large",
            "Chunk of 1001 bytes exceeds the per-chunk limit (1000 bytes)",
        )
        assert body["limit"] == 1000
    assert ChunkedUpload.objects.count() == 0
    response = put_chunk(api, LIST_URL, payload[:1000], 0, TOTAL)
    assert response.status_code == 200
    upload_id = response.json()["id"]
    response = put_chunk(api, detail(upload_id), payload[1000:2001], 1000, TOTAL)
    assert_error(response, 400, "chunk_too_large")
    assert_unchanged(upload_id, payload[:1000])


def test_max_chunk_bytes_does_not_bound_a_single_shot(
    api: APIClient, payload: bytes, settings: Any
) -> None:
    """MAX_CHUNK_BYTES bounds PUTs; a whole file, raw or multipart, is bounded by MAX_BYTES only."""
    settings.DRF_CHUNKED_UPLOAD_MAX_CHUNK_BYTES = 1000
    data = payload[:5000]
    assert single_shot(api, data, md5=md5(data)).status_code == 200
    response = api.post(
        f"{LIST_URL}?md5={md5(data)}", data, content_type="application/octet-stream"
    )
    assert response.status_code == 200, response.content
    assert ChunkedUpload.objects.filter(status="complete").count() == 2
