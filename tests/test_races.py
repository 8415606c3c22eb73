"""Races against a real multi-worker server: concurrent chunks, completion against append, two completions.

drf-chunked-upload let two requests for the same offset both append (a client retrying a slow
chunk corrupted its upload). These tests send such requests at the same moment to gunicorn with two
sync workers (separate processes sharing the database and the media folder) and check that the
upload's lease and conditional offset update let exactly one through. Each racer sends different
bytes for the same range, so an interleaved or doubled write would show in the stored file.

``CHUNKED_UPLOADS_RACE_ROUNDS`` (default 30) sets how many rounds run; CI's matrix runs the default
on each database, the numbers in docs/guarantees.md come from a run with hundreds.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import httpx
import pytest

from .helpers import complete_live, put_chunk_live
from .servers import LiveServer, live_server

ROUNDS = int(os.environ.get("CHUNKED_UPLOADS_RACE_ROUNDS", "30"))
RACERS = 4
CHUNK = 256 * 1024
LIST_PATH = "/api/uploads/"


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(workers=2) as running:
        yield running


def race(calls: Sequence[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run the calls in threads released together by a barrier; return their responses in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], httpx.Response]) -> httpx.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def start_upload(server: LiveServer, first: bytes, total: int) -> str:
    response = put_chunk_live(server, server.url + LIST_PATH, first, 0, total)
    assert response.status_code == 200, response.text
    url: str = response.json()["url"]
    return url


def assert_refused_racer(response: httpx.Response, start: int, length: int) -> None:
    """A losing racer: busy while the winner writes, or an offset mismatch once it has committed."""
    body: dict[str, Any] = response.json()
    assert response.status_code in (400, 409), (response.status_code, body)
    if response.status_code == 409:
        assert body["code"] == "upload_busy"
    else:
        assert body["code"] == "offset_mismatch", body
        assert body["expected_offset"] == start + length
        assert body["provided_offset"] == start


def test_same_chunk_raced_by_many_clients(server: LiveServer) -> None:
    """Tries: RACERS clients PUT different bytes for the same range at once, ROUNDS times in a row.

    Fails if two are accepted for one offset, if any gets a 5xx, or if the stored file (and its
    checksum at completion) is not exactly the winners' chunks in order."""
    total = CHUNK * (ROUNDS + 1)
    accepted = [os.urandom(CHUNK)]
    outcomes: Counter[str] = Counter()
    url = start_upload(server, accepted[0], total)
    for round_ in range(1, ROUNDS + 1):
        start = round_ * CHUNK
        chunks = [os.urandom(CHUNK) for _ in range(RACERS)]
        calls = [partial(put_chunk_live, server, url, c, start, total) for c in chunks]
        responses = race(calls)
        winners = [i for i, r in enumerate(responses) if r.status_code == 200]
        assert len(winners) == 1, [(r.status_code, r.text) for r in responses]
        assert responses[winners[0]].json()["offset"] == start + CHUNK
        for i, response in enumerate(responses):
            if i != winners[0]:
                assert_refused_racer(response, start, CHUNK)
        accepted.append(chunks[winners[0]])
        outcomes.update(f"{r.status_code} {r.json().get('code', '')}".strip() for r in responses)
    expected = b"".join(accepted)
    response = complete_live(server, url, expected)
    assert response.status_code == 200, response.text
    assert server.stored_bytes(response.json()["id"]) == expected
    print(f"{ROUNDS} rounds x {RACERS} racers: {dict(outcomes)}")  # shown with -rP


def test_completion_racing_the_last_chunk(server: LiveServer) -> None:
    """Tries: the last chunk and the completion request at once, many times.

    Fails if completion succeeds before the last chunk was acknowledged, on any 5xx, or if the
    completed file differs from the source."""
    for _ in range(max(ROUNDS // 3, 5)):
        source = os.urandom(3 * CHUNK)
        url = start_upload(server, source[: 2 * CHUNK], len(source))
        last = source[2 * CHUNK :]
        appended, completed = race(
            [
                partial(put_chunk_live, server, url, last, 2 * CHUNK, len(source)),
                partial(complete_live, server, url, source),
            ]
        )
        assert appended.status_code in (200, 409), appended.text
        assert completed.status_code in (200, 400, 409), completed.text
        if completed.status_code == 200:
            assert appended.status_code == 200  # never complete with the last chunk missing
        elif completed.status_code == 400:
            assert completed.json()["code"] == "upload_incomplete", completed.text
        finish(server, url, source, appended, completed)


def finish(
    server: LiveServer, url: str, source: bytes, appended: httpx.Response, completed: httpx.Response
) -> None:
    """Retry whatever lost the race, then check the completed file."""
    start = 2 * CHUNK
    if appended.status_code != 200:
        appended = put_chunk_live(server, url, source[start:], start, len(source))
        assert appended.status_code == 200, appended.text
    if completed.status_code != 200:
        completed = complete_live(server, url, source)
        assert completed.status_code == 200, completed.text
    assert server.stored_bytes(completed.json()["id"]) == source


def test_completion_racing_a_retried_chunk(server: LiveServer) -> None:
    """Tries: a client retries its last chunk while it also completes the upload.

    Fails if the retried chunk is accepted a second time, on any 5xx, or if the file changes."""
    for _ in range(max(ROUNDS // 3, 5)):
        source = os.urandom(2 * CHUNK)
        url = start_upload(server, source[:CHUNK], len(source))
        response = put_chunk_live(server, url, source[CHUNK:], CHUNK, len(source))
        assert response.status_code == 200, response.text
        retried, completed = race(
            [
                partial(put_chunk_live, server, url, os.urandom(CHUNK), CHUNK, len(source)),
                partial(complete_live, server, url, source),
            ]
        )
        assert retried.status_code in (400, 409), retried.text
        assert retried.json()["code"] in ("offset_mismatch", "upload_busy", "upload_complete")
        assert completed.status_code in (200, 409), completed.text
        if completed.status_code == 409:
            completed = complete_live(server, url, source)
        assert completed.status_code == 200, completed.text
        assert server.stored_bytes(completed.json()["id"]) == source


def test_two_completions_at_once(server: LiveServer) -> None:
    """Tries: RACERS completion requests for one upload at the same moment, many times.

    Fails unless exactly one succeeds (the others busy or already complete), or if the completed
    file is missing, duplicated or different."""
    for _ in range(max(ROUNDS // 3, 5)):
        source = os.urandom(CHUNK)
        url = start_upload(server, source, len(source))
        responses = race([partial(complete_live, server, url, source)] * RACERS)
        codes = sorted(r.status_code for r in responses)
        assert codes.count(200) == 1, [(r.status_code, r.text) for r in responses]
        for response in responses:
            if response.status_code != 200:
                assert response.status_code in (400, 409), response.text
                assert response.json()["code"] in ("upload_busy", "upload_complete")
        upload_id = url.rstrip("/").rsplit("/", 1)[-1]
        (path,) = server.stored_files(upload_id)
        assert path.suffix == ".done"
        assert path.read_bytes() == source
