"""Hostile and broken clients of the IETF resumable-upload draft, against the example project under
a real gunicorn.

The server and its fixtures are ``hostile_server.py``'s: every test runs under two sync workers and
under one gthread worker with four threads; each test takes a fresh user. Attacks: other users'
ids on every verb (and a ``POST`` asking, tus-style, to be a ``PATCH``), tricky ids, malformed,
giant and repeated structured-field headers (``Upload-Offset``, ``Upload-Length``,
``Upload-Complete``, ``Upload-Draft-Interop-Version``, ``Content-Digest``), lying
``Content-Length``, chunked bodies, bodies on ``HEAD`` and ``DELETE``, a client that disconnects or
stalls mid-``PATCH``, the per-user quotas (an upload without ``Upload-Length`` too), a preflight
from a foreign origin and a session without its CSRF token. Every refusal is a 4xx RFC 9457
problem (``application/problem+json``, ``protocols/ietf/errors.py``) whenever the app answers,
and acknowledged bytes stay acknowledged and correct.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import socket
import time
from typing import Any

import httpx
import pytest

from .hostile_server import (  # noqa: F401 (fixtures)
    CHECKPOINT,
    CHUNK,
    CORS_ORIGIN,
    LEASE,
    MAX_UNFINISHED,
    MAX_UNFINISHED_BYTES,
    Answer,
    Server,
    connect,
    md5_repr,
    path_of,
    read_response,
    request_head,
    server,
    session,
    socket_reads_server,
    upload_id,
    user,
)

LIST = "/api/resumable/"
V8 = {"Upload-Draft-Interop-Version": "8"}
PARTIAL = "application/partial-upload"
PROBLEM = "application/problem+json"
NO_UPLOAD = "00000000-0000-0000-0000-000000000000"


# -- helpers ------------------------------------------------------------------------------------


def create(
    server: Server, user: dict[str, str], body: bytes, length: int | None = None, **extra: str
) -> str:
    """A new, unfinished upload holding ``body`` (``Upload-Length: length`` if given); its path."""
    headers = {**user, **V8, "Upload-Complete": "?0", **extra}
    if length is not None:
        headers["Upload-Length"] = str(length)
    response = httpx.post(server.url + LIST, headers=headers, content=body, timeout=30)
    assert response.status_code == 201, response.text
    return path_of(response.headers["Location"])


def patch(
    server: Server,
    user: dict[str, str],
    path: str,
    data: bytes,
    offset: int,
    complete: bool = False,
    **extra: str,
) -> httpx.Response:
    headers = {
        **user,
        **V8,
        "Content-Type": PARTIAL,
        "Upload-Offset": str(offset),
        "Upload-Complete": "?1" if complete else "?0",
        **extra,
    }
    return httpx.patch(server.url + path, headers=headers, content=data, timeout=30)


def head(server: Server, user: dict[str, str], path: str) -> httpx.Response:
    return httpx.head(server.url + path, headers={**user, **V8})


def state(server: Server, user: dict[str, str], path: str) -> tuple[int, bytes]:
    """The upload's offset at ``HEAD`` and the bytes stored up to it."""
    response = head(server, user, path)
    assert response.status_code == 204, response.status_code
    offset = int(response.headers["Upload-Offset"])
    return offset, server.live.stored_bytes(upload_id(path))[:offset]


def settled(server: Server, user: dict[str, str], path: str) -> int:
    """The offset once the server is done with a cut request (two ``HEAD``s 0.3 s apart agree)."""
    offset = int(head(server, user, path).headers["Upload-Offset"])
    for _ in range(30):
        time.sleep(0.3)  # a real server finishing a request on the real clock
        previous, offset = offset, int(head(server, user, path).headers["Upload-Offset"])
        if offset == previous:
            return offset
    raise AssertionError("the offset never settled")


def sha256_member(data: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(data).digest()).decode() + ":"


def assert_problem(response: httpx.Response | Answer, *codes: str) -> dict[str, Any]:
    """A refusal as an RFC 9457 problem: a 4xx, ``application/problem+json``, its members."""
    status = response.status_code if isinstance(response, httpx.Response) else response.status
    assert 400 <= status < 500, (status, response.headers)
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"] and body["title"], body
    assert isinstance(body["detail"], str) and body["detail"] and body["code"], body
    if codes:
        assert body["code"] in codes, body
    return body


def raw(
    server: Server, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> Answer:
    """One request sent as written (``Content-Length`` of ``body``), its answer."""
    client = connect(server)
    with client:
        client.sendall(request_head(method, path, headers, len(body)) + body)
        return read_response(client, head=method == "HEAD")


def from_gunicorn(answer: Answer) -> bool:
    """gunicorn refused the request's head itself (a line or block over its limits)."""
    return answer.status in (400, 431) and not answer.headers.get("content-type", "").startswith(
        PROBLEM
    )


# -- other users' uploads ------------------------------------------------------------------------

OTHER_USER_VERBS = {
    "HEAD": ("HEAD", {}),
    "GET": ("GET", {}),
    "PATCH": ("PATCH", {}),
    "DELETE": ("DELETE", {}),
    "POST as PATCH": ("POST", {"X-HTTP-Method-Override": "PATCH"}),
    "POST as DELETE": ("POST", {"X-HTTP-Method-Override": "DELETE"}),
}


@pytest.mark.parametrize("verb", sorted(OTHER_USER_VERBS))
def test_other_users_upload_is_refused_on_every_verb(server: Server, verb: str) -> None:
    """404 (405 for a ``POST``, which the draft never sends to an upload), nothing changed."""
    alice, mallory = server.new_user(), server.new_user()
    data = os.urandom(1000)
    path = create(server, alice, data, 2000)
    method, extra = OTHER_USER_VERBS[verb]
    headers = {**mallory, **V8, "Content-Type": PARTIAL, "Upload-Offset": "1000", **extra}
    headers["Upload-Complete"] = "?1"
    response = httpx.request(method, server.url + path, headers=headers, content=b"x" * 1000)
    assert response.status_code == (405 if method == "POST" else 404)
    if method != "HEAD":
        assert_problem(response, "not_found", "method_not_allowed")
    assert state(server, alice, path) == (1000, data)


TRICKY_IDS = [
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e",
    NO_UPLOAD,
    "0.5",
    "x" * 300,
    "%00",
    "'; DROP TABLE chunked_uploads_chunkedupload; --",
]


@pytest.mark.parametrize("upload", TRICKY_IDS)
def test_tricky_ids_are_refused(server: Server, user: dict[str, str], upload: str) -> None:
    for method in ("HEAD", "PATCH", "DELETE", "POST"):
        headers = {**user, **V8, "Content-Type": PARTIAL, "Upload-Offset": "0"}
        headers["Upload-Complete"] = "?0"
        response = httpx.request(method, f"{server.url}{LIST}{upload}/", headers=headers)
        assert response.status_code in (400, 404, 405), (method, response.status_code)


@pytest.mark.parametrize("override", ["PATCH", "patch", "DELETE", "GET", "TRACE", ""])
def test_overrides_are_not_obeyed(server: Server, user: dict[str, str], override: str) -> None:
    """The draft has no method override: a ``POST`` to an upload is a 405 whatever it says, a
    ``PATCH`` saying ``DELETE`` appends."""
    data = os.urandom(100)
    path = create(server, user, data, 300)
    headers = {**user, **V8, "X-HTTP-Method-Override": override, "Content-Type": PARTIAL}
    headers.update({"Upload-Offset": "100", "Upload-Complete": "?0"})
    response = httpx.post(server.url + path, headers=headers, content=b"y" * 100)
    assert_problem(response, "method_not_allowed")
    assert state(server, user, path) == (100, data)
    extra = {"X-HTTP-Method-Override": override}
    assert patch(server, user, path, b"y" * 100, 100, **extra).status_code == 204
    assert state(server, user, path) == (200, data + b"y" * 100)


# -- malformed, giant and repeated headers --------------------------------------------------------

BAD_OFFSETS = [
    "-1",
    "+1",
    "1e3",
    "1 0",
    "0x10",
    "1.0",
    "",
    "?1",
    '"100"',
    "100, 100",
    "9" * 16,  # past an sf-integer's 15 digits
    "9" * 15,  # an sf-integer, past any upload
    "1" * 9000,
]


@pytest.mark.parametrize("value", BAD_OFFSETS)
def test_malformed_upload_offset(server: Server, user: dict[str, str], value: str) -> None:
    data = os.urandom(100)
    path = create(server, user, data, 200)
    headers = {**user, **V8, "Content-Type": PARTIAL, "Upload-Offset": value}
    headers["Upload-Complete"] = "?1"
    answer = raw(server, "PATCH", path, headers, b"z" * 100)
    if not from_gunicorn(answer):
        assert_problem(answer, "invalid_header", "offset_mismatch")
    assert state(server, user, path) == (100, data)


@pytest.mark.parametrize(
    "value", ["?2", "1", "true", "?", "?1, ?0", "?0;x=1;y", "x" * 100, "", "\u00bf1"]
)
def test_malformed_upload_complete(server: Server, user: dict[str, str], value: str) -> None:
    data = os.urandom(100)
    path = create(server, user, data, 200)
    headers = {**user, **V8, "Content-Type": PARTIAL, "Upload-Offset": "100"}
    client = connect(server)
    with client:
        line = f"Upload-Complete: {value}".encode()
        client.sendall(request_head("PATCH", path, headers, 100, [line]) + b"z" * 100)
        answer = read_response(client)
    if answer.status == 200:  # ``?0;x=1;y``: parameters are ignored (RFC 9651 3.1.2), and the
        # upload took its length: complete (``has_all_bytes()``)
        assert state(server, user, path) == (200, data + b"z" * 100)
        return
    assert_problem(answer, "invalid_header")
    assert state(server, user, path) == (100, data)


@pytest.mark.parametrize("value", ["", "8.0", "-8", "99", "8, 8", "08x", '"8"', "x" * 9000])
def test_an_unknown_interop_version(server: Server, user: dict[str, str], value: str) -> None:
    for method in ("POST", "HEAD", "OPTIONS"):
        path = LIST if method != "HEAD" else f"{LIST}{NO_UPLOAD}/"
        headers = {**user, "Upload-Draft-Interop-Version": value, "Upload-Complete": "?1"}
        answer = raw(server, method, path, headers, b"abc" if method == "POST" else b"")
        if from_gunicorn(answer):
            continue
        assert answer.status == 400, (method, answer.status)
        if method != "HEAD":
            body = assert_problem(answer, "unsupported_interop_version")
            assert body["supported-versions"] == [3, 5, 6, 8]
    assert httpx.get(server.url + "/api/uploads/", headers=user).json()["count"] == 0


BAD_LENGTHS = {
    "negative": "-1",
    "decimal": "1.5",
    "sixteen digits": "9" * 16,
    "past the limit": "9" * 15,
    "less than the body": "2",
    "a list": "10, 10",
}


# Well-formed lengths that cannot hold; the others are malformed.
REFUSED_LENGTHS = {"past the limit", "less than the body"}


@pytest.mark.parametrize("case", sorted(BAD_LENGTHS))
def test_malformed_upload_length(server: Server, user: dict[str, str], case: str) -> None:
    """Interop 6 refuses a malformed ``Upload-Length``; interop 8 ignores it as if absent
    (draft -11), so the upload is created with its length unknown. A length that cannot hold
    is refused in both."""
    for version in ("6", "8"):
        headers = {
            **user,
            "Upload-Draft-Interop-Version": version,
            "Upload-Complete": "?0",
            "Upload-Length": BAD_LENGTHS[case],
        }
        response = httpx.post(server.url + LIST, headers=headers, content=b"abcd")
        if version == "8" and case not in REFUSED_LENGTHS:
            assert response.status_code == 201, response.text
            path = path_of(response.headers["Location"])
            assert "upload-length" not in head(server, user, path).headers
            assert state(server, user, path) == (4, b"abcd")
            continue
        assert_problem(response, "invalid_header", "inconsistent_length", "size_limit_exceeded")
        assert "location" not in response.headers
    created = 0 if case in REFUSED_LENGTHS else 1
    assert httpx.get(server.url + "/api/uploads/", headers=user).json()["count"] == created


def test_lengths_that_disagree(server: Server, user: dict[str, str]) -> None:
    path = create(server, user, b"x" * 10, 100)
    for extra in ({"Upload-Length": "50"}, {}):  # another length; ?1 ending before the length
        response = patch(server, user, path, b"y" * 10, 10, complete=True, **extra)
        assert_problem(response, "inconsistent_length")
    assert state(server, user, path) == (10, b"x" * 10)


BAD_DIGESTS = {
    "not a dictionary": "sha-256",
    "not bytes": "sha-256=1",
    "bad base64": "sha-256=:!!!!:",
    "wrong length": "sha-256=:" + base64.b64encode(b"x").decode() + ":",
    "many members": ", ".join([sha256_member(b"y" * 100)] * 17),
    "giant": "sha-256=:" + "A" * 8000 + ":",
}


@pytest.mark.parametrize("case", sorted(BAD_DIGESTS))
def test_malformed_content_digest(server: Server, user: dict[str, str], case: str) -> None:
    data = os.urandom(100)
    path = create(server, user, data, 200)
    response = patch(server, user, path, b"y" * 100, 100, **{"Content-Digest": BAD_DIGESTS[case]})
    assert_problem(response, "invalid_digest", "digest_mismatch")
    assert state(server, user, path) == (100, data)


def test_an_unknown_digest_algorithm_is_ignored(server: Server, user: dict[str, str]) -> None:
    """RFC 9530 section 2: a recipient may ignore digests of algorithms it does not know."""
    path = create(server, user, b"x" * 100, 300)
    response = patch(server, user, path, b"y" * 100, 100, **{"Content-Digest": "sha-999=:AAAA:"})
    assert response.status_code == 204, response.text
    assert state(server, user, path) == (200, b"x" * 100 + b"y" * 100)


def test_a_digest_mismatch_keeps_nothing(server: Server, user: dict[str, str]) -> None:
    data = os.urandom(100)
    body = os.urandom(2 * CHECKPOINT + 100)  # past check-points: all or nothing all the same
    path = create(server, user, data, len(data) + len(body))
    wrong = {"Content-Digest": sha256_member(b"other")}
    assert_problem(patch(server, user, path, body, 100, **wrong), "digest_mismatch")
    assert state(server, user, path) == (100, data)
    right = {"Content-Digest": sha256_member(body)}
    assert patch(server, user, path, body, 100, complete=True, **right).status_code == 200
    assert server.live.stored_bytes(upload_id(path)) == data + body


def test_repeated_digest_headers_are_refused(server: Server, user: dict[str, str]) -> None:
    """90 ``Content-Digest`` lines (gunicorn joins them): refused before the body is hashed."""
    data = os.urandom(100)
    path = create(server, user, data, 200)
    member = sha256_member(b"y" * 100)
    lines = [f"Content-Digest: {', '.join([member] * 30)}".encode() for _ in range(90)]
    headers = {**user, **V8, "Content-Type": PARTIAL, "Upload-Offset": "100"}
    headers["Upload-Complete"] = "?0"
    client = connect(server)
    with client:
        client.sendall(request_head("PATCH", path, headers, 100, lines))
        with contextlib.suppress(OSError):
            client.sendall(b"y" * 100)
        answer = read_response(client)
    if not from_gunicorn(answer):
        assert_problem(answer, "invalid_digest")
    assert state(server, user, path) == (100, data)


@pytest.mark.parametrize(
    "extra",
    [
        {"X-Giant": "a" * 9000},  # over gunicorn's 8190-byte header line
        {f"X-Many-{i}": "1" for i in range(120)},  # over gunicorn's 100 header fields
        {"Upload-Length": "1" * 8100},
        {"Content-Type": PARTIAL + "; " + "p=1; " * 1000},
    ],
    ids=["long line", "many fields", "long length", "long content type"],
)
def test_giant_headers_are_a_4xx(server: Server, user: dict[str, str], extra: Any) -> None:
    data = os.urandom(100)
    path = create(server, user, data, 200)
    headers = {**user, **V8, "Content-Type": PARTIAL, "Upload-Offset": "100"}
    headers.update({"Upload-Complete": "?0", **extra})
    answer = raw(server, "PATCH", path, headers, b"y" * 100)
    assert 400 <= answer.status < 500 or answer.status == 200, answer.status
    if answer.status == 200:  # the headers were fine: the upload took its last bytes
        assert server.live.stored_bytes(upload_id(path)) == data + b"y" * 100
        return
    if not from_gunicorn(answer):
        assert_problem(answer)
    assert state(server, user, path) == (100, data)


# -- lying lengths and odd bodies -----------------------------------------------------------------


def test_a_content_length_shorter_than_the_body(server: Server, user: dict[str, str]) -> None:
    path = create(server, user, b"x" * 100, 200)
    headers = {**user, **V8, "Content-Type": PARTIAL, "Upload-Offset": "100"}
    headers["Upload-Complete"] = "?0"
    client = connect(server)
    with client:
        client.sendall(request_head("PATCH", path, headers, 10) + b"y" * 10 + b"Z" * 90)
        answer = read_response(client)
    assert answer.status == 204 and answer.headers["upload-offset"] == "110"
    assert state(server, user, path) == (110, b"x" * 100 + b"y" * 10)


def test_a_content_length_longer_than_the_body(server: Server, user: dict[str, str]) -> None:
    path = create(server, user, b"x" * 100, 200)
    headers = {**user, **V8, "Content-Type": PARTIAL, "Upload-Offset": "100"}
    headers["Upload-Complete"] = "?1"
    client = connect(server)
    with client:
        client.sendall(request_head("PATCH", path, headers, 100) + b"y" * 10)
        client.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError, IndexError, ValueError):
            answer = read_response(client)
            assert answer.status < 500, answer.status
    offset = settled(server, user, path)
    assert offset in (100, 110)
    assert state(server, user, path) == (offset, (b"x" * 100 + b"y" * 10)[:offset])
    rest = (b"x" * 100 + b"y" * 100)[offset:]
    assert patch(server, user, path, rest, offset, complete=True).status_code == 200
    assert server.live.stored_bytes(upload_id(path)) == b"x" * 100 + b"y" * 100


def chunked(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n"


@pytest.mark.parametrize("method", ["PATCH", "POST"])
def test_a_chunked_body_is_refused(server: Server, user: dict[str, str], method: str) -> None:
    path = create(server, user, b"x" * 100, 200)
    headers = {**user, **V8, "Content-Type": PARTIAL, "Transfer-Encoding": "chunked"}
    headers["Upload-Complete"] = "?0"
    if method == "PATCH":
        headers["Upload-Offset"] = "100"
    client = connect(server)
    with client:
        url = path if method == "PATCH" else LIST
        client.sendall(request_head(method, url, headers, None) + chunked(b"y" * 100))
        answer = read_response(client)
    assert_problem(answer, "invalid_header")
    assert state(server, user, path) == (100, b"x" * 100)
    listed = httpx.get(server.url + "/api/uploads/", headers=user).json()
    assert listed["count"] == 1


def test_a_body_on_head_and_delete(server: Server, user: dict[str, str]) -> None:
    path = create(server, user, b"x" * 100, 200)
    headers = {**user, **V8}
    client = connect(server)
    with client:
        client.sendall(request_head("HEAD", path, headers, 5) + b"HELLO")
        first = read_response(client, head=True)
        assert first.status == 204 and first.headers["upload-offset"] == "100"
        if first.headers.get("connection", "").lower() == "close":
            client.close()
            client = connect(server)
        client.sendall(request_head("DELETE", path, headers, 5) + b"HELLO")
        assert read_response(client).status == 204
    assert head(server, user, path).status_code == 404


# -- disconnects and stalls -----------------------------------------------------------------------


def test_disconnect_mid_patch_keeps_the_check_points(server: Server, user: dict[str, str]) -> None:
    source = os.urandom(3 * CHUNK)
    path = create(server, user, source[:CHUNK], len(source))
    headers = {**user, **V8, "Content-Type": PARTIAL, "Upload-Offset": str(CHUNK)}
    headers["Upload-Complete"] = "?1"
    client = connect(server)
    client.sendall(request_head("PATCH", path, headers, 2 * CHUNK) + source[CHUNK : 5 * CHUNK // 2])
    time.sleep(0.5)  # let the server read what was sent before the connection goes
    client.close()
    offset = settled(server, user, path)
    assert 2 * CHUNK <= offset <= 5 * CHUNK // 2
    assert state(server, user, path) == (offset, source[:offset])
    response = patch(server, user, path, source[offset:], offset, complete=True)
    assert response.status_code == 200, response.text
    assert server.live.stored_bytes(upload_id(path)) == source
    assert head(server, user, path).headers["Repr-Digest"] == md5_repr(source)


def test_a_disconnected_creation_is_resumable(server: Server, user: dict[str, str]) -> None:
    """A whole file in one ``POST``, cut after 1.5 MiB: the 104 named the upload, which keeps
    its check-point and is finished from there."""
    source = os.urandom(2 * CHUNK)
    headers = {**user, **V8, "Upload-Complete": "?1"}
    client = connect(server)
    client.sendall(request_head("POST", LIST, headers, len(source)) + source[: 3 * CHUNK // 2])
    interim = b""
    while b"\r\n\r\n" not in interim:
        interim += client.recv(4096)
    time.sleep(0.5)
    client.close()
    assert interim.startswith(b"HTTP/1.1 104")
    location = next(
        line.split(b":", 1)[1].strip().decode()
        for line in interim.split(b"\r\n")
        if line.lower().startswith(b"location:")
    )
    path = path_of(location)
    offset = settled(server, user, path)
    assert offset == CHUNK
    assert state(server, user, path) == (offset, source[:offset])
    assert patch(server, user, path, source[offset:], offset, complete=True).status_code == 200
    assert head(server, user, path).headers["Repr-Digest"] == md5_repr(source)


def test_a_new_patch_ends_a_stalled_one(server: Server, user: dict[str, str]) -> None:
    """A ``PATCH`` that sends 1.5 MiB of 2 and goes silent keeps its check-point; a retry from
    the offset at ``HEAD`` takes over at once (no lease to wait for) and finishes the upload; the
    stalled client waking up is refused and changes nothing."""
    source, stale = os.urandom(2 * CHUNK), os.urandom(2 * CHUNK)
    path = create(server, user, b"", len(source))
    headers = {**user, **V8, "Content-Type": PARTIAL, "Upload-Offset": "0"}
    headers["Upload-Complete"] = "?1"
    stalled = connect(server)
    stalled.sendall(request_head("PATCH", path, headers, len(stale)) + stale[: 3 * CHUNK // 2])
    began = time.monotonic()
    while (offset := int(head(server, user, path).headers["Upload-Offset"])) == 0:
        assert time.monotonic() - began < 10, "no check-point"
        time.sleep(0.1)  # the stalled request writing its first block
    assert offset == CHUNK
    response = patch(server, user, path, source[offset:], offset, complete=True)
    assert response.status_code == 200, response.text
    assert time.monotonic() - began < 10
    stalled.settimeout(30)
    with contextlib.suppress(OSError):
        stalled.sendall(stale[3 * CHUNK // 2 :])  # the stalled client wakes up
    with contextlib.suppress(OSError, IndexError, ValueError):
        answer = read_response(stalled)
        assert_problem(answer, "upload_busy", "upload_complete", "offset_mismatch")
    stalled.close()
    expected = stale[:offset] + source[offset:]
    assert server.live.stored_bytes(upload_id(path)) == expected
    assert head(server, user, path).headers["Repr-Digest"] == md5_repr(expected)


def test_a_stalled_patch_ends_with_408_under_socket_reads(socket_reads_server: Server) -> None:
    """With the optional socket reads, an append that sends 1.5 MiB of 2 and goes silent ends
    with a ``408`` problem after twice the lease; what it acknowledged stays, and the upload
    completes from there with the whole file's digest."""
    server = socket_reads_server
    user = server.new_user()
    source = os.urandom(2 * CHUNK)
    path = create(server, user, b"", len(source))
    headers = {
        **user,
        **V8,
        "Content-Type": PARTIAL,
        "Upload-Offset": "0",
        "Upload-Complete": "?1",
    }
    stalled = connect(server)
    stalled.sendall(request_head("PATCH", path, headers, len(source)) + source[: 3 * CHUNK // 2])
    began = time.monotonic()
    answer = read_response(stalled)  # blocks until the server gives up on the body
    waited = time.monotonic() - began
    stalled.close()
    assert answer.status == 408
    assert_problem(answer, "body_read_timeout")
    assert 2 * LEASE - 0.5 < waited < 2 * LEASE + 10
    offset, stored = state(server, user, path)  # a check-point, or all that was read
    assert CHECKPOINT <= offset <= 3 * CHUNK // 2 and stored == source[:offset]
    done = patch(server, user, path, source[offset:], offset, complete=True)
    assert done.status_code == 200, done.text
    assert done.headers["Repr-Digest"] == md5_repr(source)


# -- per-user limits ------------------------------------------------------------------------------


def test_unfinished_uploads_are_limited(server: Server, user: dict[str, str]) -> None:
    for _ in range(MAX_UNFINISHED):
        create(server, user, b"x", 100)
    response = httpx.post(
        server.url + LIST, headers={**user, **V8, "Upload-Complete": "?0"}, content=b"x"
    )
    assert_problem(response, "too_many_unfinished_uploads")
    assert response.status_code == 403


def test_an_upload_without_a_length_grows_within_the_quota(
    server: Server, user: dict[str, str]
) -> None:
    """Beside an upload declaring all but 1.5 MiB of the quota, one without ``Upload-Length``
    takes 1 MiB, then is refused the next MiB (and a length past the quota), keeping what it
    has; its first request alone is refused past the quota too."""
    create(server, user, b"", MAX_UNFINISHED_BYTES - 3 * CHUNK // 2)
    big = httpx.post(
        server.url + LIST,
        headers={**user, **V8, "Upload-Complete": "?0"},
        content=os.urandom(2 * CHUNK),
    )
    assert_problem(big, "unfinished_bytes_quota_exceeded")
    first = os.urandom(CHUNK)
    path = create(server, user, first)
    response = patch(server, user, path, os.urandom(CHUNK), CHUNK)
    assert_problem(response, "unfinished_bytes_quota_exceeded")
    assert response.status_code == 403
    declared = patch(server, user, path, b"z", CHUNK, **{"Upload-Length": str(2 * CHUNK)})
    assert_problem(declared, "unfinished_bytes_quota_exceeded")
    assert state(server, user, path) == (CHUNK, first)
    last = patch(server, user, path, b"z" * 10, CHUNK, complete=True)
    assert last.status_code == 200, last.text
    assert server.live.stored_bytes(upload_id(path)) == first + b"z" * 10


# -- browsers: CORS and sessions ------------------------------------------------------------------


def test_a_preflight_from_a_foreign_origin_is_not_allowed(server: Server) -> None:
    for origin, allowed in (("http://evil.test", False), (CORS_ORIGIN, True)):
        headers = {
            "Origin": origin,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "upload-offset,upload-complete,content-type",
        }
        response = httpx.options(f"{server.url}{LIST}{NO_UPLOAD}/", headers=headers)
        assert response.status_code < 500
        assert ("access-control-allow-origin" in response.headers) == allowed, origin


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_a_session_without_csrf_is_403(server: Server, method: str) -> None:
    demo = {"Authorization": f"Token {server.live.token}"}
    path = create(server, demo, b"x" * 100, 200)
    client, _ = session(server)
    headers = {**V8, "Content-Type": PARTIAL, "Upload-Offset": "100", "Upload-Complete": "?0"}
    response = client.request(method, path, headers=headers, content=b"y" * 100)
    client.close()
    assert_problem(response)
    assert response.status_code == 403
    assert state(server, demo, path) == (100, b"x" * 100)
    httpx.delete(server.url + path, headers={**demo, **V8})  # demo's quota is shared


def test_a_session_with_csrf_appends(server: Server) -> None:
    demo = {"Authorization": f"Token {server.live.token}"}
    path = create(server, demo, b"x" * 100, 200)
    client, csrf = session(server)
    headers = {**V8, "Content-Type": PARTIAL, "Upload-Offset": "100", "Upload-Complete": "?1"}
    headers.update({"X-CSRFToken": csrf, "Referer": server.url + "/"})
    response = client.patch(path, headers=headers, content=b"y" * 100)
    client.close()
    assert response.status_code == 200, response.text
    assert server.live.stored_bytes(upload_id(path)) == b"x" * 100 + b"y" * 100
