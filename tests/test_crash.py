"""Fault injection on a real server: workers SIGKILLed mid-chunk, clients vanishing mid-body.

A chunk is sent slowly through a raw socket to gunicorn (two sync workers); at a chosen point the
worker holding the connection is found through ``/proc`` and SIGKILLed, or the client closes the
socket. Gunicorn forks a new worker; the client asks the server for its offset, resumes from there
and completes. Whatever happened, the server's offset may never count bytes that were not fully
sent, the bytes it acknowledges must be the source's, and the finished file must equal the source.

``CHUNKED_UPLOADS_CRASH_TRIALS`` (default 8) sets the number of SIGKILL trials and of disconnect
trials; ``CHUNKED_UPLOADS_CRASH_SEED`` makes a run's random kill points reproducible.
"""

from __future__ import annotations

import hashlib
import os
import random
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import httpx
import pytest

from .helpers import put_chunk_live
from .servers import LiveServer, live_server

TRIALS = int(os.environ.get("CHUNKED_UPLOADS_CRASH_TRIALS", "8"))
SEED = int(os.environ.get("CHUNKED_UPLOADS_CRASH_SEED", str(random.randrange(2**32))))
MB = 1024 * 1024
FIRST = 1 * MB  # acknowledged before the fault
CHUNK = 3 * MB  # the chunk the fault hits (three of the parsers' 1 MB blocks)
SOURCE = 6 * MB
LEASE_SECONDS = 2.0  # a dead worker's lease runs out this fast, so resuming waits little
BOUNDARY = "chunked-uploads-crash-test"
# How a trial ends: the kill lands before any body byte, after bytes reached the store, at a
# random byte, or after the whole body was sent (racing the acknowledgement).
MODES = ("headers", "stored", "random", "whole")


@dataclass
class RawChunk:
    """A chunk PUT written by hand, so the test decides when each byte leaves."""

    head: bytes
    body: bytes

    @classmethod
    def build(cls, server: LiveServer, path: str, data: bytes, start: int, total: int) -> RawChunk:
        part = (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="crash.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        body = part + data + f"\r\n--{BOUNDARY}--\r\n".encode()
        head = (
            f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Authorization: Token {server.token}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"Content-Range: bytes {start}-{start + len(data) - 1}/{total}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        return cls(head, body)


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(workers=2, settings={"DRF_CHUNKED_UPLOAD_LEASE_SECONDS": LEASE_SECONDS}) as s:
        yield s


def test_sigkill_mid_chunk_then_resume(server: LiveServer) -> None:
    """Tries: SIGKILL the worker writing a 3 MB chunk, at varied points, TRIALS times.

    Fails if the offset after the kill counts unsent bytes, if acknowledged bytes differ from the
    source, if resuming from the server's offset does not heal the stored file, or if the
    completed file differs from the source. Also fails if no trial caught a worker with
    unacknowledged bytes on disk (the injection would then not have tested the truncation)."""
    rng = random.Random(SEED)
    torn = 0
    for trial in range(TRIALS):
        mode = MODES[trial % len(MODES)]
        torn += run_kill_trial(server, rng, mode)
    print(f"{TRIALS} SIGKILL trials, {torn} left unacknowledged bytes behind, seed {SEED}")
    assert torn > 0, f"no kill landed after bytes were stored (seed {SEED})"


def run_kill_trial(server: LiveServer, rng: random.Random, mode: str) -> bool:
    """One trial; returns whether the dead worker left unacknowledged bytes in the store."""
    source = os.urandom(SOURCE)
    upload_id, path = start_upload(server, source)
    chunk = RawChunk.build(server, path, source[FIRST : FIRST + CHUNK], FIRST, SOURCE)
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as client:
        client.sendall(chunk.head)
        worker = server.worker_for(client)
        sent = send_until(server, upload_id, client, chunk.body, rng, mode)
        server.kill_worker(worker)
    offset = server_offset(server, upload_id)
    whole_sent = sent == len(chunk.body)
    assert offset == FIRST or (whole_sent and offset == FIRST + CHUNK), (mode, sent, offset)
    stored = server.stored_bytes(upload_id)
    assert stored[:offset] == source[:offset], mode
    resume_and_complete(server, upload_id, source, offset)
    return len(stored) > offset


def send_until(
    server: LiveServer,
    upload_id: str,
    client: socket.socket,
    body: bytes,
    rng: random.Random,
    mode: str,
) -> int:
    """Send part of the body as the mode says; return how many body bytes left."""
    if mode == "headers":
        return 0
    if mode == "whole":
        client.sendall(body)
        return len(body)
    if mode == "random":
        sent = rng.randrange(len(body))
        client.sendall(body[:sent])
        return sent
    # "stored": all but the last block, then wait for the worker to put bytes past the offset.
    sent = len(body) - rng.randrange(1, MB)
    client.sendall(body[:sent])
    wait_for(lambda: len(server.stored_bytes(upload_id)) > FIRST)
    return sent


def test_client_disconnect_mid_body(server: LiveServer) -> None:
    """Tries: the client closes its socket after a random part of a 3 MB chunk, TRIALS times.

    Fails if the upload moves past its last acknowledged offset, if the next chunk cannot be
    sent from that offset, or if the stored bytes after it (and the completed file) are not the
    source's."""
    rng = random.Random(SEED)
    for _ in range(TRIALS):
        source = os.urandom(SOURCE)
        upload_id, path = start_upload(server, source)
        chunk = RawChunk.build(server, path, source[FIRST : FIRST + CHUNK], FIRST, SOURCE)
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as client:
            client.sendall(chunk.head + chunk.body[: rng.randrange(1, len(chunk.body))])
            client.shutdown(socket.SHUT_WR)
            client.recv(65536)  # the worker's answer (a 4xx) or nothing: either way it is done
        assert server_offset(server, upload_id) == FIRST
        resume_and_complete(server, upload_id, source, FIRST)


def start_upload(server: LiveServer, source: bytes) -> tuple[str, str]:
    """Create an upload whose first FIRST bytes are acknowledged; return its id and path."""
    response = put_chunk_live(
        server, server.url + "/api/uploads/", source[:FIRST], 0, len(source), filename="crash.bin"
    )
    assert response.status_code == 200, response.text
    upload_id: str = response.json()["id"]
    return upload_id, f"/api/uploads/{upload_id}/"


def server_offset(server: LiveServer, upload_id: str) -> int:
    response = httpx.get(f"{server.url}/api/uploads/{upload_id}/", headers=server.headers)
    assert response.status_code == 200, response.text
    offset: int = response.json()["offset"]
    return offset


def resume_and_complete(server: LiveServer, upload_id: str, source: bytes, offset: int) -> None:
    """Send the rest from ``offset`` as a client would (retrying while busy), then complete."""
    url = f"{server.url}/api/uploads/{upload_id}/"
    while offset < len(source):
        data = source[offset : offset + CHUNK]
        response = retry_while_busy(
            partial(put_chunk_live, server, url, data, offset, len(source), filename="crash.bin")
        )
        assert response.status_code == 200, response.text
        offset = response.json()["offset"]
        assert server.stored_bytes(upload_id) == source[:offset]
    md5 = hashlib.md5(source).hexdigest()
    response = retry_while_busy(lambda: httpx.post(url, headers=server.headers, json={"md5": md5}))
    assert response.status_code == 200, response.text
    assert server.stored_bytes(upload_id) == source


def retry_while_busy(send: Callable[[], httpx.Response]) -> httpx.Response:
    """Retry a request while the upload is busy: a dead worker's lease lasts LEASE_SECONDS."""
    deadline = time.monotonic() + LEASE_SECONDS * 5
    while True:
        response: httpx.Response = send()
        if response.status_code != 409 or time.monotonic() > deadline:
            return response
        time.sleep(0.1)  # a real server's lease runs on the real clock; nothing to fake here


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
