"""Hostile and broken clients (issue 13), against the example project under a real gunicorn.

Every test runs twice: two sync workers, and one threaded worker (``--threads 4``, the setup
docs/deployment.md recommends without a buffering proxy); the server and its fixtures are
``hostile_server.py``'s, shared with the tus and IETF suites. Each test takes a fresh user, so the
per-user limits the server is started with (3 unfinished uploads, 64 MiB declared) bound only the
quota tests. Attacks: other users' ids on every verb, path tricks in names and ids, malformed
``Content-Range`` values, broken multipart bodies, giant headers, a disconnect mid-chunk, a socket
that stalls mid-chunk, a many-member ``Content-Digest`` header, the quotas, a session-authenticated
single shot and a deeply nested JSON completion body. Every refusal is a 4xx (JSON with ``detail``
and ``code`` whenever the app answers) and leaves acknowledged bytes alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .hostile_server import (  # noqa: F401 (fixtures)
    CHUNK,
    LEASE,
    MAX_UNFINISHED,
    MAX_UNFINISHED_BYTES,
    Server,
    connect,
    read_answer,
    request_head,
    server,
    session,
    socket_reads_server,
    user,
    worker_cpu_seconds,
)

LIST = "/api/uploads/"


# -- helpers ------------------------------------------------------------------------------------


def put(
    server: Server, headers: dict[str, str], url: str, data: bytes, start: int, total: int
) -> httpx.Response:
    chunk_headers = {
        **headers,
        "Content-Range": f"bytes {start}-{start + len(data) - 1}/{total}",
        "Content-Type": "application/octet-stream",
        "Content-Disposition": 'attachment; filename="payload.bin"',
    }
    return httpx.put(server.url + url, content=data, headers=chunk_headers, timeout=30)


def started(server: Server, headers: dict[str, str], data: bytes, total: int) -> dict[str, Any]:
    """A new upload holding ``data`` as its first chunk."""
    response = put(server, headers, LIST, data, 0, total)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def detail(upload: dict[str, Any]) -> str:
    return f"{LIST}{upload['id']}/"


def state(server: Server, headers: dict[str, str], upload: dict[str, Any]) -> tuple[int, bytes]:
    response = httpx.get(server.url + detail(upload), headers=headers)
    assert response.status_code == 200
    return response.json()["offset"], server.live.stored_bytes(upload["id"])


def assert_json_4xx(response: httpx.Response, *codes: str) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    body: dict[str, Any] = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    if codes:
        assert body["code"] in codes, body
    return body


# -- other users' uploads ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "POST", "DELETE"])
def test_other_users_upload_is_404_on_every_verb(server: Server, method: str) -> None:
    alice, mallory = server.new_user(), server.new_user()
    data = os.urandom(1000)
    upload = started(server, alice, data, 2000)
    url = server.url + detail(upload)
    headers = {**mallory, "Content-Range": "bytes 1000-1999/2000"}
    if method == "POST":  # completion, with a JSON body
        headers["Content-Type"] = "application/json"
        body = json.dumps({"md5": hashlib.md5(data).hexdigest()}).encode()
    else:
        headers["Content-Type"] = "application/octet-stream"
        body = b"x" * 1000
    response = httpx.request(method, url, headers=headers, content=body)
    assert response.status_code == 404
    if method != "HEAD":
        assert_json_4xx(response, "not_found")
    listed = httpx.get(server.url + LIST, headers=mallory).json()
    assert listed["count"] == 0 and listed["results"] == []
    assert state(server, alice, upload) == (1000, data)


# -- path tricks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["../../../../tmp/pwned.txt", "/etc/passwd", "..\\..\\win.ini", "a/../../b", "..", "%2e%2e%2f"],
)
def test_file_names_never_leave_the_upload_folder(server: Server, user: Any, name: str) -> None:
    data = os.urandom(500)
    headers = {
        **user,
        "Content-Range": "bytes 0-499/500",
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f'attachment; filename="{name}"',
    }
    response = httpx.put(server.url + LIST, headers=headers, content=data)
    if response.status_code != 200:
        assert_json_4xx(response)
        return
    upload = response.json()
    assert "/" not in upload["filename"] and "\\" not in upload["filename"]
    (path,) = server.live.stored_files(upload["id"])
    root = server.live.media_root.resolve()
    assert path.resolve().is_relative_to(root)
    assert path.read_bytes() == data
    assert not Path("/tmp/pwned.txt").exists()


@pytest.mark.parametrize(
    "path",
    [
        "../../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e",
        "00000000-0000-0000-0000-000000000000",
        "0.5",
        "x" * 300,
        "%00",
        "'; DROP TABLE chunked_uploads_chunkedupload; --",
    ],
)
def test_tricky_ids_are_404(server: Server, user: Any, path: str) -> None:
    for method in ("GET", "PUT", "POST", "DELETE"):
        response = httpx.request(method, f"{server.url}{LIST}{path}/", headers=user)
        assert response.status_code in (400, 404), (method, response.status_code)
        assert response.status_code < 500


# -- malformed ranges, multipart, headers ------------------------------------------------------

MALFORMED_RANGES = [
    "",
    "bytes",
    "bytes 0-9",
    "bytes 0-9/",
    "bytes 9-0/10",
    "bytes 0-10/10",
    "bytes -1-9/10",
    "bytes 0-9/-10",
    "bytes 0-9/*",
    "bytes */10",
    "items 0-9/10",
    "bytes 0x0-0x9/0xa",
    "bytes 0-9/10, bytes 10-19/20",
    "bytes \uff10-\uff19/\uff11\uff10",  # fullwidth digits
    f"bytes 0-9/{10**40}",
    f"bytes 0-{2**63 - 2}/{2**63 - 1}",  # over MAX_BYTES
    "bytes 0-9/1" + "0" * 500,  # a 501-digit total
]


@pytest.mark.parametrize("value", MALFORMED_RANGES)
def test_malformed_content_range_is_a_json_400(server: Server, user: Any, value: str) -> None:
    headers = {**user, "Content-Range": value, "Content-Type": "application/octet-stream"}
    client = connect(server)  # raw: HTTP clients refuse to send some of these
    with client:
        client.sendall(request_head("PUT", LIST, headers, 10) + b"0123456789")
        status, body = read_answer(client)
    assert 400 <= status < 500 and body is not None, status
    assert isinstance(body["detail"], str) and body["code"]
    assert httpx.get(server.url + LIST, headers=user).json()["count"] == 0


BROKEN_MULTIPART = {
    "no boundary": ("multipart/form-data", b"--x\r\n\r\nabc\r\n--x--\r\n"),
    "wrong boundary": ("multipart/form-data; boundary=y", b"--x\r\nabc\r\n--x--\r\n"),
    "truncated": (
        "multipart/form-data; boundary=x",
        b'--x\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n0123',
    ),
    "no file part": (
        "multipart/form-data; boundary=x",
        b'--x\r\nContent-Disposition: form-data; name="other"\r\n\r\n0123456789\r\n--x--\r\n',
    ),
    "garbage": ("multipart/form-data; boundary=x", os.urandom(2000)),
    "bad disposition": (
        "multipart/form-data; boundary=x",
        b"--x\r\nContent-Disposition: form-data; name*=zz''%ff; filename*=zz''%ff\r\n\r\n"
        b"0123456789\r\n--x--\r\n",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_MULTIPART))
def test_broken_multipart_is_a_json_4xx(server: Server, user: Any, case: str) -> None:
    content_type, body = BROKEN_MULTIPART[case]
    headers = {**user, "Content-Range": "bytes 0-9/10", "Content-Type": content_type}
    response = httpx.put(server.url + LIST, headers=headers, content=body)
    assert_json_4xx(response)
    assert httpx.get(server.url + LIST, headers=user).json()["count"] == 0


@pytest.mark.parametrize(
    "extra",
    [
        {"X-Giant": "a" * 9000},  # over gunicorn's 8190-byte header line
        {f"X-Many-{i}": "1" for i in range(120)},  # over gunicorn's 100 header fields
        {"Content-Disposition": 'attachment; filename="' + "a" * 7000 + '"'},
        {"Content-Type": "application/octet-stream; " + "p=1; " * 1000},
    ],
    ids=["long line", "many fields", "long name", "long content type"],
)
def test_giant_headers_are_a_400_not_a_500(server: Server, user: Any, extra: Any) -> None:
    headers = {
        **user,
        "Content-Range": "bytes 0-9/10",
        "Content-Type": "application/octet-stream",
        **extra,
    }
    client = connect(server)
    with client:
        client.sendall(request_head("PUT", LIST, headers, 10) + b"0123456789")
        status, body = read_answer(client)
    assert 400 <= status < 500 or status == 200, status
    if body is not None and status != 200:
        assert isinstance(body["detail"], str) and body["code"]


# -- disconnects and stalls --------------------------------------------------------------------


def test_disconnect_mid_chunk_loses_only_that_chunk(server: Server, user: Any) -> None:
    first, second = os.urandom(CHUNK), os.urandom(CHUNK)
    upload = started(server, user, first, 2 * CHUNK)
    headers = {**user, "Content-Range": f"bytes {CHUNK}-{2 * CHUNK - 1}/{2 * CHUNK}"}
    headers["Content-Type"] = "application/octet-stream"
    client = connect(server)
    client.sendall(request_head("PUT", detail(upload), headers, CHUNK) + second[: CHUNK // 2])
    client.close()
    deadline = time.monotonic() + 10 * LEASE
    while (response := put(server, user, detail(upload), second, CHUNK, 2 * CHUNK)).status_code:
        if response.status_code != 409 or time.monotonic() > deadline:
            break
        time.sleep(0.2)  # the dropped request may still hold the lease: a real retry waits
    assert response.status_code == 200, response.text
    assert state(server, user, upload) == (2 * CHUNK, first + second)


def test_stalled_socket_does_not_block_a_retry_after_the_lease(server: Server, user: Any) -> None:
    """Half a chunk, then silence: once the lease ran out a retry from the offset succeeds while
    the stalled socket is still open, and the stalled request writes none of its later bytes."""
    first, stalled_bytes, retry = os.urandom(CHUNK), os.urandom(CHUNK), os.urandom(CHUNK)
    upload = started(server, user, first, 2 * CHUNK)
    headers = {**user, "Content-Range": f"bytes {CHUNK}-{2 * CHUNK - 1}/{2 * CHUNK}"}
    headers["Content-Type"] = "application/octet-stream"
    stalled = connect(server)
    stalled.sendall(request_head("PUT", detail(upload), headers, CHUNK))
    stalled.sendall(stalled_bytes[: CHUNK // 2])
    began = time.monotonic()
    while True:
        response = put(server, user, detail(upload), retry, CHUNK, 2 * CHUNK)
        if response.status_code != 409:
            break
        assert time.monotonic() - began < 2 * LEASE, "the retry was refused past the lease"
        time.sleep(0.2)
    assert response.status_code == 200, response.text
    assert time.monotonic() - began < 2 * LEASE
    stalled.setblocking(False)
    with pytest.raises(BlockingIOError):
        stalled.recv(1)  # still open, and not answered yet
    stalled.setblocking(True)
    stalled.settimeout(30)
    stalled.sendall(stalled_bytes[CHUNK // 2 :])  # the stalled client wakes up
    status, body = read_answer(stalled)
    stalled.close()
    assert status in (408, 409), (status, body)
    assert body is not None and body["code"] in ("upload_busy", "body_read_timeout")
    assert state(server, user, upload) == (2 * CHUNK, first + retry)


def test_stalled_socket_is_dropped_after_twice_the_lease(socket_reads_server: Server) -> None:
    """With the optional socket reads (only they can set a read timeout), a silent client's
    request ends with ``408`` after twice the lease."""
    server = socket_reads_server
    user = server.new_user()
    first = os.urandom(CHUNK)
    upload = started(server, user, first, 2 * CHUNK)
    headers = {**user, "Content-Range": f"bytes {CHUNK}-{2 * CHUNK - 1}/{2 * CHUNK}"}
    headers["Content-Type"] = "application/octet-stream"
    stalled = connect(server)
    stalled.sendall(request_head("PUT", detail(upload), headers, CHUNK) + b"x" * 1000)
    began = time.monotonic()
    status, body = read_answer(stalled)  # blocks until the server gives up on the body
    waited = time.monotonic() - began
    stalled.close()
    assert status == 408 and body is not None and body["code"] == "body_read_timeout"
    assert 2 * LEASE - 0.5 < waited < 2 * LEASE + 10
    second = os.urandom(CHUNK)  # the 1000 unacknowledged bytes are dropped by the next writer
    assert put(server, user, detail(upload), second, CHUNK, 2 * CHUNK).status_code == 200
    assert state(server, user, upload) == (2 * CHUNK, first + second)


# -- the digest header -------------------------------------------------------------------------


def sha256_member(data: bytes) -> str:
    import base64

    return "sha-256=:" + base64.b64encode(hashlib.sha256(data).digest()).decode() + ":"


def test_many_member_digest_header_is_refused_before_the_body(server: Server, user: Any) -> None:
    headers = {
        **user,
        "Content-Range": f"bytes 0-{CHUNK - 1}/{CHUNK}",
        "Content-Type": "application/octet-stream",
        "Content-Digest": ", ".join([sha256_member(b"x")] * 17),
    }
    client = connect(server)
    with client:
        client.sendall(request_head("PUT", LIST, headers, CHUNK))  # and no body at all
        status, body = read_answer(client)
    assert status == 400 and body is not None
    assert body["code"] == "chunk_digest_header_too_large"


def test_repeated_digest_headers_cost_bounded_cpu(server: Server, user: Any) -> None:
    """90 ``Content-Digest`` headers of 30 members each on a 1 MiB chunk (gunicorn joins them):
    hashing the body once per member took seconds of a worker's CPU; now it is refused."""
    data = os.urandom(CHUNK)
    member = sha256_member(data)
    lines = [f"Content-Digest: {', '.join([member] * 30)}".encode() for _ in range(90)]
    headers = {
        **user,
        "Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}",
        "Content-Type": "application/octet-stream",
    }
    head = request_head("PUT", LIST, headers, len(data), lines)
    before = worker_cpu_seconds(server.live)
    client = connect(server)
    with client:
        client.sendall(head)
        with contextlib.suppress(OSError):  # refused before the body: the server may close
            client.sendall(data)
        status, body = read_answer(client)
    spent = worker_cpu_seconds(server.live) - before
    assert spent < 0.5, f"{spent:.2f} s of worker CPU"
    assert status == 400 and body is not None
    assert body["code"] == "chunk_digest_header_too_large"


def test_a_digest_header_within_bounds_is_checked(server: Server, user: Any) -> None:
    data = os.urandom(CHUNK)
    headers = {
        **user,
        "Content-Range": f"bytes 0-{CHUNK - 1}/{CHUNK}",
        "Content-Type": "application/octet-stream",
        "Content-Digest": ", ".join([sha256_member(data)] * 4),
    }
    assert httpx.put(server.url + LIST, headers=headers, content=data).status_code == 200
    headers["Content-Digest"] = ", ".join([sha256_member(data)] * 3 + [sha256_member(b"x")])
    response = httpx.put(server.url + LIST, headers=headers, content=data)
    assert_json_4xx(response, "chunk_digest_mismatch")


# -- per-user limits ---------------------------------------------------------------------------


def test_unfinished_uploads_are_limited_before_the_body(server: Server, user: Any) -> None:
    for _ in range(MAX_UNFINISHED):
        started(server, user, b"x" * 10, 100)
    headers = {
        **user,
        "Content-Range": f"bytes 0-{CHUNK - 1}/{CHUNK}",
        "Content-Type": "application/octet-stream",
    }
    client = connect(server)
    with client:
        client.sendall(request_head("PUT", LIST, headers, CHUNK))  # no body sent
        status, body = read_answer(client)
    assert status == 403 and body is not None
    assert body["code"] == "too_many_unfinished_uploads"
    other = server.new_user()
    started(server, other, b"x" * 10, 100)  # the limit is per user


def test_declared_bytes_are_limited(server: Server, user: Any) -> None:
    started(server, user, b"x" * 10, MAX_UNFINISHED_BYTES - 100)
    response = put(server, user, LIST, b"y" * 10, 0, 200)
    body = assert_json_4xx(response, "unfinished_bytes_quota_exceeded")
    assert response.status_code == 403
    assert body["limit"] == MAX_UNFINISHED_BYTES
    single = httpx.post(
        server.url + LIST + "?md5=" + hashlib.md5(b"z" * 200).hexdigest(),
        headers={**user, "Content-Type": "application/octet-stream"},
        content=b"z" * 200,
    )
    assert single.status_code == 403
    assert single.json()["code"] == "unfinished_bytes_quota_exceeded"


def test_list_is_paginated(server: Server, user: Any) -> None:
    started(server, user, b"x" * 10, 100)
    page = httpx.get(server.url + LIST, headers=user, params={"page_size": 5000}).json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == 1


# -- what issue 14's restructuring fixes -------------------------------------------------------


def test_session_single_shot_with_csrf_is_accepted(server: Server) -> None:
    client, csrf = session(server)
    data = b"hello, world\n"
    response = client.post(
        LIST,
        files={"file": ("h.txt", data)},
        data={"md5": hashlib.md5(data).hexdigest()},
        headers={"X-CSRFToken": csrf, "Referer": server.url + "/"},
    )
    client.close()
    assert response.status_code in (200, 201), response.text[:300]
    assert response.json()["status"] == "complete"


def test_session_post_without_csrf_is_403(server: Server) -> None:
    client, _ = session(server)
    response = client.post(LIST, json={"md5": "0" * 32})
    client.close()
    assert response.status_code == 403
    assert_json_4xx(response)


def test_deeply_nested_json_completion_is_a_json_400(server: Server, user: Any) -> None:
    upload = started(server, user, b"x" * 10, 10)
    body = b"[" * 100_000 + b"]" * 100_000
    headers = {**user, "Content-Type": "application/json"}
    for url in (detail(upload), f"{LIST}00000000-0000-0000-0000-000000000000/"):
        response = httpx.post(server.url + url, headers=headers, content=body)
        assert response.status_code == 400, response.status_code
        assert_json_4xx(response)
