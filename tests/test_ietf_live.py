"""The IETF draft against a real gunicorn, beyond the per-version requirements (those are
``tests/test_ietf_versions_live.py``): the draft's own recovery by an interop-8 client written from
the draft (``tests/clients/ietf_client.py``): a whole file in one creation request, the connection
cut after N bytes, resumed from the offset the server reports at ``HEAD``; no 104 over HTTP/1.0; a
new request ends a stalled one instead of waiting for its lease; hostile headers get problem
details; another user's token sees no upload.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from .clients.ietf_client import Cut, Response, ResumableClient
from .servers import LiveServer, live_server

MiB = 1024 * 1024
URL = "/api/resumable/"
V8 = {"Upload-Draft-Interop-Version": "8"}
PROBLEM = "application/problem+json"
LEASE_SECONDS = 30.0  # long: a test that passes quickly did not wait for it


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    settings = {
        "DRF_CHUNKED_UPLOAD_INTERIM_RESPONSES": True,
        "DRF_CHUNKED_UPLOAD_CHECKPOINT_BYTES": MiB,
        "DRF_CHUNKED_UPLOAD_LEASE_SECONDS": LEASE_SECONDS,
    }
    with live_server(workers=2, worker_class="gthread", threads=4, settings=settings) as s:
        yield s


def client(server: LiveServer, version: int = 8) -> ResumableClient:
    return ResumableClient(server.url, server.headers, version)


def headers(server: LiveServer, **extra: str) -> dict[str, str]:
    return {**server.headers, **V8, **extra}


def upload_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def md5_digest(data: bytes) -> str:
    return "md5=:" + base64.b64encode(hashlib.md5(data).digest()).decode() + ":"


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)  # polling a real server: its workers run on the real clock


def settled(server: LiveServer, url: str) -> int:
    """The offset once the server is done with a cut request (two HEADs 0.3 s apart agree)."""
    ietf = client(server)
    offset = ietf.offset(url)[0]
    for _ in range(50):
        time.sleep(0.3)
        previous, offset = offset, ietf.offset(url)[0]
        if offset == previous:
            return offset
    raise AssertionError("the offset never settled")


def test_no_104_over_http_1_0(server: LiveServer) -> None:
    ietf = client(server)
    response = ietf.request("POST", URL, {"Upload-Complete": "?1"}, b"abc", protocol="HTTP/1.0")
    assert isinstance(response, Response) and response.status == 201
    assert response.interim == []


def test_interrupted_whole_file_is_resumed_from_the_offset_at_head(server: LiveServer) -> None:
    data = os.urandom(4 * MiB + 11)
    ietf = client(server)
    cut = ietf.upload(URL, data, cut_after=3 * MiB + 100)
    assert isinstance(cut, Cut)
    ((status, interim),) = cut.interim
    assert status == 104
    url = interim["location"]
    kept = settled(server, url)
    assert MiB <= kept <= cut.sent and kept % MiB == 0, kept  # its check-points
    assert server.stored_bytes(upload_id(url))[:kept] == data[:kept]
    response = ietf.resume(url, data)
    assert response.status == 200, response.body
    assert response.headers["upload-complete"] == "?1"
    assert response.headers["upload-offset"] == str(len(data))
    assert response.headers["repr-digest"] == md5_digest(data)
    assert server.stored_bytes(upload_id(url)) == data


def test_a_new_request_ends_a_stalled_one(server: LiveServer) -> None:
    data = os.urandom(3 * MiB)
    ietf = client(server)
    created = ietf.request(
        "POST", URL, {"Upload-Complete": "?0", "Upload-Length": str(len(data))}, b""
    )
    assert isinstance(created, Response) and created.status == 201
    url = created.headers["location"]
    path = url.split(f":{server.port}", 1)[1]
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as stalled:
        stalled.sendall(
            (
                f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Token {server.token}\r\nUpload-Draft-Interop-Version: 8\r\n"
                "Content-Type: application/partial-upload\r\nUpload-Offset: 0\r\n"
                f"Upload-Complete: ?1\r\nContent-Length: {len(data)}\r\n\r\n"
            ).encode()
            + data[: MiB + MiB // 2]
        )
        wait_for(lambda: ietf.offset(url)[0] >= MiB)
        offset = settled(server, url)
        assert offset == MiB  # the stalled request holds the lease, with 1.5 MiB sent
        started = time.monotonic()
        response = ietf.append(url, offset, data[offset:], complete=True)
        elapsed = time.monotonic() - started
        assert response.status == 200, response.body
        assert elapsed < LEASE_SECONDS / 3, elapsed  # it did not wait for the lease to run out
        stalled.sendall(data[MiB + MiB // 2 : 2 * MiB])  # the old request wakes up, too late
        stalled.shutdown(socket.SHUT_WR)
        stalled.recv(65536)
    assert ietf.offset(url) == (len(data), True)
    assert server.stored_bytes(upload_id(url)) == data


@pytest.mark.parametrize(
    "extra",
    [
        # Interop 6 refuses a malformed length (interop 8 ignores it: tests/test_ietf.py).
        {"Upload-Complete": "?1", "Upload-Length": "1" * 4000, "Upload-Draft-Interop-Version": "6"},
        {"Upload-Complete": "?1", "Upload-Length": "-5", "Upload-Draft-Interop-Version": "6"},
        {"Upload-Complete": "yes"},
        {"Upload-Complete": "?1", "Content-Digest": "sha-256=:" + "A" * 6000 + ":"},
        {"Upload-Complete": "?1", "Upload-Draft-Interop-Version": "99"},
        {"Upload-Complete": "?1", "Upload-Draft-Interop-Version": "8" * 5000},
    ],
)
def test_hostile_headers_get_problem_details(server: LiveServer, extra: dict[str, str]) -> None:
    response = httpx.post(server.url + URL, content=b"abc", headers=headers(server, **extra))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 400


def test_another_token_sees_no_upload(server: LiveServer) -> None:
    created = httpx.post(
        server.url + URL, content=b"abc", headers=headers(server, **{"Upload-Complete": "?0"})
    )
    url = created.headers["location"]
    stranger = {**V8, "Authorization": "Token " + "0" * 40}
    response = httpx.head(url, headers=stranger)
    assert response.status_code == 401 and response.headers["content-type"] == PROBLEM
