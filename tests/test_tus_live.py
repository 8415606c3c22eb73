"""tus against a real gunicorn: tuspy 1.1.0, racing PATCHes, a SIGKILLed worker, a vanished client.

A whole-file ``PATCH`` is sent slowly through a raw socket, so the test decides when each byte
leaves; the server check-points every MiB. After a worker is killed, or the client closes its
socket, mid-``PATCH``, the upload's ``HEAD`` must report a check-point past the start (not zero, and
never a byte that was not sent), the acknowledged bytes must be the source's, and resuming from
there must complete the file with the right ``Repr-Digest`` (the digest state was check-pointed
with the offset).
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from tusclient.client import TusClient

from .servers import LiveServer, live_server

MiB = 1024 * 1024
SOURCE = 8 * MiB
LEASE_SECONDS = 2.0
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/offset+octet-stream"


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    settings = {
        "DRF_CHUNKED_UPLOAD_LEASE_SECONDS": LEASE_SECONDS,
        "DRF_CHUNKED_UPLOAD_CHECKPOINT_BYTES": MiB,
    }
    with live_server(workers=2, settings=settings) as s:
        yield s


def headers(server: LiveServer, **extra: str) -> dict[str, str]:
    return {**server.headers, **TUS, **extra}


def create(server: LiveServer, length: int) -> str:
    response = httpx.post(
        server.url + "/api/tus/", headers=headers(server, **{"Upload-Length": str(length)})
    )
    assert response.status_code == 201, response.text
    return response.headers["Location"]


def head(server: LiveServer, url: str) -> httpx.Response:
    return httpx.head(url, headers=headers(server))


def offset_of(server: LiveServer, url: str) -> int:
    response = head(server, url)
    assert response.status_code == 200, response.text
    return int(response.headers["Upload-Offset"])


def upload_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def patch(server: LiveServer, url: str, data: bytes, offset: int) -> httpx.Response:
    extra = {"Upload-Offset": str(offset), "Content-Type": OCTETS}
    return httpx.patch(url, content=data, headers=headers(server, **extra), timeout=60)


def raw_patch_head(server: LiveServer, url: str, offset: int, length: int) -> bytes:
    path = url.split(f":{server.port}", 1)[1]
    return (
        f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Token {server.token}\r\nTus-Resumable: 1.0.0\r\n"
        f"Content-Type: {OCTETS}\r\nUpload-Offset: {offset}\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)  # polling a real server: its workers run on the real clock


def retry_while_busy(send: Callable[[], httpx.Response]) -> httpx.Response:
    """Retry while another request holds the upload (a dead worker's lease: LEASE_SECONDS)."""
    deadline = time.monotonic() + LEASE_SECONDS * 5
    while True:
        response = send()
        if response.status_code != 423 or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def finish(server: LiveServer, url: str, source: bytes) -> None:
    """Resume from the reported offset, then check the file and its ``Repr-Digest``."""
    offset = offset_of(server, url)
    assert server.stored_bytes(upload_id(url))[:offset] == source[:offset]
    response = retry_while_busy(lambda: patch(server, url, source[offset:], offset))
    assert response.status_code == 204, response.text
    assert server.stored_bytes(upload_id(url)) == source
    digest = base64.b64encode(hashlib.md5(source).digest()).decode()
    assert head(server, url).headers["Repr-Digest"] == f"md5=:{digest}:"


def test_tuspy_uploads_with_checksums(server: LiveServer, tmp_path: Path) -> None:
    source = os.urandom(3 * MiB + 7)
    path = tmp_path / "tuspy.bin"
    path.write_bytes(source)
    client = TusClient(server.url + "/api/tus/", headers=server.headers)
    uploader = client.uploader(
        str(path), chunk_size=MiB, upload_checksum=True, metadata={"filename": "tuspy.bin"}
    )
    uploader.upload()
    assert server.stored_bytes(upload_id(uploader.url)) == source
    response = head(server, uploader.url)
    assert response.headers["Upload-Offset"] == str(len(source))
    assert base64.b64decode(response.headers["Upload-Metadata"].split()[1]) == b"tuspy.bin"


def test_tuspy_interrupted_then_resumed(server: LiveServer, tmp_path: Path) -> None:
    source = os.urandom(3 * MiB)
    path = tmp_path / "tuspy.bin"
    path.write_bytes(source)
    client = TusClient(server.url + "/api/tus/", headers=server.headers)
    first = client.uploader(str(path), chunk_size=MiB, upload_checksum=True)
    first.upload(stop_at=2 * MiB)  # the process stops here; a new one resumes from the URL
    assert offset_of(server, first.url) == 2 * MiB
    second = client.uploader(str(path), chunk_size=MiB, upload_checksum=True, url=first.url)
    assert second.offset == 2 * MiB
    second.upload()
    assert server.stored_bytes(upload_id(first.url)) == source


def test_tuspy_bad_checksum_is_refused(server: LiveServer) -> None:
    url = create(server, 4)
    extra = {
        "Upload-Offset": "0",
        "Content-Type": OCTETS,
        "Upload-Checksum": "sha1 " + "A" * 27 + "=",
    }
    response = httpx.patch(url, content=b"abcd", headers=headers(server, **extra))
    assert response.status_code == 460
    assert offset_of(server, url) == 0


def test_sigkill_mid_patch_resumes_at_the_last_check_point(server: LiveServer) -> None:
    source = os.urandom(SOURCE)
    url = create(server, SOURCE)
    sent = 5 * MiB + 12345
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as client:
        client.sendall(raw_patch_head(server, url, 0, SOURCE))
        worker = server.worker_for(client)
        client.sendall(source[:sent])
        wait_for(lambda: offset_of(server, url) >= 4 * MiB)
        server.kill_worker(worker)
    offset = offset_of(server, url)
    assert 4 * MiB <= offset <= sent and offset % MiB == 0, offset
    finish(server, url, source)


def test_client_disconnect_mid_patch_resumes_at_the_last_check_point(server: LiveServer) -> None:
    source = os.urandom(SOURCE)
    url = create(server, SOURCE)
    sent = 3 * MiB + 777
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as client:
        client.sendall(raw_patch_head(server, url, 0, SOURCE) + source[:sent])
        wait_for(lambda: offset_of(server, url) >= 2 * MiB)
        client.shutdown(socket.SHUT_WR)
        client.recv(65536)  # the worker's answer (a 4xx) or nothing: either way it is done
    offset = offset_of(server, url)
    assert offset in (2 * MiB, 3 * MiB), offset
    finish(server, url, source)


def test_two_patches_at_once_one_is_refused(server: LiveServer) -> None:
    source = os.urandom(2 * MiB)
    url = create(server, len(source))
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as client:
        client.sendall(raw_patch_head(server, url, 0, len(source)) + source[:1000])
        server.worker_for(client)
        time.sleep(0.3)  # let the first request take the lease (a real server, real clock)
        second = patch(server, url, source, 0)
        assert second.status_code in (409, 423), second.text
        client.sendall(source[1000:])
        answer = client.recv(65536)
    assert answer.startswith(b"HTTP/1.1 204"), answer
    assert offset_of(server, url) == len(source)
    assert server.stored_bytes(upload_id(url)) == source
