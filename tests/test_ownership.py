"""Isolation between users: another user's upload is invisible, ``USER_RESTRICTED`` and anonymous callers.

This module is also its own URLconf (``pytest.mark.urls``): the example's view at ``api/uploads/``
(``IsAuthenticated``) and the same view with ``AllowAny`` at ``api/open-uploads/``.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.permissions import AllowAny
from rest_framework.test import APIClient

from chunked_uploads.models import ChunkedUpload
from chunked_uploads.routers import ChunkedUploadRouter
from chunked_uploads.views import ChunkedUploadViewSet

from .helpers import LIST_URL, md5, put_chunk, stored_bytes

OPEN_LIST_URL = "/api/open-uploads/"
TOTAL = 300_000
ACKED = 100_000
VERBS = ["GET", "HEAD", "PUT", "POST", "DELETE"]


class OpenViewSet(ChunkedUploadViewSet):
    permission_classes = [AllowAny]


router = ChunkedUploadRouter()
router.register("api/uploads", ChunkedUploadViewSet)
router.register("api/open-uploads", OpenViewSet, basename="open-upload")
urlpatterns = router.urls

pytestmark = pytest.mark.urls(__name__)


@pytest.fixture
def alices(api: Any, payload: bytes) -> ChunkedUpload:
    """Alice's upload with its first 100 kB acknowledged."""
    response = put_chunk(api, LIST_URL, payload[:ACKED], 0, TOTAL)
    assert response.status_code == 200, response.content
    return ChunkedUpload.objects.get(pk=response.json()["id"])


def send(client: Any, method: str, url: str, payload: bytes) -> Any:
    """The verb as a client would use it on an upload: the next chunk, a completion, ..."""
    if method == "PUT":
        return put_chunk(client, url, payload[ACKED : 2 * ACKED], ACKED, TOTAL)
    if method == "POST":
        return client.post(url, {"md5": md5(payload)}, format="json")
    return client.generic(method, url)


def state(upload: ChunkedUpload) -> tuple[int, bytes, str]:
    upload.refresh_from_db()
    return upload.offset, stored_bytes(upload), upload.status


@pytest.mark.parametrize("method", VERBS)
def test_other_users_upload_is_404(
    other_api: Any, alices: ChunkedUpload, payload: bytes, method: str
) -> None:
    """Tries each verb on Alice's upload as Bob; fails unless 404 and Alice's upload unchanged."""
    before = state(alices)
    response = send(other_api, method, f"{LIST_URL}{alices.pk}/", payload)
    assert response.status_code == 404, response.content
    assert state(alices) == before


def test_other_users_upload_is_not_listed(other_api: Any, alices: ChunkedUpload) -> None:
    assert other_api.get(LIST_URL).json()["results"] == []


@pytest.mark.parametrize("setting", ["USER_RESTRICTED", "USER_RESTRICED"])
def test_unrestricted_opens_uploads_to_every_permitted_user(
    other_api: Any, alices: ChunkedUpload, payload: bytes, settings: Any, setting: str
) -> None:
    """With ``USER_RESTRICTED=False`` (or the seed's misspelling) Bob may list, append, complete.

    Fails if the setting does not open the upload, or if Bob's chunks land anywhere but in order."""
    setattr(settings, f"DRF_CHUNKED_UPLOAD_{setting}", False)
    url = f"{LIST_URL}{alices.pk}/"
    assert [item["id"] for item in other_api.get(LIST_URL).json()["results"]] == [str(alices.pk)]
    assert send(other_api, "PUT", url, payload).status_code == 200
    response = put_chunk(other_api, url, payload[2 * ACKED :], 2 * ACKED, TOTAL)
    assert response.status_code == 200, response.content
    assert send(other_api, "POST", url, payload).status_code == 200
    assert state(alices) == (TOTAL, payload, "complete")


@pytest.mark.parametrize("method", VERBS)
def test_anonymous_is_refused_by_the_examples_permissions(
    alices: ChunkedUpload, payload: bytes, method: str
) -> None:
    """Tries each verb without credentials on ``IsAuthenticated``: 401 (token auth's challenge)."""
    before = state(alices)
    response = send(APIClient(), method, f"{LIST_URL}{alices.pk}/", payload)
    assert response.status_code == 401, response.content
    assert state(alices) == before


@pytest.mark.parametrize("method", ["GET", "PUT", "POST"])
def test_anonymous_is_refused_on_the_list_route(payload: bytes, method: str, db: None) -> None:
    file = SimpleUploadedFile("a.bin", payload[:ACKED])
    header = {"HTTP_CONTENT_RANGE": f"bytes 0-{ACKED - 1}/{TOTAL}"}
    client: Any = APIClient()
    response = client.generic(method, LIST_URL, **encode(file), **header)
    assert response.status_code == 401, response.content
    assert not ChunkedUpload.objects.exists()


def encode(file: Any) -> dict[str, Any]:
    client: Any = APIClient()
    data, content_type = client._encode_data({"file": file}, format="multipart")
    return {"data": data, "content_type": content_type}


def test_anonymous_upload_with_allow_any_needs_a_user(payload: bytes, db: None) -> None:
    """``AllowAny`` and the default model (user required): a clear 400 and nothing stored."""
    response = put_chunk(APIClient(), OPEN_LIST_URL, payload[:ACKED], 0, TOTAL)
    assert response.status_code == 400, response.content
    assert response.json()["detail"] == (
        "Upload requires user authentication but user cannot be determined"
    )
    assert response.json()["code"] == "user_required"
    assert not ChunkedUpload.objects.exists()


def test_anonymous_single_shot_with_allow_any_needs_a_user(payload: bytes, db: None) -> None:
    file = SimpleUploadedFile("a.bin", payload)
    response = APIClient().post(OPEN_LIST_URL, {"file": file, "md5": md5(payload)})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "user_required"
    assert not ChunkedUpload.objects.exists()


@pytest.mark.parametrize("method", VERBS)
def test_anonymous_with_allow_any_sees_no_upload(
    alices: ChunkedUpload, payload: bytes, method: str
) -> None:
    """``AllowAny`` lets anonymous callers in, but ``USER_RESTRICTED`` still hides every upload."""
    before = state(alices)
    response = send(APIClient(), method, f"{OPEN_LIST_URL}{alices.pk}/", payload)
    assert response.status_code == 404, response.content
    assert state(alices) == before
    assert APIClient().get(OPEN_LIST_URL).json()["results"] == []


def test_allow_any_and_unrestricted_open_uploads_to_anyone(
    alices: ChunkedUpload, payload: bytes, settings: Any
) -> None:
    """The documented consequence of both opt-outs together: anyone may write to any upload."""
    settings.DRF_CHUNKED_UPLOAD_USER_RESTRICTED = False
    response = send(APIClient(), "PUT", f"{OPEN_LIST_URL}{alices.pk}/", payload)
    assert response.status_code == 200, response.content
    assert state(alices)[0] == 2 * ACKED
