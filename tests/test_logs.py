"""Tests of ``logs.py``: a line for every upload event and refused request, with its fields."""

from __future__ import annotations

import logging
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from chunked_uploads.logs import edge_logger
from chunked_uploads.views import ChunkedUploadViewSet

from .helpers import LIST_URL, md5, put_chunk, upload_in_chunks

FIELDS = ("event", "protocol", "upload_id", "user_id")


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, dict[str, Any]]]:
    """``(logger, event, fields)`` of the app's records, in order; clears the capture."""
    taken = [
        (record.name, record.event, {name: getattr(record, name) for name in FIELDS})
        for record in caplog.records
        if record.name.startswith("chunked_uploads") and hasattr(record, "event")
    ]
    caplog.clear()
    return taken


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="chunked_uploads")
    return caplog


def test_a_chunked_upload_tells_its_story(
    api: APIClient, user: Any, payload: bytes, logs: pytest.LogCaptureFixture
) -> None:
    upload_id = upload_in_chunks(api, payload).json()["id"]
    assert api.post(f"{LIST_URL}{upload_id}/", {"md5": md5(payload)}).status_code == 200
    who = {"protocol": "native", "upload_id": upload_id, "user_id": str(user.pk)}
    expected = ["upload_started", "chunk_received", "chunk_received", "chunk_received"]
    expected.append("upload_completed")
    assert lines(logs) == [
        ("chunked_uploads.uploads", event, {"event": event, **who}) for event in expected
    ]


def test_chunk_lines_carry_the_range_and_offset(
    api: APIClient, payload: bytes, logs: pytest.LogCaptureFixture
) -> None:
    upload_in_chunks(api, payload)
    chunks = [r for r in logs.records if getattr(r, "event", None) == "chunk_received"]
    assert [(r.start, r.end, r.offset, r.size) for r in chunks] == [  # type: ignore[attr-defined]
        (0, 99_999, 100_000, 300_000),
        (100_000, 199_999, 200_000, 300_000),
        (200_000, 299_999, 300_000, 300_000),
    ]
    message = chunks[1].getMessage()
    assert "bytes 100000-199999 acknowledged" in message
    assert "native protocol" in message


def test_an_abort_and_its_deletion(
    api: APIClient, user: Any, logs: pytest.LogCaptureFixture
) -> None:
    upload_id = put_chunk(api, LIST_URL, b"abc", 0, 6).json()["id"]
    logs.clear()
    assert api.delete(f"{LIST_URL}{upload_id}/").status_code == 204
    who = {"protocol": "native", "upload_id": upload_id, "user_id": str(user.pk)}
    assert lines(logs) == [
        ("chunked_uploads.uploads", "upload_aborted", {"event": "upload_aborted", **who}),
        ("chunked_uploads.uploads", "upload_deleted", {"event": "upload_deleted", **who}),
    ]


def test_expiry_is_logged_by_the_command(
    api: APIClient, user: Any, logs: pytest.LogCaptureFixture
) -> None:
    upload_id = put_chunk(api, LIST_URL, b"abc", 0, 6).json()["id"]
    logs.clear()
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        call_command("delete_expired_uploads", stdout=StringIO())
    who = {"protocol": "none", "upload_id": upload_id, "user_id": str(user.pk)}
    command = "chunked_uploads.management.commands.delete_expired_uploads"
    assert lines(logs) == [
        (command, "upload_expired", {"event": "upload_expired", **who}),
        ("chunked_uploads.uploads", "upload_deleted", {"event": "upload_deleted", **who}),
    ]


def test_expiry_keeping_the_record_deletes_nothing(
    api: APIClient, logs: pytest.LogCaptureFixture
) -> None:
    put_chunk(api, LIST_URL, b"abc", 0, 6)
    logs.clear()
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        call_command("delete_expired_uploads", "--keep-record", stdout=StringIO())
    assert [event for _, event, _ in lines(logs)] == ["upload_expired"]


def test_a_refused_request(api: APIClient, user: Any, logs: pytest.LogCaptureFixture) -> None:
    upload_id = put_chunk(api, LIST_URL, b"abc", 0, 6).json()["id"]
    logs.clear()
    response = put_chunk(api, f"{LIST_URL}{upload_id}/", b"def", 1, 6)
    assert response.status_code == 400
    (record,) = logs.records
    assert record.name == "chunked_uploads.views"
    assert record.levelno == logging.WARNING
    fields = {
        name: getattr(record, name)
        for name in (*FIELDS, "action", "method", "path", "status", "code")
    }
    assert fields == {
        "event": "request_refused",
        "protocol": "native",
        "upload_id": upload_id,
        "user_id": str(user.pk),
        "action": "partial_update",
        "method": "PUT",
        "path": f"{LIST_URL}{upload_id}/",
        "status": 400,
        "code": "offset_mismatch",
    }
    assert record.duration >= 0  # type: ignore[attr-defined]
    assert record.getMessage() == (
        f"PUT {LIST_URL}{upload_id}/ refused: 400 offset_mismatch"
        f" (upload {upload_id}, user {user.pk}, native protocol)"
    )


def test_an_anonymous_refusal(db: None, logs: pytest.LogCaptureFixture) -> None:
    assert APIClient().put(LIST_URL, b"x", content_type="application/octet-stream").status_code
    (record,) = logs.records
    assert (record.status, record.code, record.user_id) == (  # type: ignore[attr-defined]
        401,
        "not_authenticated",
        None,
    )


def test_a_failed_single_shot_leaves_a_refusal_and_a_deletion(
    api: APIClient, payload: bytes, logs: pytest.LogCaptureFixture
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    body = {"file": SimpleUploadedFile("f.bin", payload), "md5": "0" * 32}
    assert api.post(LIST_URL, body).status_code == 400
    events = [(name, event) for name, event, _ in lines(logs)]
    assert events == [
        ("chunked_uploads.uploads", "upload_deleted"),
        ("chunked_uploads.views", "request_refused"),
    ]


def test_success_is_not_a_refusal(api: APIClient, logs: pytest.LogCaptureFixture) -> None:
    assert api.get(LIST_URL).status_code == 200
    assert lines(logs) == []


def test_a_projects_subclass_logs_under_the_app(db: None) -> None:
    class ProjectView(ChunkedUploadViewSet):
        pass

    assert edge_logger(ProjectView).name == "chunked_uploads.views"
    assert edge_logger(APIClient).name == "rest_framework.test"
