"""tus concatenation against a real multi-worker server: final uploads racing for the same partials.

Partial uploads are single-use (``concatenation.py``): two final uploads sent at the same moment
(to separate gunicorn worker processes) that name a shared partial must not both take it. Exactly
one is created, with exactly its partials' bytes; the other is refused (``400
concatenation_refused``, the winner holding the partial) and leaves its other partials free for
another final upload. The same final upload
sent again (its first answer lost) gets the upload the first request made. Runs on the suite's
database (``DATABASE_URL``: SQLite, PostgreSQL or MariaDB).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from functools import partial
from urllib.parse import urlsplit

import httpx
import pytest

from .servers import LiveServer, live_server
from .test_races import race

ROUNDS = int(os.environ.get("CHUNKED_UPLOADS_RACE_ROUNDS", "30")) // 3 or 1
TUS_PATH = "/api/tus/"
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/offset+octet-stream"


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(workers=3) as running:
        yield running


def new_partial(server: LiveServer, data: bytes) -> str:
    headers = {
        **server.headers,
        **TUS,
        "Upload-Length": str(len(data)),
        "Upload-Concat": "partial",
        "Content-Type": OCTETS,
    }
    response = httpx.post(server.url + TUS_PATH, content=data, headers=headers, timeout=30)
    assert response.status_code == 201, response.text
    assert response.headers["upload-offset"] == str(len(data))
    return response.headers["location"]


def final(server: LiveServer, urls: list[str]) -> httpx.Response:
    headers = {**server.headers, **TUS, "Upload-Concat": "final;" + " ".join(urls)}
    return httpx.post(server.url + TUS_PATH, headers=headers, timeout=60)


def upload_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def assert_refused(response: httpx.Response) -> None:
    assert (response.status_code, response.json()["code"]) == (400, "concatenation_refused"), (
        response.text
    )


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_final_uploads_never_share_a_partial(server: LiveServer, round_: int) -> None:
    pieces = [os.urandom(64 * 1024 + n) for n in range(3)]
    a, shared, c = (new_partial(server, piece) for piece in pieces)
    first, second = race([partial(final, server, [a, shared]), partial(final, server, [shared, c])])
    assert sorted([first.status_code, second.status_code])[0] == 201, (first.text, second.text)
    winner, loser = (first, second) if first.status_code == 201 else (second, first)
    assert_refused(loser)
    expected = pieces[0] + pieces[1] if winner is first else pieces[1] + pieces[2]
    assert server.stored_bytes(upload_id(winner.headers["location"])) == expected
    # The loser's own partial was not left claimed: another final upload takes it.
    free, piece = (c, pieces[2]) if winner is first else (a, pieces[0])
    again = final(server, [free])
    assert again.status_code == 201, again.text
    assert server.stored_bytes(upload_id(again.headers["location"])) == piece


def test_a_final_upload_whose_answer_was_lost_is_given_again(server: LiveServer) -> None:
    """The client sends the final upload and hangs up before the answer: the server makes it all
    the same, and the client's retry gets that upload instead of a refusal for used-up partials."""
    pieces = [os.urandom(256 * 1024 + n) for n in range(4)]
    urls = [new_partial(server, piece) for piece in pieces]
    host, port = urlsplit(server.url).hostname or "", urlsplit(server.url).port or 80
    headers = {**server.headers, **TUS, "Upload-Concat": "final;" + " ".join(urls)}
    lines = [f"POST {TUS_PATH} HTTP/1.1", f"Host: {host}:{port}", "Content-Length: 0"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    deadline = time.monotonic() + 30
    while (retry := final(server, urls)).status_code != 201 and time.monotonic() < deadline:
        assert_refused(retry)  # 400 while the first request still holds the partials
        time.sleep(0.1)
    assert retry.status_code == 201, retry.text
    made = upload_id(retry.headers["location"])
    assert server.stored_bytes(made) == b"".join(pieces)
    again = final(server, urls)
    assert again.status_code == 201, again.text
    assert again.headers["location"] == retry.headers["location"]
    for url in urls:  # used up: complete records without bytes, for a client that retries
        head = httpx.head(url, headers={**server.headers, **TUS}, timeout=30)
        assert head.status_code == 200
        assert head.headers["upload-offset"] == head.headers["upload-length"]
