"""The native edge's request handling around DRF: session authentication's CSRF check and the
completion's JSON (issue 13's findings 1 and 4).

The chunk actions leave their body to the body readers (``bodies/``), so DRF's CSRF check, which
reads ``request.POST``, neither breaks nor consumes the chunk; a completion body nested too deeply
for Python's JSON parser is a 400, not a 500.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest
from django.test import Client

from chunked_uploads.models import ChunkedUpload

from .helpers import LIST_URL, md5, stored_bytes

LOGIN_URL = "/api-auth/login/"


def logged_in(user: Any) -> tuple[Client, str]:
    """A browser-like client signed in through DRF's login view, and its CSRF token."""
    client = Client(enforce_csrf_checks=True)
    page = client.get(LOGIN_URL).content.decode()
    form_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert form_token is not None
    credentials = {"username": user.username, "password": "alice-password"}
    login = client.post(LOGIN_URL, {**credentials, "csrfmiddlewaretoken": form_token[1]})
    assert login.status_code == 302, login.content
    return client, client.cookies["csrftoken"].value


def whole_file(data: bytes, **fields: str) -> dict[str, Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return {"file": SimpleUploadedFile("h.txt", data), "md5": md5(data), **fields}


def test_single_shot_with_session_login_and_csrf_token(user: Any, payload: bytes) -> None:
    """Finding 1: the browser's path for small files. DRF's CSRF check reads ``request.POST``
    before the action runs; the chunk must still reach the store, once and whole."""
    client, token = logged_in(user)
    response = client.post(LIST_URL, whole_file(payload), HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200, response.content
    upload = ChunkedUpload.objects.get()
    assert (upload.status, upload.filename) == ("complete", "h.txt")
    assert stored_bytes(upload) == payload


def test_single_shot_with_session_login_without_csrf_token_is_forbidden(
    user: Any, payload: bytes
) -> None:
    client, _ = logged_in(user)
    response = client.post(LIST_URL, whole_file(payload))
    assert response.status_code == 403, response.content
    assert "CSRF" in response.json()["detail"]
    assert not ChunkedUpload.objects.exists()


def test_json_single_shot_without_csrf_token_is_forbidden_not_no_chunk(user: Any) -> None:
    """Finding 1's second half: the CSRF check answers first (403), not the missing chunk."""
    client, _ = logged_in(user)
    body = json.dumps({"md5": hashlib.md5(b"").hexdigest()})
    response = client.post(LIST_URL, body, content_type="application/json")
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "permission_denied"


def test_json_single_shot_with_csrf_token_has_no_chunk(user: Any) -> None:
    client, token = logged_in(user)
    body = json.dumps({"md5": hashlib.md5(b"").hexdigest()})
    response = client.post(LIST_URL, body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "no_chunk"


def test_chunk_put_with_session_login_and_csrf_token(user: Any, payload: bytes) -> None:
    client, token = logged_in(user)
    response = client.generic(
        "PUT",
        LIST_URL,
        payload,
        content_type="application/octet-stream",
        HTTP_CONTENT_RANGE=f"bytes 0-{len(payload) - 1}/{len(payload)}",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200, response.content
    assert stored_bytes(ChunkedUpload.objects.get()) == payload


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_deeply_nested_json_completion_is_a_400(api: Any, depth: int) -> None:
    """Finding 4: Python's JSON parser raises ``RecursionError``, which DRF let through as a
    500; the body is parsed before the upload is looked up, so any id will do."""
    body = "[" * depth + "]" * depth
    url = f"{LIST_URL}00000000-0000-0000-0000-000000000000/"
    response = api.post(url, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "parse_error"


def test_a_json_completion_still_works(api: Any, payload: bytes) -> None:
    put = api.generic(
        "PUT",
        LIST_URL,
        payload,
        content_type="application/octet-stream",
        HTTP_CONTENT_RANGE=f"bytes 0-{len(payload) - 1}/{len(payload)}",
    )
    url = put.json()["url"]
    response = api.post(url, {"md5": md5(payload)}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "complete"
