"""Parallel mode (``parts.py``) through the native protocol: any order, overlaps, gaps, stores."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest
import time_machine
from django.test import override_settings
from rest_framework.test import APIClient

from chunked_uploads import parts, uploads
from chunked_uploads.models import ChunkedUpload
from chunked_uploads.part_sessions import PartSession
from chunked_uploads.ranges import ContentRange

from .helpers import LIST_URL, md5, put_chunk, stored_bytes

CHUNK = 1000
PARALLEL = {"HTTP_UPLOAD_MODE": "parallel"}
STORES = [
    pytest.param(None, id="local"),
    pytest.param("chunked_uploads.stores.storage.StorageStore", id="storage"),
]


def start(api: APIClient, data: bytes, chunk: int = CHUNK) -> str:
    response = put_chunk(api, LIST_URL, data[:chunk], 0, len(data), **PARALLEL)
    assert response.status_code == 200, response.content
    assert response.json()["parallel"] is True
    url: str = response.json()["url"]
    return url


def send(api: APIClient, url: str, data: bytes, start: int, length: int = CHUNK) -> Any:
    return put_chunk(api, url, data[start : start + length], start, len(data))


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chunks_in_random_order_complete(api: APIClient, payload: bytes, store: Any, seed: int):
    data = payload[: CHUNK * 9 + 123]
    with override_settings(DRF_CHUNKED_UPLOAD_STORE=store):
        url = start(api, data)
        offsets = list(range(CHUNK, len(data), CHUNK))
        random.Random(seed).shuffle(offsets)
        for offset in offsets:
            response = send(api, url, data, offset)
            assert response.status_code == 200, response.content
        assert api.get(url).json()["ranges"] == [[0, len(data) - 1]]
        response = api.post(url, {"md5": md5(data)}, format="json")
        assert response.status_code == 200, response.content
        upload = ChunkedUpload.objects.get(pk=response.json()["id"])
        assert stored_bytes(upload) == data


@pytest.mark.parametrize("store", STORES)
def test_ranges_report_the_stored_bytes(api: APIClient, payload: bytes, store: Any):
    data = payload[: CHUNK * 6]
    with override_settings(DRF_CHUNKED_UPLOAD_STORE=store):
        url = start(api, data)
        for offset in (3 * CHUNK, 4 * CHUNK, CHUNK):
            assert send(api, url, data, offset).status_code == 200
        body = api.get(url).json()
        assert body["ranges"] == [[0, 2 * CHUNK - 1], [3 * CHUNK, 5 * CHUNK - 1]]
        assert body["offset"] == 2 * CHUNK  # the contiguous prefix


def test_overlap_with_stored_bytes_is_refused(api: APIClient, payload: bytes):
    data = payload[: CHUNK * 4]
    url = start(api, data)
    assert send(api, url, data, 2 * CHUNK).status_code == 200
    for offset, length in ((2 * CHUNK, CHUNK), (2 * CHUNK + 10, 100), (CHUNK + 500, CHUNK)):
        response = send(api, url, data[:1] + b"x" * (len(data) - 1), offset, length)
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "range_overlap"
        assert response.json()["ranges"] == [[0, CHUNK - 1], [2 * CHUNK, 3 * CHUNK - 1]]
    assert send(api, url, data, CHUNK).status_code == 200
    assert send(api, url, data, 3 * CHUNK).status_code == 200
    upload = ChunkedUpload.objects.get()
    assert stored_bytes(upload) == data


def test_gaps_refuse_completion(api: APIClient, payload: bytes):
    data = payload[: CHUNK * 5]
    url = start(api, data)
    assert send(api, url, data, 2 * CHUNK).status_code == 200
    response = api.post(url, {"md5": md5(data)}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "ranges_missing"
    assert body["missing"] == [[CHUNK, 2 * CHUNK - 1], [3 * CHUNK, 5 * CHUNK - 1]]
    for offset in (4 * CHUNK, CHUNK, 3 * CHUNK):
        assert send(api, url, data, offset).status_code == 200
    assert api.post(url, {"md5": md5(data)}, format="json").status_code == 200


def test_wrong_checksum_keeps_the_upload(api: APIClient, payload: bytes):
    data = payload[: CHUNK * 3]
    url = start(api, data)
    assert send(api, url, data, 2 * CHUNK).status_code == 200
    assert send(api, url, data, CHUNK).status_code == 200
    response = api.post(url, {"md5": md5(b"other")}, format="json")
    assert response.json()["code"] == "checksum_mismatch"
    assert api.post(url, {"md5": md5(data)}, format="json").status_code == 200


def test_sequential_uploads_refuse_other_offsets(api: APIClient, payload: bytes):
    data = payload[: CHUNK * 3]
    response = put_chunk(api, LIST_URL, data[:CHUNK], 0, len(data))
    body = response.json()
    assert body["parallel"] is False
    assert body["ranges"] == [[0, CHUNK - 1]]
    response = send(api, body["url"], data, 2 * CHUNK)
    assert response.json()["code"] == "offset_mismatch"


def test_first_chunk_starts_at_zero(api: APIClient, payload: bytes):
    data = payload[: CHUNK * 3]
    response = put_chunk(api, LIST_URL, data[CHUNK : 2 * CHUNK], CHUNK, len(data), **PARALLEL)
    assert response.json()["code"] == "offset_mismatch"


def test_a_range_being_written_is_busy(api: APIClient, payload: bytes):
    data = payload[: CHUNK * 3]
    url = start(api, data)
    upload = ChunkedUpload.objects.get()
    token = parts.reserve(upload, parts_range(CHUNK, 2 * CHUNK, len(data)))
    response = send(api, url, data, CHUNK + 10, 10)
    assert response.status_code == 409
    assert response.json()["code"] == "upload_busy"
    parts.release(upload, token)
    assert send(api, url, data, CHUNK).status_code == 200


def test_a_reservation_left_behind_is_busy_not_stored(api: APIClient, payload: bytes):
    """A request that died after reserving its range (its release never ran): the retry of the
    same range is ``409 upload_busy`` (retry), never ``range_overlap`` (which a client takes as
    stored), until the reservation expires; then it is stored."""
    data = payload[: CHUNK * 3]
    url = start(api, data)
    upload = ChunkedUpload.objects.get()
    parts.reserve(upload, parts_range(CHUNK, 2 * CHUNK, len(data)))
    retry = send(api, url, data, CHUNK)
    assert (retry.status_code, retry.json()["code"]) == (409, "upload_busy")
    assert api.get(url).json()["ranges"] == [[0, CHUNK - 1]]
    with time_machine.travel(time.time() + 3600, tick=False):
        assert send(api, url, data, CHUNK).status_code == 200
        assert api.get(url).json()["ranges"] == [[0, 2 * CHUNK - 1]]


def test_an_expired_reservation_is_never_counted(api: APIClient, payload: bytes):
    """A worker killed mid-chunk leaves a reservation that expires; its range is free again and
    the dead request's bytes were never acknowledged."""
    data = payload[: CHUNK * 3]
    url = start(api, data)
    upload = ChunkedUpload.objects.get()
    parts.reserve(upload, parts_range(CHUNK, 2 * CHUNK, len(data)))
    with time_machine.travel(time.time() + 3600, tick=False):
        assert api.get(url).json()["ranges"] == [[0, CHUNK - 1]]
        assert send(api, url, data, CHUNK).status_code == 200
        assert send(api, url, data, 2 * CHUNK).status_code == 200
        assert api.post(url, {"md5": md5(data)}, format="json").status_code == 200


def test_a_lost_reservation_cannot_acknowledge(api: APIClient, payload: bytes):
    data = payload[: CHUNK * 3]
    start(api, data)
    upload = ChunkedUpload.objects.get()
    byte_range = parts_range(CHUNK, 2 * CHUNK, len(data))
    token = parts.reserve(upload, byte_range)
    parts.release(upload, token)
    with pytest.raises(parts.exceptions.UploadBusy):
        parts.acknowledge(upload, token, byte_range, None)


def test_a_store_without_parts_refuses_parallel_mode_clearly(api: APIClient, payload: bytes):
    with override_settings(DRF_CHUNKED_UPLOAD_STORE="tests.test_parts.NoPartsStore"):
        response = put_chunk(api, LIST_URL, payload[:CHUNK], 0, len(payload), **PARALLEL)
    assert response.status_code == 400
    assert response.json()["code"] == "part_layout_refused"
    assert not ChunkedUpload.objects.exists()


def parts_range(start: int, end: int, total: int) -> Any:
    from chunked_uploads.ranges import ContentRange

    return ContentRange(start, end - 1, total)


class NoPartsStore(parts.ChunkStore):
    """A store without parallel support (a third-party store written before it existed)."""

    def create(self, name: str) -> str:
        return name

    def open_writer(self, name: str, offset: int, state: Any = None) -> Any:
        raise AssertionError

    def open_reader(self, name: str, state: Any = None) -> Any:
        raise AssertionError

    def finalize(self, name: str, final_name: str, state: Any = None) -> str:
        raise AssertionError


@pytest.mark.parametrize("store", STORES)
def test_a_writer_that_stalled_past_its_reservation_stops(
    api: APIClient, payload: bytes, store: Any
) -> None:
    """A chunk whose writer stalled until its reservation expired and another request stored the
    range: its next write renews first, finds the range taken and stops; nothing of it is kept."""
    from chunked_uploads import uploads

    data = payload[: CHUNK * 3]
    with override_settings(DRF_CHUNKED_UPLOAD_STORE=store):
        url = start(api, data)
        upload = ChunkedUpload.objects.get()
        stalled = uploads.resume(upload, parts_range(CHUNK, 2 * CHUNK, len(data)))
        stalled.write(b"x" * 100)
        with time_machine.travel(time.time() + 3600, tick=False):
            assert send(api, url, data, CHUNK).status_code == 200
            with pytest.raises(parts.exceptions.UploadBusy):
                stalled.write(b"x" * 100)
            stalled.abort()
            assert send(api, url, data, 2 * CHUNK).status_code == 200
            assert api.post(url, {"md5": md5(data)}, format="json").status_code == 200
        assert stored_bytes(ChunkedUpload.objects.get()) == data


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("store", STORES)
def test_a_writer_paused_after_its_fence_cannot_overwrite_acknowledged_bytes(
    api: APIClient, payload: bytes, store: Any, monkeypatch: Any
) -> None:
    """The window the fence alone leaves: a writer passes its fence (its reservation still its
    own), then is paused before it writes, while its reservation runs out and another request
    stores the range. The paused write must land before the other's bytes, never over them once
    acknowledged: the local store holds the range's lock from the fence to the write, so the
    other request writes after it; the storage store writes each chunk to an object of its own."""
    data = payload[: CHUNK * 3]
    inside, go_on = threading.Event(), threading.Event()
    fence = PartSession._renew_if_due

    def paused_fence(session: PartSession) -> None:
        fence(session)
        if session.byte_range is not None and session is stalled_session[0]:
            inside.set()
            assert go_on.wait(10)

    stalled_session: list[Any] = [None]
    monkeypatch.setattr(PartSession, "_renew_if_due", paused_fence)
    with override_settings(DRF_CHUNKED_UPLOAD_STORE=store):
        url = start(api, data)
        upload = ChunkedUpload.objects.get()
        stalled = uploads.resume(upload, parts_range(CHUNK, 2 * CHUNK, len(data)))
        assert isinstance(stalled, PartSession)
        stalled_session[0] = stalled
        outcome: dict[str, Any] = {}

        def stalled_write() -> None:
            try:
                stalled.write(b"x" * CHUNK)
                stalled.commit()
                outcome["stalled"] = "committed"
            except parts.exceptions.UploadBusy:
                outcome["stalled"] = "busy"
                stalled.abort()

        def other_request() -> None:
            outcome["other"] = send(api, url, data, CHUNK).status_code

        writer = threading.Thread(target=stalled_write)
        writer.start()
        assert inside.wait(10)
        with time_machine.travel(time.time() + 3600, tick=False):
            other = threading.Thread(target=other_request)
            other.start()
            time.sleep(0.3)  # the other request reserved the range and waits to write in it
            go_on.set()
            other.join(10)
            writer.join(10)
            assert outcome == {"stalled": "busy", "other": 200}
            assert send(api, url, data, 2 * CHUNK).status_code == 200
            assert api.post(url, {"md5": md5(data)}, format="json").status_code == 200
        assert stored_bytes(ChunkedUpload.objects.get()) == data


def test_the_number_of_chunks_is_bounded(api: APIClient, payload: bytes, monkeypatch: Any) -> None:
    monkeypatch.setattr(parts, "MAX_PARTS", 3)
    data = payload[: CHUNK * 5]
    url = start(api, data)
    assert send(api, url, data, CHUNK).status_code == 200
    assert send(api, url, data, 2 * CHUNK).status_code == 200
    response = send(api, url, data, 3 * CHUNK)
    assert response.status_code == 400
    assert response.json()["code"] == "part_layout_refused"
    assert "at most 3 chunks" in response.json()["detail"]


def test_parallel_mode_needs_the_total_up_front(api: APIClient, payload: bytes):
    """Parallel mode cannot know where a file of unknown size ends: the native protocol's
    ``Content-Range`` always names the total (``*`` is a 400), and the core refuses a parallel
    upload without one clearly (``part_layout_refused``), for any edge; a 4xx, never a 500."""
    unknown = {"HTTP_CONTENT_RANGE": f"bytes 0-{CHUNK - 1}/*", **PARALLEL}
    response = api.put(
        LIST_URL, payload[:CHUNK], content_type="application/octet-stream", **unknown
    )
    assert response.status_code == 400, response.content
    with pytest.raises(parts.exceptions.PartLayoutRefused, match="total size"):
        uploads.start(ChunkedUpload, ContentRange(0, CHUNK - 1, None), "a.bin", {}, parallel=True)
    assert not ChunkedUpload.objects.exists()
