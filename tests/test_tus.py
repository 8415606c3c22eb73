"""The tus 1.0.0 edge through DRF's APIClient: one test (or more) per row of STANDARDS.md's table."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from chunked_uploads import signals
from chunked_uploads.models import ChunkedUpload

from .helpers import stored_bytes

URL = "/api/tus/"
TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
OCTETS = "application/offset+octet-stream"

pytestmark = pytest.mark.django_db


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def create(api: APIClient, length: int | None, body: bytes = b"", **headers: Any) -> Any:
    extra: dict[str, Any] = {**TUS, **headers}
    if length is not None:
        extra["HTTP_UPLOAD_LENGTH"] = str(length)
    if body:
        return api.post(URL, body, content_type=OCTETS, **extra)
    return api.post(URL, **extra)


def patch(api: APIClient, url: str, data: bytes, offset: int, **headers: Any) -> Any:
    extra = {**TUS, "HTTP_UPLOAD_OFFSET": str(offset), **headers}
    return api.generic("PATCH", url, data, content_type=OCTETS, **extra)


def head(api: APIClient, url: str, **headers: Any) -> Any:
    return api.head(url, **{**TUS, **headers})


def new_upload(api: APIClient, length: int, **headers: Any) -> str:
    response = create(api, length, **headers)
    assert response.status_code == 201, response.content
    return str(response["Location"])


def upload_of(url: str) -> ChunkedUpload:
    return ChunkedUpload.objects.get(pk=url.rstrip("/").rsplit("/", 1)[1])


@override_settings(DRF_CHUNKED_UPLOAD_MAX_BYTES=None)
def test_options_announces_the_server() -> None:
    response = APIClient().options(URL)
    assert response.status_code == 204
    assert response["Tus-Version"] == "1.0.0"
    extensions = response["Tus-Extension"].split(",")
    assert "creation" in extensions and "checksum" in extensions
    assert "concatenation" in extensions
    assert "concatenation-unfinished" not in extensions
    assert "sha1" in response["Tus-Checksum-Algorithm"].split(",")
    assert "Tus-Max-Size" not in response


@override_settings(DRF_CHUNKED_UPLOAD_MAX_BYTES=1000)
def test_options_announces_the_size_limit(api: APIClient) -> None:
    assert api.options(URL)["Tus-Max-Size"] == "1000"


@pytest.mark.parametrize("version", [None, "0.2.2", "1.0"])
def test_other_versions_get_412(api: APIClient, version: str | None) -> None:
    headers = {"HTTP_UPLOAD_LENGTH": "10"}
    if version is not None:
        headers["HTTP_TUS_RESUMABLE"] = version
    response = api.post(URL, **headers)
    assert response.status_code == 412
    assert response["Tus-Version"] == "1.0.0"
    assert not ChunkedUpload.objects.exists()


def test_creation_then_head_patch_and_completion(api: APIClient, user: Any) -> None:
    completed: list[ChunkedUpload] = []

    def receiver(upload: ChunkedUpload, **kwargs: Any) -> None:
        completed.append(upload)

    signals.upload_completed.connect(receiver)
    data = b"hello tus world"
    metadata = f"filename {b64('vidéo.mp4'.encode())},is_confidential"
    try:
        response = create(api, len(data), HTTP_UPLOAD_METADATA=metadata)
        assert response.status_code == 201
        assert response["Tus-Resumable"] == "1.0.0"
        assert "Upload-Expires" in response
        url = response["Location"]
        assert url.startswith("http://testserver/api/tus/")
        upload = upload_of(url)
        assert (upload.filename, upload.tus_metadata, upload.user) == ("vidéo.mp4", metadata, user)

        response = head(api, url)
        assert response.status_code == 200
        assert response["Upload-Offset"] == "0"
        assert response["Upload-Length"] == str(len(data))
        assert response["Upload-Metadata"] == metadata
        assert "no-store" in response["Cache-Control"]

        response = patch(api, url, data[:5], 0)
        assert response.status_code == 204
        assert response["Upload-Offset"] == "5"
        assert not completed
        response = patch(api, url, data[5:], 5)
        assert response.status_code == 204
        assert response["Upload-Offset"] == str(len(data))
        assert "Upload-Expires" not in response
    finally:
        signals.upload_completed.disconnect(receiver)
    assert [upload.pk for upload in completed] == [upload.pk]
    upload.refresh_from_db()
    assert upload.status == "complete"
    assert stored_bytes(upload) == data
    response = head(api, url)
    sha = base64.b64encode(hashlib.md5(data).digest()).decode()
    assert response["Repr-Digest"] == f"md5=:{sha}:"


@override_settings(DRF_CHUNKED_UPLOAD_CHECKSUM="sha256")
def test_repr_digest_uses_the_rfc_9530_name(api: APIClient) -> None:
    data = b"x" * 100
    response = create(api, len(data), data)
    assert response.status_code == 201
    assert response["Upload-Offset"] == "100"
    digest = b64(hashlib.sha256(data).digest())
    assert head(api, response["Location"])["Repr-Digest"] == f"sha-256=:{digest}:"


def test_creation_with_upload_keeps_a_partial_body(api: APIClient) -> None:
    response = create(api, 10, b"abcd")
    assert response.status_code == 201
    assert response["Upload-Offset"] == "4"
    url = response["Location"]
    assert patch(api, url, b"efghij", 4).status_code == 204
    assert stored_bytes(upload_of(url)) == b"abcdefghij"


def test_empty_upload_completes_at_creation(api: APIClient) -> None:
    url = new_upload(api, 0)
    assert upload_of(url).status == "complete"
    assert head(api, url)["Upload-Offset"] == "0"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_UPLOAD_LENGTH": "-1"},
        {"HTTP_UPLOAD_LENGTH": "ten"},
        {"HTTP_UPLOAD_LENGTH": "99999999999999999999"},
        {"HTTP_UPLOAD_DEFER_LENGTH": "2"},
        {"HTTP_UPLOAD_LENGTH": "10", "HTTP_UPLOAD_DEFER_LENGTH": "1"},
        {"HTTP_UPLOAD_LENGTH": "10", "HTTP_UPLOAD_METADATA": "filename not-base64!"},
        {"HTTP_UPLOAD_LENGTH": "10", "HTTP_UPLOAD_METADATA": "a YQ==,a YQ=="},
        {"HTTP_UPLOAD_LENGTH": "10", "HTTP_UPLOAD_METADATA": "a b c"},
        {"HTTP_UPLOAD_LENGTH": "10", "HTTP_UPLOAD_CONCAT": "partial;"},
        {"HTTP_UPLOAD_CONCAT": "partial"},
    ],
)
def test_bad_creation_headers_get_400(api: APIClient, headers: dict[str, str]) -> None:
    response = api.post(URL, **{**TUS, **headers})
    assert response.status_code == 400, response.content
    assert not ChunkedUpload.objects.exists()


def test_empty_metadata_is_fine(api: APIClient) -> None:
    url = new_upload(api, 3, HTTP_UPLOAD_METADATA="")
    assert "Upload-Metadata" not in head(api, url)


@override_settings(DRF_CHUNKED_UPLOAD_MAX_BYTES=10)
def test_creation_over_the_limit_gets_413(api: APIClient) -> None:
    response = create(api, 11)
    assert response.status_code == 413
    assert response["Tus-Max-Size"] == "10"
    assert not ChunkedUpload.objects.exists()


def test_head_of_unknown_upload_is_404_without_offset(api: APIClient) -> None:
    response = head(api, f"{URL}7b0c2ba4-4ba7-4c9b-9c8e-3a1a1e7a0b5c/")
    assert response.status_code == 404
    assert "Upload-Offset" not in response
    assert head(api, f"{URL}not-a-uuid/").status_code == 404


def test_uploads_of_others_are_404(api: APIClient, other_api: APIClient) -> None:
    url = new_upload(api, 3)
    assert head(other_api, url).status_code == 404
    assert patch(other_api, url, b"abc", 0).status_code == 404


def test_patch_with_wrong_content_type_gets_415(api: APIClient) -> None:
    url = new_upload(api, 3)
    extra = {**TUS, "HTTP_UPLOAD_OFFSET": "0"}
    response = api.generic("PATCH", url, b"abc", content_type="application/octet-stream", **extra)
    assert response.status_code == 415
    assert upload_of(url).offset == 0


def test_patch_at_the_wrong_offset_gets_409(api: APIClient) -> None:
    url = new_upload(api, 6)
    assert patch(api, url, b"abc", 0).status_code == 204
    assert patch(api, url, b"def", 2).status_code == 409
    assert patch(api, url, b"d", 4).status_code == 409
    assert upload_of(url).offset == 3


@pytest.mark.parametrize("offset", [None, "-1", "x"])
def test_patch_without_a_valid_offset_gets_400(api: APIClient, offset: str | None) -> None:
    url = new_upload(api, 3)
    extra: dict[str, Any] = dict(TUS)
    if offset is not None:
        extra["HTTP_UPLOAD_OFFSET"] = offset
    assert api.generic("PATCH", url, b"abc", content_type=OCTETS, **extra).status_code == 400


def test_patch_past_the_length_gets_413_and_keeps_nothing(api: APIClient) -> None:
    url = new_upload(api, 4)
    assert patch(api, url, b"abcde", 0).status_code == 413
    assert upload_of(url).offset == 0
    assert stored_bytes(upload_of(url)) == b""


def test_patch_of_a_completed_upload_gets_409(api: APIClient) -> None:
    url = new_upload(api, 3)
    assert patch(api, url, b"abc", 0).status_code == 204
    assert patch(api, url, b"", 3).status_code == 409


@pytest.mark.parametrize("algorithm", ["sha1", "md5", "sha256", "sha512"])
def test_patch_checksums(api: APIClient, algorithm: str) -> None:
    url = new_upload(api, 6)
    good = f"{algorithm} {b64(hashlib.new(algorithm, b'abc').digest())}"
    assert patch(api, url, b"abc", 0, HTTP_UPLOAD_CHECKSUM=good).status_code == 204
    bad = f"{algorithm} {b64(hashlib.new(algorithm, b'xyz').digest())}"
    response = patch(api, url, b"def", 3, HTTP_UPLOAD_CHECKSUM=bad)
    assert response.status_code == 460
    assert upload_of(url).offset == 3
    assert head(api, url)["Upload-Offset"] == "3"
    assert patch(api, url, b"def", 3).status_code == 204
    assert stored_bytes(upload_of(url)) == b"abcdef"


@pytest.mark.parametrize("value", ["crc32 AAAAAA==", "sha1 not-base64!", "sha1 YQ==", "sha1"])
def test_unknown_or_bad_checksums_get_400(api: APIClient, value: str) -> None:
    url = new_upload(api, 3)
    assert patch(api, url, b"abc", 0, HTTP_UPLOAD_CHECKSUM=value).status_code == 400
    assert upload_of(url).offset == 0


def test_termination(api: APIClient) -> None:
    url = new_upload(api, 3)
    response = api.delete(url, **TUS)
    assert response.status_code == 204
    assert response["Tus-Resumable"] == "1.0.0"
    assert head(api, url).status_code == 404
    assert not ChunkedUpload.objects.exists()


def test_method_override(api: APIClient) -> None:
    url = new_upload(api, 3)
    extra = {**TUS, "HTTP_UPLOAD_OFFSET": "0", "HTTP_X_HTTP_METHOD_OVERRIDE": "PATCH"}
    assert api.post(url, b"abc", content_type=OCTETS, **extra).status_code == 204
    assert upload_of(url).status == "complete"
    response = api.post(url, **{**TUS, "HTTP_X_HTTP_METHOD_OVERRIDE": "DELETE"})
    assert response.status_code == 204
    assert not ChunkedUpload.objects.exists()


def test_expired_upload_gets_410(api: APIClient) -> None:
    url = new_upload(api, 3)
    with override_settings(DRF_CHUNKED_UPLOAD_EXPIRATION_DELTA=__import__("datetime").timedelta(0)):
        assert patch(api, url, b"abc", 0).status_code == 410


def test_anonymous_callers_are_refused() -> None:
    response = APIClient().post(URL, **TUS, HTTP_UPLOAD_LENGTH="3")
    assert response.status_code in (401, 403)
    assert response["Tus-Resumable"] == "1.0.0"


def test_deferred_length(api: APIClient) -> None:
    response = api.post(URL, **TUS, HTTP_UPLOAD_DEFER_LENGTH="1")
    assert response.status_code == 201
    url = response["Location"]
    assert head(api, url)["Upload-Defer-Length"] == "1"
    assert "Upload-Length" not in head(api, url)
    assert patch(api, url, b"abc", 0).status_code == 204
    assert upload_of(url).status == "uploading"
    response = patch(api, url, b"de", 3, HTTP_UPLOAD_LENGTH="5")
    assert response.status_code == 204
    upload = upload_of(url)
    assert (upload.status, upload.size) == ("complete", 5)
    assert stored_bytes(upload) == b"abcde"
    assert head(api, url)["Upload-Length"] == "5"


def test_deferred_length_too_short_gets_413(api: APIClient) -> None:
    url = api.post(URL, **TUS, HTTP_UPLOAD_DEFER_LENGTH="1")["Location"]
    assert patch(api, url, b"abc", 0, HTTP_UPLOAD_LENGTH="2").status_code == 413
    assert upload_of(url).size is None


def test_length_may_not_change(api: APIClient) -> None:
    url = new_upload(api, 5)
    assert patch(api, url, b"abc", 0, HTTP_UPLOAD_LENGTH="6").status_code == 400


@override_settings(DRF_CHUNKED_UPLOAD_MAX_BYTES=4)
def test_deferred_length_is_bounded_by_the_limit(api: APIClient) -> None:
    url = api.post(URL, **TUS, HTTP_UPLOAD_DEFER_LENGTH="1")["Location"]
    assert patch(api, url, b"abc", 0).status_code == 204
    assert patch(api, url, b"de", 3).status_code == 413
    assert upload_of(url).offset == 3


@override_settings(DRF_CHUNKED_UPLOAD_MAX_CHUNK_BYTES=4)
def test_max_chunk_bytes_is_the_native_protocols_limit(api: APIClient) -> None:
    """tus clients send a whole file in one PATCH by default, and tus cannot tell them a smaller
    size: the per-chunk limit would only make them fail (docs/settings.md)."""
    url = new_upload(api, 10)
    assert patch(api, url, b"x" * 10, 0).status_code == 204
    assert upload_of(url).status == "complete"


def test_metadata_is_bounded(api: APIClient) -> None:
    pairs = ",".join(f"k{n} {b64(b'v' * 40)}" for n in range(200))  # about 11,000 characters
    response = create(api, 3, HTTP_UPLOAD_METADATA=pairs)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_header"
    assert "8192" in response.json()["detail"]
    assert not ChunkedUpload.objects.exists()
    fits = ",".join(f"k{n} {b64(b'v' * 40)}" for n in range(120))  # about 7,300
    assert create(api, 3, HTTP_UPLOAD_METADATA=fits).status_code == 201


def test_the_openapi_schema_documents_the_tus_endpoints() -> None:
    import yaml

    golden = yaml.safe_load((Path(__file__).with_name("schema.yaml")).read_text())
    operations = {
        operation["operationId"]: operation
        for path in ("/api/tus/", "/api/tus/{id}/")
        for operation in golden["paths"][path].values()
    }
    assert set(operations) == {"tus_create", "tus_offset", "tus_append", "tus_terminate"}
    for operation in operations.values():
        tus_resumable = [p for p in operation["parameters"] if p["name"] == "Tus-Resumable"]
        assert tus_resumable[0]["required"] is True
        assert "412" in operation["responses"]
    append = operations["tus_append"]
    assert set(append["requestBody"]["content"]) == {OCTETS}
    assert {"204", "409", "413", "415", "423", "460"} <= set(append["responses"])
    assert "Upload-Offset" in append["responses"]["204"]["headers"]
    assert "Location" in operations["tus_create"]["responses"]["201"]["headers"]
    assert "Repr-Digest" in operations["tus_offset"]["responses"]["200"]["headers"]


@override_settings(DRF_CHUNKED_UPLOAD_CHECKPOINT_BYTES=2**20)
def test_a_patch_with_a_checksum_is_all_or_nothing(api: APIClient) -> None:
    data = bytes(range(256)) * (3 * 2**12)  # 3 MiB: three check-points' worth
    url = new_upload(api, len(data))
    bad = f"sha1 {b64(hashlib.sha1(b'other').digest())}"
    assert patch(api, url, data, 0, HTTP_UPLOAD_CHECKSUM=bad).status_code == 460
    assert upload_of(url).offset == 0
    good = f"sha1 {b64(hashlib.sha1(data).digest())}"
    assert patch(api, url, data, 0, HTTP_UPLOAD_CHECKSUM=good).status_code == 204
    assert stored_bytes(upload_of(url)) == data


def test_session_authentication_needs_the_csrf_header(user: Any) -> None:
    from django.middleware.csrf import _get_new_csrf_string

    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(user)
    token = _get_new_csrf_string()
    browser.cookies["csrftoken"] = token
    assert browser.post(URL, **TUS, HTTP_UPLOAD_LENGTH="3").status_code == 403
    response = browser.post(URL, **TUS, HTTP_UPLOAD_LENGTH="3", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201
    url = response["Location"]
    assert patch(browser, url, b"abc", 0).status_code == 403
    assert upload_of(url).offset == 0
    assert patch(browser, url, b"abc", 0, HTTP_X_CSRFTOKEN=token).status_code == 204
    assert stored_bytes(upload_of(url)) == b"abc"


@override_settings(DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_UPLOADS=1)
def test_the_unfinished_uploads_quota_applies(api: APIClient) -> None:
    new_upload(api, 3)
    response = create(api, 3)
    assert response.status_code == 403
    assert response.json()["code"] == "too_many_unfinished_uploads"


@override_settings(DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_BYTES=10)
def test_a_deferred_length_upload_grows_within_the_bytes_quota(api: APIClient) -> None:
    url = api.post(URL, **TUS, HTTP_UPLOAD_DEFER_LENGTH="1")["Location"]
    assert patch(api, url, b"x" * 6, 0).status_code == 204
    response = patch(api, url, b"y" * 5, 6)
    assert response.status_code == 403
    assert response.json()["code"] == "unfinished_bytes_quota_exceeded"
    assert upload_of(url).offset == 6  # what was acknowledged stays
    # Its 6 bytes count against a new upload; declaring a length over the quota is refused too.
    assert create(api, 5).json()["code"] == "unfinished_bytes_quota_exceeded"
    response = patch(api, url, b"y", 6, HTTP_UPLOAD_LENGTH="11")
    assert response.json()["code"] == "unfinished_bytes_quota_exceeded"
    assert patch(api, url, b"y" * 4, 6, HTTP_UPLOAD_LENGTH="10").status_code == 204
    assert upload_of(url).status == "complete"
    assert create(api, 10).status_code == 201  # a completed upload no longer counts


def test_a_failed_completion_hook_runs_again_at_the_next_head(api: APIClient) -> None:
    calls: list[str] = []

    def receiver(upload: ChunkedUpload, **kwargs: Any) -> None:
        calls.append(str(upload.pk))
        if len(calls) == 1:
            raise RuntimeError("the hook failed")

    url = new_upload(api, 3)
    signals.upload_completed.connect(receiver)
    try:
        with pytest.raises(RuntimeError):
            patch(api, url, b"abc", 0)
        upload = upload_of(url)
        assert (upload.offset, upload.status) == (3, "uploading")
        response = head(api, url)
    finally:
        signals.upload_completed.disconnect(receiver)
    assert response.status_code == 200
    assert response["Upload-Offset"] == "3"
    assert "Repr-Digest" in response
    assert len(calls) == 2
    assert upload_of(url).status == "complete"


def test_routers_map_tus_methods() -> None:
    from rest_framework.routers import DefaultRouter

    from chunked_uploads.protocols.tus.routers import TusRouter
    from chunked_uploads.protocols.tus.views import TusUploadViewSet

    tus_router = TusRouter()
    tus_router.register("api/tus", TusUploadViewSet)
    drf_router = DefaultRouter()
    drf_router.register("api/tus", TusUploadViewSet, basename="tus")
    for router, basename in ((tus_router, "tuschunkedupload"), (drf_router, "tus")):
        patterns = {pattern.name: pattern for pattern in router.urls if pattern.name}
        listing = patterns[f"{basename}-list"].callback.actions  # type: ignore[attr-defined]
        detail = patterns[f"{basename}-detail"].callback.actions  # type: ignore[attr-defined]
        assert listing == {"post": "create"}
        assert detail == {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
