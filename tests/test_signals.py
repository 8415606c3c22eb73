"""The upload signals: each sent exactly once when its event happens, and never for a refused request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.dispatch import Signal
from rest_framework.test import APIClient

from chunked_uploads import signals
from chunked_uploads.models import ChunkedUpload

from .helpers import LIST_URL, md5, put_chunk, upload_in_chunks

SIGNALS = ("upload_started", "chunk_received", "upload_completed", "upload_aborted")
Event = tuple[str, str, dict[str, Any]]


class Recorder:
    """Connects to every signal and records ``(signal, upload id, details)`` in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.receivers = {name: self._receiver(name) for name in SIGNALS}

    def _receiver(self, name: str) -> Any:
        def receive(sender: Any, upload: ChunkedUpload, **kwargs: Any) -> None:
            assert sender is ChunkedUpload
            extra = {key: value for key, value in kwargs.items() if key != "signal"}
            extra["status"] = upload.status
            extra["offset"] = upload.offset
            extra["in_db"] = ChunkedUpload.objects.filter(pk=upload.pk).exists()
            self.events.append((name, str(upload.pk), extra))

        return receive

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder()
    for name, receiver in recorder.receivers.items():
        signal: Signal = getattr(signals, name)
        signal.connect(receiver)
    yield recorder
    for name, receiver in recorder.receivers.items():
        getattr(signals, name).disconnect(receiver)


def _first_chunk(api: APIClient, payload: bytes) -> str:
    response = put_chunk(api, LIST_URL, payload[:100_000], 0, len(payload))
    assert response.status_code == 200, response.content
    upload_id: str = response.json()["id"]
    return upload_id


def test_first_chunk_sends_started_then_chunk_received(
    api: APIClient, payload: bytes, recorder: Recorder
) -> None:
    upload_id = _first_chunk(api, payload)
    assert recorder.take() == [
        ("upload_started", upload_id, {"status": "uploading", "offset": 100_000, "in_db": True}),
        (
            "chunk_received",
            upload_id,
            {"start": 0, "end": 99_999, "status": "uploading", "offset": 100_000, "in_db": True},
        ),
    ]


def test_each_appended_chunk_sends_chunk_received_only(
    api: APIClient, payload: bytes, recorder: Recorder
) -> None:
    upload_id = _first_chunk(api, payload)
    recorder.take()
    url = f"{LIST_URL}{upload_id}/"
    put_chunk(api, url, payload[100_000:200_000], 100_000, len(payload))
    put_chunk(api, url, payload[200_000:], 200_000, len(payload), raw=True)
    assert [(name, extra["start"], extra["end"]) for name, _, extra in recorder.take()] == [
        ("chunk_received", 100_000, 199_999),
        ("chunk_received", 200_000, 299_999),
    ]


def test_completion_sends_upload_completed_once(
    api: APIClient, payload: bytes, recorder: Recorder
) -> None:
    url = upload_in_chunks(api, payload).json()["url"]
    upload_id = str(ChunkedUpload.objects.get().pk)
    recorder.take()
    assert api.post(url, {"md5": md5(payload)}).status_code == 200
    assert recorder.take() == [
        ("upload_completed", upload_id, {"status": "complete", "offset": 300_000, "in_db": True})
    ]
    assert api.post(url, {"md5": md5(payload)}).status_code == 400
    assert recorder.take() == []


def test_single_shot_sends_started_chunk_received_and_completed(
    api: APIClient, payload: bytes, recorder: Recorder
) -> None:
    body = {"file": SimpleUploadedFile("whole.bin", payload), "md5": md5(payload)}
    response = api.post(LIST_URL, body, format="multipart")
    assert response.status_code == 200, response.content
    upload_id = response.json()["id"]
    events = recorder.take()
    assert [(name, pk) for name, pk, _ in events] == [
        ("upload_started", upload_id),
        ("chunk_received", upload_id),
        ("upload_completed", upload_id),
    ]
    assert (events[1][2]["start"], events[1][2]["end"]) == (0, len(payload) - 1)


@pytest.mark.django_db(transaction=True)
def test_abort_sends_upload_aborted_before_the_record_goes(
    api: APIClient, payload: bytes, recorder: Recorder
) -> None:
    upload_id = _first_chunk(api, payload)
    recorder.take()
    assert api.delete(f"{LIST_URL}{upload_id}/").status_code == 204
    assert recorder.take() == [
        ("upload_aborted", upload_id, {"status": "uploading", "offset": 100_000, "in_db": True})
    ]
    assert api.delete(f"{LIST_URL}{upload_id}/").status_code == 404
    assert recorder.take() == []


def test_refused_chunks_send_nothing(api: APIClient, payload: bytes, recorder: Recorder) -> None:
    assert put_chunk(api, LIST_URL, payload[:10], 5, 100).status_code == 400  # not at 0
    assert put_chunk(api, LIST_URL, payload[:10], 0, 5).status_code == 400  # end past total
    body = {"file": SimpleUploadedFile("x.bin", payload[:150])}
    headers = {"HTTP_CONTENT_RANGE": "bytes 0-99/1000"}
    assert api.put(LIST_URL, body, format="multipart", **headers).status_code == 400  # too long
    upload_id = _first_chunk(api, payload)
    recorder.take()
    url = f"{LIST_URL}{upload_id}/"
    assert put_chunk(api, url, payload[:10], 0, len(payload)).status_code == 400  # offset
    assert put_chunk(api, url, payload[:10], 100_000, 200_000).status_code == 400  # total
    body = {"file": SimpleUploadedFile("x.bin", payload[:50])}
    headers = {"HTTP_CONTENT_RANGE": f"bytes 100000-100099/{len(payload)}"}
    assert api.put(url, body, format="multipart", **headers).status_code == 400  # too short
    assert recorder.take() == []


def test_failed_completions_send_nothing(
    api: APIClient, payload: bytes, recorder: Recorder
) -> None:
    upload_id = _first_chunk(api, payload)
    url = f"{LIST_URL}{upload_id}/"
    recorder.take()
    assert api.post(url, {"md5": md5(payload)}).status_code == 400  # incomplete
    for start in (100_000, 200_000):
        put_chunk(api, url, payload[start : start + 100_000], start, len(payload))
    recorder.take()
    assert api.post(url, {}).status_code == 400  # no checksum
    assert api.post(url, {"md5": md5(b"other")}).status_code == 400  # wrong checksum
    assert recorder.take() == []


@pytest.mark.django_db(transaction=True)
def test_failed_single_shot_sends_nothing(
    api: APIClient, payload: bytes, recorder: Recorder
) -> None:
    # The upload never exists for the client (nothing is left behind), so no receiver may see
    # it start without also seeing it end.
    body = {"file": SimpleUploadedFile("whole.bin", payload), "md5": md5(b"other")}
    assert api.post(LIST_URL, body, format="multipart").status_code == 400
    body = {"file": SimpleUploadedFile("whole.bin", payload)}
    assert api.post(LIST_URL, body, format="multipart").status_code == 400
    assert ChunkedUpload.objects.count() == 0
    assert recorder.take() == []


def test_a_raising_receiver_does_not_take_back_an_acknowledged_chunk(
    api: APIClient, payload: bytes
) -> None:
    """A receiver's exception surfaces, but the first chunk it was told about stays recorded."""

    def explode(**kwargs: Any) -> None:
        raise RuntimeError("receiver failed")

    signals.chunk_received.connect(explode, dispatch_uid="explode")
    api.raise_request_exception = False
    try:
        response = put_chunk(api, LIST_URL, payload[:100_000], 0, len(payload))
    finally:
        signals.chunk_received.disconnect(dispatch_uid="explode")
    assert response.status_code == 500
    upload = ChunkedUpload.objects.get()
    assert upload.offset == 100_000
    assert upload.lease_token is None
