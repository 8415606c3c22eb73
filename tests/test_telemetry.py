"""Tests of ``telemetry.py``: ``request_handled`` after every upload request, and the protocol in
scope while the core's signals are sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from chunked_uploads import signals, telemetry
from chunked_uploads.views import ChunkedUploadViewSet

from .helpers import LIST_URL, md5, put_chunk


class Handled:
    """Records the keyword arguments of every ``request_handled``."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, sender: Any, **kwargs: Any) -> None:
        kwargs.pop("signal")
        self.calls.append({"sender": sender, **kwargs})

    def only(self) -> dict[str, Any]:
        (call,) = self.calls
        self.calls.clear()
        return call


@pytest.fixture
def handled() -> Iterator[Handled]:
    recorder = Handled()
    signals.request_handled.connect(recorder)
    yield recorder
    signals.request_handled.disconnect(recorder)


def test_an_acknowledged_chunk(api: APIClient, user: Any, handled: Handled) -> None:
    response = put_chunk(api, LIST_URL, b"abc", 0, 6)
    assert response.status_code == 200
    call = handled.only()
    assert call["sender"] is ChunkedUploadViewSet
    assert call["protocol"] == "native"
    assert call["action"] == "create"
    assert (call["status"], call["code"]) == (200, None)
    assert call["upload_id"] == response.json()["id"]
    assert call["user_id"] == str(user.pk)
    assert call["request"].method == "PUT"
    assert 0 < call["duration"] < 60


def test_a_refused_chunk(api: APIClient, user: Any, handled: Handled) -> None:
    upload_id = put_chunk(api, LIST_URL, b"abc", 0, 6).json()["id"]
    handled.calls.clear()
    response = put_chunk(api, f"{LIST_URL}{upload_id}/", b"def", 2, 6)
    assert response.status_code == 400
    call = handled.only()
    assert call["action"] == "partial_update"
    assert (call["status"], call["code"]) == (400, "offset_mismatch")
    assert (call["upload_id"], call["user_id"]) == (upload_id, str(user.pk))


def test_an_anonymous_caller(db: None, handled: Handled) -> None:
    response = APIClient().get(LIST_URL)
    assert response.status_code == 401
    call = handled.only()
    assert (call["status"], call["code"]) == (401, "not_authenticated")
    assert (call["action"], call["upload_id"], call["user_id"]) == ("list", None, None)


def test_a_wrong_token(db: None, handled: Handled) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token nope")
    assert client.get(LIST_URL).status_code == 401
    call = handled.only()
    assert (call["code"], call["user_id"]) == ("authentication_failed", None)


def test_an_unknown_upload(api: APIClient, handled: Handled) -> None:
    url = f"{LIST_URL}00000000-0000-0000-0000-000000000000/"
    assert api.delete(url).status_code == 404
    call = handled.only()
    assert (call["action"], call["status"], call["code"]) == ("destroy", 404, "not_found")
    assert call["upload_id"] == "00000000-0000-0000-0000-000000000000"


def test_an_exception_is_a_server_error(api: APIClient, handled: Handled) -> None:
    def explode(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("receiver failed")

    signals.upload_started.connect(explode)
    try:
        with pytest.raises(RuntimeError):
            put_chunk(api, LIST_URL, b"abc", 0, 3)
    finally:
        signals.upload_started.disconnect(explode)
    call = handled.only()
    assert (call["status"], call["code"]) == (500, "server_error")


def test_the_core_signals_see_the_protocol(api: APIClient, user: Any, payload: bytes) -> None:
    seen: list[tuple[str, str | None]] = []

    def record(sender: Any, **kwargs: Any) -> None:
        seen.append((telemetry.current_protocol(), telemetry.current_user_id()))

    for signal in (signals.upload_started, signals.chunk_received, signals.upload_completed):
        signal.connect(record)
    try:
        response = api.post(LIST_URL, {"file": _file(payload), "md5": md5(payload)})
    finally:
        for signal in (signals.upload_started, signals.chunk_received, signals.upload_completed):
            signal.disconnect(record)
    assert response.status_code == 200, response.content
    assert seen == [("native", str(user.pk))] * 3
    assert telemetry.current_protocol() == telemetry.NO_PROTOCOL  # reset after the request
    assert telemetry.current_user_id() is None


def test_another_edge_names_its_protocol(api: APIClient, handled: Handled) -> None:
    class OtherEdge(ChunkedUploadViewSet):
        protocol = "other"

    view = OtherEdge.as_view({"get": "list"})
    request = api.get(LIST_URL).wsgi_request  # a real, authenticated request to replay
    handled.calls.clear()
    assert view(request).status_code == 200
    call = handled.only()
    assert (call["sender"], call["protocol"]) == (OtherEdge, "other")


def _file(data: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("whole.bin", data)


def test_an_edge_may_name_the_error_code(api: APIClient, handled: Handled) -> None:
    """An edge whose error bodies have no ``code`` key (tus) names the code itself."""

    class BareEdge(ChunkedUploadViewSet):
        protocol = "bare"

        def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            with telemetry.observe(self) as observation:
                response = super(ChunkedUploadViewSet, self).dispatch(request, *args, **kwargs)
                response.data = None  # a bare status, as tus answers
                observation.response, observation.code = response, "upload_missing"
            return response

    upload_id = put_chunk(api, LIST_URL, b"abc", 0, 6).json()["id"]
    view = BareEdge.as_view({"get": "retrieve"})
    request = api.get(f"{LIST_URL}{upload_id}/").wsgi_request
    handled.calls.clear()
    response = view(request, pk="00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    call = handled.only()
    assert (call["protocol"], call["status"], call["code"]) == ("bare", 404, "upload_missing")
