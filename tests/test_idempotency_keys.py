"""``Idempotency-Key`` on the native protocol's creation requests (``uploads.idempotent_id``,
``uploads.made_before``, the native views): a first chunk or a whole file sent again after its
answer was lost gets the upload the first request made, never a second one."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from chunked_uploads import exceptions, signals, uploads
from chunked_uploads.models import ChunkedUpload
from chunked_uploads.ranges import ContentRange
from chunked_uploads.views import ChunkedUploadViewSet

from .helpers import LIST_URL, md5, put_chunk, stored_bytes
from .servers import LiveServer, live_server
from .test_races import race

pytestmark = pytest.mark.django_db

CHUNK = 100_000
KEY = {"HTTP_IDEMPOTENCY_KEY": '"3f0e1a52-7f7c-4a52-9d0e-2d1b9c4e5f60"'}


@pytest.fixture
def started() -> Any:
    """The uploads ``upload_started`` announced during the test."""
    announced: list[Any] = []

    def receiver(upload: ChunkedUpload, **kwargs: Any) -> None:
        announced.append(upload.pk)

    signals.upload_started.connect(receiver)
    yield announced
    signals.upload_started.disconnect(receiver)


def first_chunk(api: APIClient, payload: bytes, **headers: Any) -> Any:
    return put_chunk(api, LIST_URL, payload[:CHUNK], 0, len(payload), **headers)


def test_a_first_chunk_sent_again_gets_the_same_upload(
    api: APIClient, payload: bytes, started: list[Any]
) -> None:
    first = first_chunk(api, payload, **KEY)
    assert first.status_code == 200, first.content
    again = first_chunk(api, payload, **KEY)
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["offset"] == CHUNK
    assert ChunkedUpload.objects.count() == 1
    assert started == [uuid.UUID(first.json()["id"])]  # announced once
    url = again.json()["url"]
    for start in (CHUNK, 2 * CHUNK):
        response = put_chunk(api, url, payload[start : start + CHUNK], start, len(payload))
        assert response.status_code == 200, response.content
    assert api.post(url, {"md5": md5(payload)}, format="json").status_code == 200
    assert stored_bytes(ChunkedUpload.objects.get()) == payload


def test_a_bare_key_and_a_quoted_one_are_the_same_key(api: APIClient, payload: bytes) -> None:
    first = first_chunk(api, payload, HTTP_IDEMPOTENCY_KEY="abc-123")
    again = first_chunk(api, payload, HTTP_IDEMPOTENCY_KEY='"abc-123"')
    assert again.json()["id"] == first.json()["id"]


def test_other_keys_and_no_key_make_other_uploads(api: APIClient, payload: bytes) -> None:
    ids = {
        first_chunk(api, payload, HTTP_IDEMPOTENCY_KEY="one").json()["id"],
        first_chunk(api, payload, HTTP_IDEMPOTENCY_KEY="two").json()["id"],
        first_chunk(api, payload).json()["id"],
        first_chunk(api, payload).json()["id"],
    }
    assert len(ids) == 4


def test_another_users_key_is_theirs(api: APIClient, other_api: APIClient, payload: bytes) -> None:
    mine = first_chunk(api, payload, **KEY).json()
    theirs = first_chunk(other_api, payload, **KEY).json()
    assert mine["id"] != theirs["id"]
    assert ChunkedUpload.objects.count() == 2


def test_a_parallel_first_chunk_sent_again_gets_the_same_upload(
    api: APIClient, payload: bytes
) -> None:
    parallel = {**KEY, "HTTP_UPLOAD_MODE": "parallel"}
    first = first_chunk(api, payload, **parallel).json()
    again = first_chunk(api, payload, **parallel)
    assert again.status_code == 200
    assert (again.json()["id"], again.json()["ranges"]) == (first["id"], [[0, CHUNK - 1]])


@pytest.mark.parametrize(
    "other",
    [
        pytest.param({"total": 400_000}, id="another-total"),
        pytest.param({"HTTP_UPLOAD_MODE": "parallel"}, id="another-mode"),
    ],
)
def test_a_key_sent_with_another_request_is_422(
    api: APIClient, payload: bytes, other: dict[str, Any]
) -> None:
    assert first_chunk(api, payload, **KEY).status_code == 200
    total = other.pop("total", len(payload))
    response = put_chunk(api, LIST_URL, payload[:CHUNK], 0, total, **KEY, **other)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "idempotency_key_reused"
    assert ChunkedUpload.objects.count() == 1


@pytest.mark.parametrize("key", ["", '""', "a b", "x" * 256, "é", 'a"b', "a\\b"])
def test_a_malformed_key_is_400_before_anything_is_made(
    api: APIClient, payload: bytes, key: str
) -> None:
    response = first_chunk(api, payload, HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400, response.content
    assert response.json() == {
        "detail": "Idempotency-Key must be 1 to 255 visible ASCII characters, as a token or a"
        " quoted string",
        "code": "invalid_idempotency_key",
        "max_chars": 255,
    }
    assert not ChunkedUpload.objects.exists()


def test_a_first_chunk_still_being_written_is_busy(api: APIClient, payload: bytes) -> None:
    made = first_chunk(api, payload, **KEY).json()
    upload = ChunkedUpload.objects.get()
    uploads.hold_new(upload)  # as a request writing a chunk holds it
    upload.save()
    response = first_chunk(api, payload, **KEY)
    assert response.status_code == 409
    assert response.json()["code"] == "upload_busy"
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        again = first_chunk(api, payload, **KEY)
    assert (again.status_code, again.json()["id"]) == (200, made["id"])


def test_the_id_cannot_be_told_from_the_key_without_the_secret(user: Any, other_user: Any) -> None:
    ids = {
        uploads.idempotent_id(ChunkedUpload, {"user": user}, "key"),
        uploads.idempotent_id(ChunkedUpload, {"user": other_user}, "key"),
        uploads.idempotent_id(ChunkedUpload, {"user": user}, "key2"),
    }
    assert len(ids) == 3
    same = uploads.idempotent_id(ChunkedUpload, {"user": user}, "key")
    assert same in ids and same.version == 4
    with override_settings(SECRET_KEY="another project's secret key, long enough to be one"):
        assert uploads.idempotent_id(ChunkedUpload, {"user": user}, "key") not in ids


def test_an_id_taken_meanwhile_makes_the_creation_busy(user: Any) -> None:
    """Two creations with one key at the same moment both find no upload; the second's insert
    then fails on the id, answered ``upload_busy``, and its retry finds the first's upload."""
    upload_id = uploads.idempotent_id(ChunkedUpload, {"user": user}, "key")
    ChunkedUpload.objects.create(id=upload_id, user=user, size=3, filename="first")
    with pytest.raises(exceptions.UploadBusy):
        uploads.start(ChunkedUpload, ContentRange(0, 0, 3), None, {"user": user, "id": upload_id})
    assert ChunkedUpload.objects.get().filename == "first"


def test_a_whole_file_sent_again_gets_the_same_upload_and_one_hook(
    api: APIClient, payload: bytes
) -> None:
    completed: list[Any] = []

    def receiver(upload: ChunkedUpload, **kwargs: Any) -> None:
        completed.append(upload.pk)

    signals.upload_completed.connect(receiver)
    try:
        responses = [
            api.post(
                f"{LIST_URL}?md5={md5(payload)}",
                payload,
                content_type="application/octet-stream",
                **KEY,
            )
            for _ in range(2)
        ]
    finally:
        signals.upload_completed.disconnect(receiver)
    assert [r.status_code for r in responses] == [200, 200], responses[1].content
    assert responses[0].json() == responses[1].json()
    assert completed == [uuid.UUID(responses[0].json()["id"])]
    assert stored_bytes(ChunkedUpload.objects.get()) == payload


def test_the_remains_of_a_whole_file_that_died_are_replaced(
    api: APIClient, user: Any, payload: bytes
) -> None:
    """A single shot whose worker died left its upload unfinished; once its lease ran out, the
    retry makes it again (a single shot is all or nothing)."""
    upload_id = uploads.idempotent_id(ChunkedUpload, {"user": user}, "whole-1")
    ChunkedUpload.objects.create(id=upload_id, user=user, size=None, filename="dead", offset=7)
    response = api.post(
        f"{LIST_URL}?md5={md5(payload)}",
        payload,
        content_type="application/octet-stream",
        HTTP_IDEMPOTENCY_KEY="whole-1",
    )
    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(upload_id)
    assert stored_bytes(ChunkedUpload.objects.get()) == payload


@override_settings(DRF_CHUNKED_UPLOAD_USER_RESTRICTED=False)
def test_without_user_restriction_keys_stay_per_user(
    api: APIClient, other_api: APIClient, payload: bytes
) -> None:
    mine = first_chunk(api, payload, **KEY).json()
    theirs = first_chunk(other_api, payload, **KEY).json()
    assert mine["id"] != theirs["id"]


# -- against a real multi-worker gunicorn, on the suite's database --------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(workers=3) as running:
        yield running


def live_first_chunk(server: LiveServer, data: bytes, key: str, total: int) -> httpx.Response:
    headers = {
        **server.headers,
        "Idempotency-Key": key,
        "Content-Range": f"bytes 0-{len(data) - 1}/{total}",
        "Content-Type": "application/octet-stream",
    }
    return httpx.put(server.url + LIST_URL, content=data, headers=headers, timeout=60)


def uploads_of(server: LiveServer, size: int) -> list[str]:
    listed = httpx.get(server.url + LIST_URL, headers=server.headers, timeout=30).json()
    return [upload["id"] for upload in listed["results"] if upload["size"] == size]


@pytest.mark.parametrize("round_", range(5))
def test_the_same_creation_at_the_same_moment_makes_one_upload(
    server: LiveServer, round_: int
) -> None:
    """Four workers get the same first chunk and key at once: one upload is made; every answer
    is that upload or ``409 upload_busy``, and the upload's bytes are the chunk, once."""
    total = 3_000_000 + round_
    data = os.urandom(1_000_000)
    key = f'"race-{uuid.uuid4()}"'
    responses = race([partial(live_first_chunk, server, data, key, total)] * 4)
    statuses = sorted(response.status_code for response in responses)
    assert set(statuses) <= {200, 409} and 200 in statuses, [r.text for r in responses]
    made = {response.json()["id"] for response in responses if response.status_code == 200}
    assert len(made) == 1
    assert uploads_of(server, total) == list(made)
    assert server.stored_bytes(made.pop()) == data


def test_a_first_chunk_whose_answer_was_lost_is_found_again(server: LiveServer) -> None:
    """The client sends the first chunk and hangs up before the answer; its retry gets the upload
    the server made, with the chunk stored once."""
    total, data, key = 2_000_017, os.urandom(1_000_000), f'"{uuid.uuid4()}"'
    host, port = urlsplit(server.url).hostname or "", urlsplit(server.url).port or 80
    head = [f"PUT {LIST_URL} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(data)}"]
    head += [f"{name}: {value}" for name, value in server.headers.items()]
    head += [f"Idempotency-Key: {key}", f"Content-Range: bytes 0-{len(data) - 1}/{total}"]
    head += ["Content-Type: application/octet-stream"]
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + data)
    deadline = time.monotonic() + 30
    while (retry := live_first_chunk(server, data, key, total)).status_code == 409:
        assert time.monotonic() < deadline, retry.text
        time.sleep(0.05)
    assert retry.status_code == 200, retry.text
    assert retry.json()["offset"] == len(data)
    assert uploads_of(server, total) == [retry.json()["id"]]
    assert server.stored_bytes(retry.json()["id"]) == data


def test_an_upload_that_expired_is_made_again(api: APIClient, payload: bytes) -> None:
    made = first_chunk(api, payload, **KEY).json()
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        again = first_chunk(api, payload, **KEY)
        assert again.status_code == 200, again.content
        assert (again.json()["id"], again.json()["offset"]) == (made["id"], CHUNK)
        assert again.json()["created_at"] != made["created_at"]
    assert ChunkedUpload.objects.count() == 1


def test_anonymous_callers_get_no_idempotency() -> None:
    class NullOwnerViewSet(ChunkedUploadViewSet):
        def get_owner_fields(self, request: Any) -> dict[str, Any]:
            return {"user": None}  # a model whose user field is nullable, an anonymous caller

    request = Request(APIRequestFactory().put(LIST_URL, HTTP_IDEMPOTENCY_KEY="k"))
    assert NullOwnerViewSet().idempotent_id(request) is None
    # The default model needs a user: the request is refused as without a key (user_required).
    assert ChunkedUploadViewSet().idempotent_id(request) is None
