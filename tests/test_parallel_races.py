"""Parallel mode against a real multi-worker server: racing chunks, and a worker SIGKILLed mid-chunk.

Each range of a parallel upload is sent by two racers at the same moment (different bytes), all
ranges at once, to gunicorn with several sync workers (separate processes sharing the database and
the media folder). The reservation of ``parts.py`` must let at most one racer per range through (no
double acceptance), every ``200`` must show in the upload's ``ranges`` (no lost range), and the
stored file must hold exactly the accepted racers' bytes. Runs on the suite's database
(``DATABASE_URL``: SQLite, PostgreSQL or MariaDB).
"""

from __future__ import annotations

import hashlib
import os
import random
import socket
from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
import pytest

from .helpers import content_range
from .servers import LiveServer, live_server
from .test_crash import LEASE_SECONDS, RawChunk, retry_while_busy, wait_for
from .test_races import race

ROUNDS = int(os.environ.get("CHUNKED_UPLOADS_RACE_ROUNDS", "30")) // 5 or 1
CHUNK = 128 * 1024
CHUNKS = 8
TOTAL = CHUNK * CHUNKS
LIST_PATH = "/api/uploads/"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    settings = {"DRF_CHUNKED_UPLOAD_LEASE_SECONDS": LEASE_SECONDS}
    with live_server(workers=3, settings=settings) as running:
        yield running


def put(
    server: LiveServer,
    url: str,
    data: bytes,
    start: int,
    *,
    create: bool = False,
    total: int = TOTAL,
) -> Any:
    headers = {
        **server.headers,
        "Content-Range": content_range(data, start, total),
        "Content-Type": "application/octet-stream",
    }
    if create:
        headers["Upload-Mode"] = "parallel"
    return httpx.put(url, content=data, headers=headers, timeout=60)


def start_parallel(server: LiveServer, first: bytes, total: int = TOTAL) -> str:
    response = put(server, server.url + LIST_PATH, first, 0, create=True, total=total)
    assert response.status_code == 200, response.text
    assert response.json()["parallel"] is True
    url: str = response.json()["url"]
    return url


@pytest.fixture(scope="module")
def storage_server() -> Iterator[LiveServer]:
    """The same, with one object per chunk (``StorageStore``) on the media folder."""
    settings = {
        "DRF_CHUNKED_UPLOAD_LEASE_SECONDS": LEASE_SECONDS,
        "DRF_CHUNKED_UPLOAD_STORE": "chunked_uploads.stores.storage.StorageStore",
    }
    with live_server(workers=3, settings=settings) as running:
        yield running


def test_racing_chunks_are_accepted_once_and_never_lost(server: LiveServer) -> None:
    for _ in range(ROUNDS):
        run_round(server)


def test_racing_chunks_on_the_storage_store(storage_server: LiveServer) -> None:
    for _ in range(ROUNDS):
        run_round(storage_server)


def run_round(server: LiveServer) -> None:
    accepted = {0: os.urandom(CHUNK)}
    url = start_parallel(server, accepted[0])
    offsets = [index * CHUNK for index in range(1, CHUNKS)]
    random.shuffle(offsets)
    candidates = {(start, n): os.urandom(CHUNK) for start in offsets for n in range(2)}
    calls = [partial(put, server, url, data, start) for (start, _), data in candidates.items()]
    responses = dict(zip(candidates, race(calls), strict=True))
    for start in offsets:
        codes = [responses[start, n].status_code for n in range(2)]
        assert codes.count(200) <= 1, (start, codes)  # never both
        for n in range(2):
            response = responses[start, n]
            assert response.status_code in (200, 409, 400), response.text
            if response.status_code == 400:
                assert response.json()["code"] == "range_overlap", response.text
            if response.status_code == 200:
                accepted[start] = candidates[start, n]
    stored = httpx.get(url, headers=server.headers).json()["ranges"]
    for start in accepted:  # every acknowledged range is recorded
        assert any(s <= start and start + CHUNK - 1 <= e for s, e in stored), (start, stored)
    for start in offsets:  # refused on both sides (a busy database): send it again
        if start not in accepted:
            accepted[start] = os.urandom(CHUNK)
            response = retry_while_busy(partial(put, server, url, accepted[start], start))
            assert response.status_code == 200, response.text
    source = b"".join(accepted[start] for start in sorted(accepted))
    md5 = hashlib.md5(source).hexdigest()
    response = httpx.post(url, headers=server.headers, json={"md5": md5}, timeout=60)
    assert response.status_code == 200, response.text
    # (The storage store leaves its emptied ``.chunks`` folder on a FileSystemStorage.)
    (path,) = [p for p in server.stored_files(response.json()["id"]) if p.is_file()]
    assert path.read_bytes() == source


def test_sigkill_mid_chunk_never_counts_its_bytes(server: LiveServer) -> None:
    """A worker SIGKILLed while writing a chunk ahead of the prefix, after its bytes reached the
    store: the range is not reported, its retry is refused as busy only until the dead
    reservation expires, and the completed file is the source."""
    big = 3 * MB  # three of the body readers' 1 MB blocks: bytes reach the store before the end
    total = 3 * big
    source = os.urandom(total)
    url = start_parallel(server, source[:big], total)
    upload_id = url.rstrip("/").rsplit("/", 1)[1]
    victim = 2 * big
    raw = RawChunk.build(server, url[len(server.url) :], source[victim:], victim, total)
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as client:
        client.sendall(raw.head)
        worker = server.worker_for(client)
        client.sendall(raw.body[: len(raw.body) - MB // 2])
        wait_for(lambda: len(server.stored_bytes(upload_id)) > victim + MB)
        server.kill_worker(worker)
    assert httpx.get(url, headers=server.headers).json()["ranges"] == [[0, big - 1]]
    for start in (victim, big):
        chunk = source[start : start + big]
        response = retry_while_busy(partial(put, server, url, chunk, start, total=total))
        assert response.status_code == 200, response.text
    md5 = hashlib.md5(source).hexdigest()
    response = httpx.post(url, headers=server.headers, json={"md5": md5}, timeout=60)
    assert response.status_code == 200, response.text
    assert server.stored_bytes(upload_id) == source
