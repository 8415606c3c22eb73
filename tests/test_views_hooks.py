"""``ChunkedUploadViewSet`` through ``APIClient``: its override points and DRF's per-view classes.

The views under ``tests/urls_hooks.py`` override ``field_name``, ``max_bytes``, ``get_max_bytes``,
``do_checksum_check``, ``get_response_data`` and the rest; the last tests pin what an append costs
in statements and how append and completion behave under row locks and ``ATOMIC_REQUESTS``.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections, transaction
from rest_framework.test import APIClient

from chunked_uploads import signals
from chunked_uploads.models import ChunkedUpload
from tests import urls_hooks

from .helpers import LIST_URL, md5, put_chunk, stored_bytes, upload_in_chunks
from .view_helpers import (
    BODY_KEYS,
    CHUNK,
    NO_CHUNK,
    SIZE_LIMIT,
    TOTAL,
    assert_error,
    assert_unchanged,
    detail,
    hooks_urls,
    single_shot,
    start,
)

# -- hooks -------------------------------------------------------------------------------------


@hooks_urls
def test_field_name_works_for_every_action(api: APIClient, payload: bytes) -> None:
    prefix = "/hooks/field/"
    upload_id = start(api, payload, prefix, field="the_file")
    url = detail(upload_id, prefix)
    for begin in (CHUNK, 2 * CHUNK):
        chunk = payload[begin : begin + CHUNK]
        assert put_chunk(api, url, chunk, begin, TOTAL, field="the_file").status_code == 200
    assert api.post(url, {"md5": md5(payload)}).status_code == 200
    assert stored_bytes(ChunkedUpload.objects.get(pk=upload_id)) == payload
    body = {"the_file": SimpleUploadedFile("one.bin", payload), "md5": md5(payload)}
    response = api.post(prefix, body, format="multipart")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "complete"


@hooks_urls
def test_field_name_refuses_the_default_field(api: APIClient, payload: bytes) -> None:
    prefix = "/hooks/field/"
    assert_error(put_chunk(api, prefix, payload[:CHUNK], 0, TOTAL), 400, "no_chunk", NO_CHUNK)
    assert_error(single_shot(api, payload, prefix, md5=md5(payload)), 400, "no_chunk")
    upload_id = start(api, payload, prefix, field="the_file")
    url = detail(upload_id, prefix)
    assert_error(put_chunk(api, url, payload[CHUNK:], CHUNK, TOTAL), 400, "no_chunk")
    assert_unchanged(upload_id, payload[:CHUNK])


@hooks_urls
def test_user_field_name_that_the_model_lacks_disables_owner_filtering(
    api: APIClient, other_api: APIClient, payload: bytes
) -> None:
    upload_id = start(api, payload)
    assert other_api.get(detail(upload_id)).status_code == 404
    assert other_api.get(detail(upload_id, "/hooks/ownerless/")).status_code == 200
    listed = other_api.get("/hooks/ownerless/").json()["results"]
    assert [item["id"] for item in listed] == [upload_id]


@hooks_urls
def test_view_max_bytes_wins_over_the_setting(api: APIClient, settings: Any) -> None:
    settings.DRF_CHUNKED_UPLOAD_MAX_BYTES = 10
    prefix = "/hooks/view-max/"
    response = put_chunk(api, prefix, b"x" * 10, 0, 1001)
    body = assert_error(response, 400, "size_limit_exceeded", SIZE_LIMIT)
    assert body["limit"] == 1000
    assert put_chunk(api, prefix, b"x" * 10, 0, 1000).status_code == 200
    assert_error(put_chunk(api, LIST_URL, b"x" * 10, 0, 11), 400, "size_limit_exceeded")


@hooks_urls
def test_get_max_bytes_sees_the_request(api: APIClient, settings: Any) -> None:
    settings.DRF_CHUNKED_UPLOAD_MAX_BYTES = 10  # the override ignores the setting entirely
    prefix = "/hooks/request-max/"
    response = put_chunk(api, prefix, b"x" * 10, 0, 2000, HTTP_X_MAX_BYTES="1000")
    assert_error(response, 400, "size_limit_exceeded", SIZE_LIMIT)
    assert put_chunk(api, prefix, b"x" * 10, 0, 2000, HTTP_X_MAX_BYTES="5000").status_code == 200
    assert put_chunk(api, prefix, b"x" * 10, 0, 2000).status_code == 200
    response = api.post(
        prefix, b"x" * 1001, content_type="application/octet-stream", HTTP_X_MAX_BYTES="1000"
    )
    assert_error(response, 400, "size_limit_exceeded", SIZE_LIMIT)
    # A multipart single shot's length is known only as it streams: the limit applies there too.
    for limit in ("1000", "1001"):
        body = {"file": SimpleUploadedFile("big.bin", b"x" * 1001), "md5": md5(b"x" * 1001)}
        response = api.post(prefix, body, format="multipart", HTTP_X_MAX_BYTES=limit)
        if limit == "1000":
            assert_error(response, 400, "size_limit_exceeded", SIZE_LIMIT)
    assert response.status_code == 200, response.content


@hooks_urls
def test_do_checksum_check_false_completes_without_checksum(api: APIClient, payload: bytes) -> None:
    prefix = "/hooks/no-checksum/"
    upload_id = start(api, payload, prefix)
    url = detail(upload_id, prefix)
    assert_error(api.post(url, {}), 400, "upload_incomplete")
    for begin in (CHUNK, 2 * CHUNK):
        put_chunk(api, url, payload[begin : begin + CHUNK], begin, TOTAL)
    response = api.post(url, {"md5": "0" * 32}, format="json")  # not checked
    assert response.status_code == 200, response.content
    assert ChunkedUpload.objects.get(pk=upload_id).checksum == md5(payload)
    response = api.post(prefix, {"file": SimpleUploadedFile("a.bin", payload)}, format="multipart")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "complete"


@hooks_urls
def test_get_response_data_shapes_the_completion_body(api: APIClient, payload: bytes) -> None:
    prefix = "/hooks/response-data/"
    upload_id = start(api, payload, prefix, filename="shaped.bin")
    url = detail(upload_id, prefix)
    response = put_chunk(api, url, payload[CHUNK:], CHUNK, TOTAL)
    assert set(response.json()) == BODY_KEYS  # chunks keep the protocol body
    response = api.post(url, {"md5": md5(payload)})
    assert response.status_code == 200
    assert response.json() == {"name": "shaped.bin", "received": TOTAL, "method": "POST"}
    response = single_shot(api, payload, prefix, md5=md5(payload))
    assert response.json() == {"name": "whole.bin", "received": TOTAL, "method": "POST"}


@hooks_urls
def test_on_completion_response_replaces_the_body(api: APIClient, payload: bytes) -> None:
    urls_hooks.completed_uploads.clear()
    prefix = "/hooks/on-completion/"
    upload_id = start(api, payload[:CHUNK], prefix, filename="replace-me.bin")
    response = api.post(detail(upload_id, prefix), {"md5": md5(payload[:CHUNK])})
    assert response.status_code == 201
    assert response.json() == {"replaced": upload_id, "status": "complete"}
    upload_id = start(api, payload[:CHUNK], prefix, filename="keep.bin")
    response = api.post(detail(upload_id, prefix), {"md5": md5(payload[:CHUNK])})
    assert response.status_code == 200
    assert set(response.json()) == BODY_KEYS
    assert response.json()["status"] == "complete"
    seen = [(str(upload.pk), upload.status) for upload in urls_hooks.completed_uploads]
    assert seen[-1] == (upload_id, "complete")
    assert len(seen) == 2


@hooks_urls
def test_object_permissions_apply_to_writes(api: APIClient, payload: bytes) -> None:
    prefix = "/hooks/object-permission/"
    locked = start(api, payload, prefix, filename="locked.bin")
    url = detail(locked, prefix)
    assert api.get(url).status_code == 200
    assert api.head(url).status_code == 200
    for chunk_raw in (False, True):
        response = put_chunk(api, url, payload[CHUNK:], CHUNK, TOTAL, raw=chunk_raw)
        assert_error(response, 403, "permission_denied")
    assert_error(api.post(url, {"md5": md5(payload)}), 403, "permission_denied")
    assert_error(api.delete(url), 403, "permission_denied")
    assert_unchanged(locked, payload[:CHUNK])
    unlocked = detail(start(api, payload, prefix, filename="open.bin"), prefix)
    assert put_chunk(api, unlocked, payload[CHUNK:], CHUNK, TOTAL).status_code == 200
    assert api.delete(unlocked).status_code == 204


@hooks_urls
def test_throttle_classes_apply(api: APIClient, payload: bytes) -> None:
    cache.clear()  # throttle history lives in the cache
    prefix = "/hooks/throttled/"
    assert api.get(prefix).status_code == 200
    response = put_chunk(api, prefix, payload[:CHUNK], 0, TOTAL)
    body = assert_error(response, 429, "throttled")
    assert body["detail"].startswith("Request was throttled.")
    assert ChunkedUpload.objects.count() == 0
    cache.clear()


@hooks_urls
def test_pagination_class_applies_to_list(api: APIClient, payload: bytes) -> None:
    ids = {start(api, payload[:CHUNK]) for _ in range(3)}
    first = api.get("/hooks/paginated/").json()
    assert first["count"] == 3
    assert len(first["results"]) == 2
    second = api.get(first["next"]).json()
    assert second["next"] is None
    assert {item["id"] for item in first["results"] + second["results"]} == ids
    assert api.get(LIST_URL).json()["count"] == 3  # the default view pages by 100


@hooks_urls
def test_filter_backends_apply_to_list(api: APIClient, payload: bytes) -> None:
    for name in ("report.pdf", "b-video.mp4", "a-video.mp4"):
        start(api, payload[:CHUNK], filename=name)
    found = api.get("/hooks/filtered/", {"search": "video"}).json()["results"]
    assert sorted(item["filename"] for item in found) == ["a-video.mp4", "b-video.mp4"]
    ordered = api.get("/hooks/filtered/", {"ordering": "filename"}).json()["results"]
    assert [item["filename"] for item in ordered] == ["a-video.mp4", "b-video.mp4", "report.pdf"]
    assert api.get(LIST_URL, {"search": "video"}).json()["count"] == 3


def test_an_append_costs_four_statements(
    api: APIClient, payload: bytes, django_assert_num_queries: Any
) -> None:
    """Token lookup, the view's get_object(), the lease's UPDATE, the acknowledging UPDATE."""
    upload_id = start(api, payload)
    with django_assert_num_queries(4):
        response = put_chunk(api, detail(upload_id), payload[CHUNK : 2 * CHUNK], CHUNK, TOTAL)
    assert response.status_code == 200, response.content
    assert response.json()["offset"] == 2 * CHUNK


@pytest.mark.django_db(transaction=True)
def test_a_row_locked_past_the_lock_timeout_is_busy_not_a_500(
    api: APIClient, payload: bytes
) -> None:
    """Another connection holds the upload's row lock (a long transaction elsewhere) past the
    database's lock wait timeout: the chunk gets ``409 upload_busy`` in JSON, not a 500, and
    nothing is acknowledged; once the lock is gone the same chunk goes through."""
    if connection.vendor not in ("postgresql", "mysql"):
        pytest.skip("a row lock held by another connection: PostgreSQL and MariaDB only")
    response = put_chunk(api, LIST_URL, payload[:1000], 0, 3000)
    assert response.status_code == 200, response.content
    url, pk = response.json()["url"], response.json()["id"]
    short, default = {
        "postgresql": ("SET lock_timeout = '300ms'", "SET lock_timeout = 0"),
        "mysql": (
            "SET SESSION innodb_lock_wait_timeout = 1",
            "SET SESSION innodb_lock_wait_timeout = DEFAULT",
        ),
    }[connection.vendor]
    with transaction.atomic():  # the compiler refuses FOR UPDATE outside a transaction
        query = ChunkedUpload.objects.select_for_update().filter(pk=pk).values_list("pk").query
        sql, params = query.sql_with_params()
    other = connections.create_connection("default")
    try:
        other.set_autocommit(False)
        other.cursor().execute(sql, params)  # holds the row until rolled back
        connection.cursor().execute(short)
        refused = put_chunk(api, url, payload[1000:2000], 1000, 3000)
        assert refused.status_code == 409, refused.content
        assert refused.json()["code"] == "upload_busy"
    finally:
        other.rollback()
        other.close()
        connection.cursor().execute(default)
    assert ChunkedUpload.objects.get(pk=pk).offset == 1000
    again = put_chunk(api, url, payload[1000:2000], 1000, 3000)
    assert again.status_code == 200, again.content
    assert ChunkedUpload.objects.get(pk=pk).offset == 2000


@hooks_urls
def test_first_response_names_the_checksum_completion_expects(
    api: APIClient, payload: bytes, settings: Any
) -> None:
    """A client learns the algorithm before it has sent the file, not at completion."""
    settings.DRF_CHUNKED_UPLOAD_CHECKSUM = "sha256"
    response = put_chunk(api, LIST_URL, payload[:CHUNK], 0, TOTAL)
    assert response.json()["checksum_algorithm"] == "sha256"
    response = put_chunk(api, "/hooks/no-checksum/", payload[:CHUNK], 0, TOTAL)
    assert response.json()["checksum_algorithm"] is None
    upload_id = start(api, payload[:CHUNK])
    refused = api.post(detail(upload_id), {})
    assert assert_error(refused, 400, "checksum_required")["checksum_algorithm"] == "sha256"


def test_a_failed_hook_under_atomic_requests_can_be_completed_again(
    api: APIClient, payload: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ATOMIC_REQUESTS would wrap the completion in one transaction with the request: a failing
    hook rolled back the record of the renamed file, and every retry answered 500."""
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    url = upload_in_chunks(api, payload).json()["url"]
    calls: list[str] = []

    def fail_once(sender: Any, upload: ChunkedUpload, **kwargs: Any) -> None:
        calls.append(upload.status)
        if len(calls) == 1:
            raise RuntimeError("the hook failed")

    signals.upload_completed.connect(fail_once, dispatch_uid="fail-once")
    api.raise_request_exception = False
    try:
        assert api.post(url, {"md5": md5(payload)}, format="json").status_code == 500
        response = api.post(url, {"md5": md5(payload)}, format="json")
    finally:
        signals.upload_completed.disconnect(dispatch_uid="fail-once")
    assert response.status_code == 200, response.content
    assert len(calls) == 2
    assert stored_bytes(ChunkedUpload.objects.get()) == payload
