"""Hostile and broken tus clients, against the example project under a real gunicorn.

The server and its fixtures are ``hostile_server.py``'s: every test runs under two sync workers and
under one gthread worker with four threads; each test takes a fresh user. Attacks: other users'
ids on every verb (``X-HTTP-Method-Override`` and ``Upload-Concat: final`` too), tricky ids and odd
overrides, malformed, giant and repeated tus headers, lying ``Content-Length``, chunked bodies,
bodies on ``HEAD`` and ``DELETE``, a client that disconnects or stalls mid-``PATCH``, the per-user
quotas (a deferred-length upload too), a preflight from a foreign origin and a session without its
CSRF token. Every refusal is a 4xx in tus's format (``Tus-Resumable`` and a JSON ``detail`` and
``code``, ``protocols/tus/errors.py``) whenever the app answers, and acknowledged bytes stay
acknowledged and correct.
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

LIST = "/api/tus/"
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/offset+octet-stream"
NO_UPLOAD = "00000000-0000-0000-0000-000000000000"


# -- helpers ------------------------------------------------------------------------------------


def create(
    server: Server, user: dict[str, str], length: int | None, body: bytes = b"", **extra: str
) -> str:
    """A new upload's path (``Upload-Length: length``, deferred when ``None``), ``body`` in it."""
    headers = {**user, **TUS, **extra}
    if length is None:
        headers["Upload-Defer-Length"] = "1"
    else:
        headers["Upload-Length"] = str(length)
    if body:
        headers["Content-Type"] = OCTETS
    response = httpx.post(server.url + LIST, headers=headers, content=body, timeout=30)
    assert response.status_code == 201, response.text
    return path_of(response.headers["Location"])


def patch(
    server: Server, user: dict[str, str], path: str, data: bytes, offset: int, **extra: str
) -> httpx.Response:
    headers = {**user, **TUS, "Content-Type": OCTETS, "Upload-Offset": str(offset), **extra}
    return httpx.patch(server.url + path, headers=headers, content=data, timeout=30)


def head(server: Server, user: dict[str, str], path: str) -> httpx.Response:
    return httpx.head(server.url + path, headers={**user, **TUS})


def state(server: Server, user: dict[str, str], path: str) -> tuple[int, bytes]:
    """The upload's offset at ``HEAD`` and the bytes stored up to it."""
    response = head(server, user, path)
    assert response.status_code == 200, response.status_code
    offset = int(response.headers["Upload-Offset"])
    return offset, server.live.stored_bytes(upload_id(path))[:offset]


def settled(server: Server, user: dict[str, str], path: str) -> int:
    """The offset once no request holds the upload any more (an empty ``PATCH`` gets its lease)."""
    deadline = time.monotonic() + 5 * LEASE
    while True:
        offset = int(head(server, user, path).headers["Upload-Offset"])
        probe = patch(server, user, path, b"", offset)
        if probe.status_code != 423:
            assert probe.status_code in (204, 409), probe.text
            return int(head(server, user, path).headers["Upload-Offset"])
        assert time.monotonic() < deadline, "the upload stayed busy"
        time.sleep(0.2)  # a real server's lease runs on the real clock


def assert_tus_4xx(response: httpx.Response | Answer, *codes: str) -> dict[str, Any]:
    """A refusal in tus's format: a 4xx with ``Tus-Resumable`` and ``{"detail", "code"}``."""
    status = response.status_code if isinstance(response, httpx.Response) else response.status
    assert 400 <= status < 500, (status, response.text if hasattr(response, "text") else "")
    assert response.headers["tus-resumable"] == "1.0.0"
    body: dict[str, Any] = response.json()
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
def test_other_users_upload_is_404_on_every_verb(server: Server, verb: str) -> None:
    alice, mallory = server.new_user(), server.new_user()
    data = os.urandom(1000)
    path = create(server, alice, 2000, data)
    method, extra = OTHER_USER_VERBS[verb]
    headers = {**mallory, **TUS, "Content-Type": OCTETS, "Upload-Offset": "1000", **extra}
    response = httpx.request(method, server.url + path, headers=headers, content=b"x" * 1000)
    assert response.status_code == 404
    if method != "HEAD":
        assert_tus_4xx(response, "not_found")
    assert state(server, alice, path) == (1000, data)


def test_a_final_upload_of_another_users_partials_is_404(server: Server) -> None:
    alice, mallory = server.new_user(), server.new_user()
    data = os.urandom(1000)
    theirs = create(server, alice, 1000, data, **{"Upload-Concat": "partial"})
    mine = create(server, mallory, 10, b"m" * 10, **{"Upload-Concat": "partial"})
    for urls in ([theirs], [mine, theirs], [server.url + theirs]):
        concat = {"Upload-Concat": "final;" + " ".join(urls)}
        response = httpx.post(server.url + LIST, headers={**mallory, **TUS, **concat})
        assert_tus_4xx(response, "partial_upload_not_found")
        assert response.status_code == 404
    assert state(server, alice, theirs) == (1000, data)
    assert head(server, alice, theirs).headers["Upload-Concat"] == "partial"
    assert state(server, mallory, mine) == (10, b"m" * 10)  # and the attacker's own is kept


# -- tricky ids and overrides --------------------------------------------------------------------

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
        headers = {**user, **TUS, "Content-Type": OCTETS, "Upload-Offset": "0"}
        response = httpx.request(method, f"{server.url}{LIST}{upload}/", headers=headers)
        assert response.status_code in (400, 404, 405), (method, response.status_code)


@pytest.mark.parametrize("override", ["GET", "TRACE", "HEAD", "OPTIONS", "PATCH, DELETE", "", "X"])
def test_odd_overrides_are_not_obeyed(server: Server, user: dict[str, str], override: str) -> None:
    """A ``POST`` overridden to anything but ``PATCH``/``DELETE`` stays a ``POST`` (405 on an
    upload's URL); the upload is neither changed nor deleted."""
    data = os.urandom(100)
    path = create(server, user, 200, data)
    headers = {**user, **TUS, "X-HTTP-Method-Override": override, "Upload-Offset": "100"}
    headers["Content-Type"] = OCTETS
    response = httpx.post(server.url + path, headers=headers, content=b"y" * 100)
    assert_tus_4xx(response)
    assert response.status_code == 405
    assert state(server, user, path) == (100, data)


def test_a_lowercase_override_is_the_method(server: Server, user: dict[str, str]) -> None:
    path = create(server, user, 200, b"x" * 100)
    extra = {"X-HTTP-Method-Override": "patch"}
    headers = {**user, **TUS, "Content-Type": OCTETS, "Upload-Offset": "100", **extra}
    response = httpx.post(server.url + path, headers=headers, content=b"y" * 100)
    assert response.status_code == 204, response.text
    assert state(server, user, path) == (200, b"x" * 100 + b"y" * 100)


def test_an_override_on_a_patch_is_ignored(server: Server, user: dict[str, str]) -> None:
    """Only a ``POST`` is overridden: a ``PATCH`` saying ``DELETE`` appends and deletes nothing."""
    path = create(server, user, 200, b"x" * 100)
    response = patch(server, user, path, b"y" * 100, 100, **{"X-HTTP-Method-Override": "DELETE"})
    assert response.status_code == 204, response.text
    assert state(server, user, path) == (200, b"x" * 100 + b"y" * 100)


# -- malformed, giant and repeated headers --------------------------------------------------------

BAD_OFFSETS = [
    "-1",
    "+1",
    "1e3",
    "1 0",
    "0x10",
    "1.0",
    "",
    "9" * 19,  # within the digits, past any length
    "9" * 40,
    "\u0661",  # an Arabic-Indic digit one, which int() would take
]


@pytest.mark.parametrize("value", BAD_OFFSETS)
def test_malformed_upload_offset(server: Server, user: dict[str, str], value: str) -> None:
    data = os.urandom(100)
    path = create(server, user, 200, data)
    headers = {**user, **TUS, "Content-Type": OCTETS, "Upload-Offset": value}
    client = connect(server)
    with client:
        head_bytes = request_head("PATCH", path, {}, 100).replace(b"\r\n\r\n", b"\r\n")
        lines = "".join(f"{name}: {v}\r\n" for name, v in headers.items())
        client.sendall(head_bytes + lines.encode("utf-8") + b"\r\n" + b"z" * 100)
        answer = read_response(client)
    if answer.status == 400 and "tus-resumable" not in answer.headers:
        pass  # gunicorn refused the header itself
    else:
        assert_tus_4xx(answer, "invalid_header", "offset_mismatch", "exceeds_upload_length")
    assert state(server, user, path) == (100, data)


BAD_LENGTHS = {
    "negative": {"Upload-Length": "-1"},
    "plus": {"Upload-Length": "+5"},
    "exponent": {"Upload-Length": "1e3"},
    "empty": {"Upload-Length": ""},
    "forty digits": {"Upload-Length": "9" * 40},
    "over the limit": {"Upload-Length": str(2**62)},
    "both": {"Upload-Length": "5", "Upload-Defer-Length": "1"},
    "defer 0": {"Upload-Defer-Length": "0"},
    "defer 2": {"Upload-Defer-Length": "2"},
    "neither": {},
}


@pytest.mark.parametrize("case", sorted(BAD_LENGTHS))
def test_malformed_upload_length(server: Server, user: dict[str, str], case: str) -> None:
    headers = {**user, **TUS, **BAD_LENGTHS[case]}
    response = httpx.post(server.url + LIST, headers=headers)
    assert_tus_4xx(response, "invalid_header", "size_limit_exceeded")
    assert "location" not in response.headers


def test_a_length_declared_later_must_be_an_integer(server: Server, user: dict[str, str]) -> None:
    path = create(server, user, None, b"x" * 10)
    for value in ("-1", "1e3", "9" * 40, "5"):  # 5: less than what it holds
        response = patch(server, user, path, b"y", 10, **{"Upload-Length": value})
        assert_tus_4xx(response)
    assert state(server, user, path) == (10, b"x" * 10)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


BAD_METADATA = {
    "bad base64": "filename !!!",
    "duplicate key": f"filename {b64(b'a')},filename {b64(b'b')}",
    "space in key": "file name YQ==",
    "two values": "filename YQ== Yg==",
    "empty item": f"filename {b64(b'a')},,",
    "non-ascii key": "f\u00eflename YQ==",
}


@pytest.mark.parametrize("case", sorted(BAD_METADATA))
def test_malformed_metadata(server: Server, user: dict[str, str], case: str) -> None:
    headers = {**user, **TUS, "Upload-Length": "10"}
    client = connect(server)
    with client:
        line = b"Upload-Metadata: " + BAD_METADATA[case].encode("latin-1")
        client.sendall(request_head("POST", LIST, headers, 0, [line]))
        answer = read_response(client)
    assert_tus_4xx(answer, "invalid_header")


def test_repeated_metadata_headers_with_one_key(server: Server, user: dict[str, str]) -> None:
    """Two ``Upload-Metadata`` lines naming one key (gunicorn joins them): refused."""
    lines = [f"Upload-Metadata: filename {b64(name)}".encode() for name in (b"a", b"b")]
    head_bytes = request_head("POST", LIST, {**user, **TUS, "Upload-Length": "10"}, 0, lines)
    client = connect(server)
    with client:
        client.sendall(head_bytes)
        answer = read_response(client)
    assert_tus_4xx(answer, "invalid_header")


def test_thousands_of_metadata_pairs(server: Server, user: dict[str, str]) -> None:
    metadata = ",".join(f"k{i} {b64(b'v')}" for i in range(700))  # 7 KiB: one header line
    headers = {**user, **TUS, "Upload-Length": "10", "Upload-Metadata": metadata}
    response = httpx.post(server.url + LIST, headers=headers)
    if response.status_code == 201:
        path = path_of(response.headers["Location"])
        assert head(server, user, path).headers["Upload-Metadata"] == metadata
    else:
        assert_tus_4xx(response, "invalid_header")


def test_a_giant_metadata_block_is_refused(server: Server, user: dict[str, str]) -> None:
    """90 ``Upload-Metadata`` lines of 8 KB, distinct keys: 720 KB the upload's every ``HEAD``
    would answer with (a header block most clients and proxies refuse)."""
    value = b64(b"v" * 4)
    lines = [
        f"Upload-Metadata: {','.join(f'k{line}x{i} {value}' for i in range(500))}".encode()
        for line in range(90)
    ]
    head_bytes = request_head("POST", LIST, {**user, **TUS, "Upload-Length": "10"}, 0, lines)
    client = connect(server)
    with client:
        client.sendall(head_bytes)
        answer = read_response(client)
    assert answer.status in (400, 431)  # gunicorn bounds the header block
    if "tus-resumable" in answer.headers:
        assert_tus_4xx(answer, "invalid_header")


BAD_CHECKSUMS = {
    "unknown algorithm": "crc99 AAAA",
    "bad base64": "sha1 !!!!",
    "no digest": "sha1",
    "wrong length": "sha1 " + b64(b"x"),
    "giant": "sha1 " + "A" * 8000,
    "two": f"sha1 {b64(hashlib.sha1(b'y' * 100).digest())}, md5 AAAA",
}


@pytest.mark.parametrize("case", sorted(BAD_CHECKSUMS))
def test_malformed_upload_checksum(server: Server, user: dict[str, str], case: str) -> None:
    data = os.urandom(100)
    path = create(server, user, 200, data)
    response = patch(
        server, user, path, b"y" * 100, 100, **{"Upload-Checksum": BAD_CHECKSUMS[case]}
    )
    assert_tus_4xx(response, "invalid_checksum", "checksum_mismatch")
    assert state(server, user, path) == (100, data)


def test_a_checksum_mismatch_is_460_and_keeps_nothing(server: Server, user: dict[str, str]) -> None:
    data = os.urandom(100)
    path = create(server, user, 200 + 2 * CHECKPOINT, data)
    body = os.urandom(2 * CHECKPOINT + 100)  # past check-points: all or nothing all the same
    wrong = {"Upload-Checksum": "sha1 " + b64(hashlib.sha1(b"other").digest())}
    response = patch(server, user, path, body, 100, **wrong)
    assert_tus_4xx(response, "checksum_mismatch")
    assert response.status_code == 460
    assert state(server, user, path) == (100, data)
    right = {"Upload-Checksum": "sha1 " + b64(hashlib.sha1(body).digest())}
    assert patch(server, user, path, body, 100, **right).status_code == 204
    assert state(server, user, path) == (len(data) + len(body), data + body)


BAD_CONCATS = {
    "empty final": "final;",
    "final and a space": "final; ",
    "partial with urls": "partial;/api/tus/x/",
    "unknown kind": "middle",
    "creation url": "final;/api/tus/",
    "native upload url": f"final;/api/uploads/{NO_UPLOAD}/",
    "foreign host": f"final;http://evil.test/api/tus/{NO_UPLOAD}/",
    "foreign scheme": f"final;ftp://127.0.0.1/api/tus/{NO_UPLOAD}/",
    "query": f"final;/api/tus/{NO_UPLOAD}/?x=1",
    "not an id": "final;/api/tus/not-an-id/",
    "traversal": f"final;/api/tus/../uploads/{NO_UPLOAD}/",
    "two spaces": f"final;/api/tus/{NO_UPLOAD}/  /api/tus/{NO_UPLOAD[:-1]}1/",
    "many urls": "final;" + " ".join(f"/api/tus/{i}/" for i in range(700)),
}


@pytest.mark.parametrize("case", sorted(BAD_CONCATS))
def test_malformed_upload_concat(server: Server, user: dict[str, str], case: str) -> None:
    headers = {**user, **TUS, "Upload-Concat": BAD_CONCATS[case]}
    answer = raw(server, "POST", LIST, headers)
    if answer.status in (400, 431) and "tus-resumable" not in answer.headers:
        return  # gunicorn refused the header line itself (over 8190 bytes)
    assert_tus_4xx(answer, "invalid_header", "partial_upload_not_found")


def test_thousands_of_concat_urls_over_repeated_headers(
    server: Server, user: dict[str, str]
) -> None:
    lines = [
        f"Upload-Concat: final;{' '.join(f'/api/tus/{line}-{i}/' for i in range(40))}".encode()
        for line in range(60)
    ]
    client = connect(server)
    with client:
        client.sendall(request_head("POST", LIST, {**user, **TUS}, 0, lines))
        answer = read_response(client)
    assert_tus_4xx(answer, "invalid_header")


def test_a_final_upload_cannot_be_a_partial(server: Server, user: dict[str, str]) -> None:
    first = create(server, user, 10, b"a" * 10, **{"Upload-Concat": "partial"})
    final = httpx.post(
        server.url + LIST, headers={**user, **TUS, "Upload-Concat": f"final;{first}"}
    )
    assert final.status_code == 201, final.text
    final_path = path_of(final.headers["Location"])
    again = httpx.post(
        server.url + LIST, headers={**user, **TUS, "Upload-Concat": f"final;{final_path}"}
    )
    assert_tus_4xx(again, "concatenation_refused", "partial_upload_not_found")
    assert state(server, user, final_path) == (10, b"a" * 10)
    patched = patch(server, user, final_path, b"b", 10)
    assert_tus_4xx(patched, "final_upload", "upload_complete")


@pytest.mark.parametrize("value", ["", "1.0", "0.2.2", "1.0.0, 1.0.0", "x" * 5000])
def test_a_foreign_tus_version_is_412(server: Server, user: dict[str, str], value: str) -> None:
    path = create(server, user, 200, b"x" * 100)
    headers = {**user, "Tus-Resumable": value, "Content-Type": OCTETS, "Upload-Offset": "100"}
    response = httpx.patch(server.url + path, headers=headers, content=b"y" * 100)
    assert_tus_4xx(response, "unsupported_version")
    assert response.status_code == 412 and response.headers["Tus-Version"] == "1.0.0"
    assert state(server, user, path) == (100, b"x" * 100)


@pytest.mark.parametrize(
    "extra",
    [
        {"X-Giant": "a" * 9000},  # over gunicorn's 8190-byte header line
        {f"X-Many-{i}": "1" for i in range(120)},  # over gunicorn's 100 header fields
        {"Upload-Metadata": "filename " + "A" * 8100},
        {"Content-Type": OCTETS + "; " + "p=1; " * 1000},
    ],
    ids=["long line", "many fields", "long metadata", "long content type"],
)
def test_giant_headers_are_a_4xx(server: Server, user: dict[str, str], extra: Any) -> None:
    data = os.urandom(100)
    path = create(server, user, 200, data)
    headers = {**user, **TUS, "Content-Type": OCTETS, "Upload-Offset": "100", **extra}
    answer = raw(server, "PATCH", path, headers, b"y" * 100)
    assert 400 <= answer.status < 500 or answer.status == 204, answer.status
    if answer.status == 204:
        assert state(server, user, path) == (200, data + b"y" * 100)
    else:
        assert state(server, user, path) == (100, data)


# -- lying lengths and odd bodies -----------------------------------------------------------------


def test_a_content_length_shorter_than_the_body(server: Server, user: dict[str, str]) -> None:
    """What ``Content-Length`` counts is the chunk; the rest is no request of this upload."""
    path = create(server, user, 200, b"x" * 100)
    headers = {**user, **TUS, "Content-Type": OCTETS, "Upload-Offset": "100"}
    client = connect(server)
    with client:
        client.sendall(request_head("PATCH", path, headers, 10) + b"y" * 10 + b"Z" * 90)
        answer = read_response(client)
    assert answer.status == 204 and answer.headers["upload-offset"] == "110"
    assert state(server, user, path) == (110, b"x" * 100 + b"y" * 10)


def test_a_content_length_longer_than_the_body(server: Server, user: dict[str, str]) -> None:
    """The client announces 100 bytes, sends 10 and closes its side: nothing is acknowledged
    that was not sent, and the upload resumes from its offset."""
    path = create(server, user, 200, b"x" * 100)
    headers = {**user, **TUS, "Content-Type": OCTETS, "Upload-Offset": "100"}
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
    assert patch(server, user, path, rest, offset).status_code == 204
    assert state(server, user, path) == (200, b"x" * 100 + b"y" * 100)


def chunked(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n"


@pytest.mark.parametrize("method", ["PATCH", "POST"])
def test_a_chunked_body_is_refused(server: Server, user: dict[str, str], method: str) -> None:
    path = create(server, user, 200, b"x" * 100)
    headers = {**user, **TUS, "Content-Type": OCTETS, "Transfer-Encoding": "chunked"}
    if method == "PATCH":
        headers["Upload-Offset"] = "100"
        url = path
    else:
        headers["Upload-Length"] = "100"
        url = LIST
    client = connect(server)
    with client:
        client.sendall(request_head(method, url, headers, None) + chunked(b"y" * 100))
        answer = read_response(client)
    assert_tus_4xx(answer, "invalid_header")
    assert state(server, user, path) == (100, b"x" * 100)


def test_a_body_on_head_and_delete(server: Server, user: dict[str, str]) -> None:
    """On one keep-alive connection: a ``HEAD`` with a body, then a ``DELETE`` with one, then a
    ``HEAD``; each answered in turn, the bodies taken for nothing."""
    path = create(server, user, 200, b"x" * 100)
    headers = {**user, **TUS}
    client = connect(server)
    with client:
        client.sendall(request_head("HEAD", path, headers, 5) + b"HELLO")
        first = read_response(client, head=True)
        assert first.status == 200 and first.headers["upload-offset"] == "100"
        assert state(server, user, path) == (100, b"x" * 100)
        if first.headers.get("connection", "").lower() == "close":
            client.close()
            client = connect(server)
        client.sendall(request_head("DELETE", path, headers, 5) + b"HELLO")
        assert read_response(client).status == 204
    assert head(server, user, path).status_code == 404


# -- disconnects and stalls -----------------------------------------------------------------------


def test_disconnect_mid_patch_keeps_the_check_points(server: Server, user: dict[str, str]) -> None:
    source = os.urandom(2 * CHUNK)
    path = create(server, user, len(source))
    headers = {**user, **TUS, "Content-Type": OCTETS, "Upload-Offset": "0"}
    client = connect(server)
    client.sendall(request_head("PATCH", path, headers, len(source)) + source[: 3 * CHUNK // 2])
    time.sleep(0.5)  # let the server read what was sent before the connection goes
    client.close()
    offset = settled(server, user, path)
    assert CHECKPOINT <= offset <= 3 * CHUNK // 2
    assert state(server, user, path) == (offset, source[:offset])
    assert patch(server, user, path, source[offset:], offset).status_code == 204
    assert server.live.stored_bytes(upload_id(path)) == source
    assert head(server, user, path).headers["Repr-Digest"] == md5_repr(source)


def test_a_stalled_patch_gives_way_after_the_lease(server: Server, user: dict[str, str]) -> None:
    """A ``PATCH`` that sends 1.5 MiB of 2 and goes silent: its check-point stays; after the
    lease a retry from the offset at ``HEAD`` finishes the upload while the stalled socket is
    still open; the stalled client waking up is refused and changes nothing."""
    source, stale = os.urandom(2 * CHUNK), os.urandom(2 * CHUNK)
    path = create(server, user, len(source))
    headers = {**user, **TUS, "Content-Type": OCTETS, "Upload-Offset": "0"}
    stalled = connect(server)
    stalled.sendall(request_head("PATCH", path, headers, len(stale)) + stale[: 3 * CHUNK // 2])
    began = time.monotonic()
    while True:
        offset = int(head(server, user, path).headers["Upload-Offset"])
        response = patch(server, user, path, source[offset:], offset)
        if response.status_code not in (409, 423):
            break
        assert time.monotonic() - began < 3 * LEASE, "the stalled PATCH held the upload"
        time.sleep(0.2)  # a real client's retry waits too
    assert response.status_code == 204, response.text
    assert offset > 0  # the stalled request's check-point
    assert server.live.stored_bytes(upload_id(path))[offset:] == source[offset:]
    stalled.settimeout(30)
    with contextlib.suppress(OSError):
        stalled.sendall(stale[3 * CHUNK // 2 :])  # the stalled client wakes up
    with contextlib.suppress(OSError, IndexError, ValueError):
        answer = read_response(stalled)
        assert_tus_4xx(answer, "upload_busy", "upload_complete", "offset_mismatch")
    stalled.close()
    expected = stale[:offset] + source[offset:]
    assert server.live.stored_bytes(upload_id(path)) == expected
    assert head(server, user, path).headers["Repr-Digest"] == md5_repr(expected)


def test_a_stalled_patch_ends_with_408_under_socket_reads(socket_reads_server: Server) -> None:
    """With the optional socket reads (only they can set a read timeout), a ``PATCH`` that sends
    1.5 MiB of 2 and goes silent ends with ``408`` in tus's format after twice the lease; what it
    acknowledged stays, and the upload completes from there with the whole file's digest."""
    server = socket_reads_server
    user = server.new_user()
    source = os.urandom(2 * CHUNK)
    path = create(server, user, len(source))
    headers = {**user, **TUS, "Content-Type": OCTETS, "Upload-Offset": "0"}
    stalled = connect(server)
    stalled.sendall(request_head("PATCH", path, headers, len(source)) + source[: 3 * CHUNK // 2])
    began = time.monotonic()
    answer = read_response(stalled)  # blocks until the server gives up on the body
    waited = time.monotonic() - began
    stalled.close()
    assert answer.status == 408
    assert_tus_4xx(answer, "body_read_timeout")
    assert 2 * LEASE - 0.5 < waited < 2 * LEASE + 10
    offset, stored = state(server, user, path)  # a check-point, or all that was read
    assert CHECKPOINT <= offset <= 3 * CHUNK // 2 and stored == source[:offset]
    assert patch(server, user, path, source[offset:], offset).status_code == 204
    assert head(server, user, path).headers["Repr-Digest"] == md5_repr(source)


# -- per-user limits ------------------------------------------------------------------------------


def test_unfinished_uploads_are_limited(server: Server, user: dict[str, str]) -> None:
    for _ in range(MAX_UNFINISHED):
        create(server, user, 100)
    response = httpx.post(server.url + LIST, headers={**user, **TUS, "Upload-Defer-Length": "1"})
    assert_tus_4xx(response, "too_many_unfinished_uploads")
    assert response.status_code == 403


def test_a_deferred_upload_grows_within_the_quota(server: Server, user: dict[str, str]) -> None:
    """Beside an upload declaring all but 1.5 MiB of the quota, a deferred-length upload takes
    1 MiB, then is refused the next MiB (and a length past the quota), keeping what it has."""
    create(server, user, MAX_UNFINISHED_BYTES - 3 * CHUNK // 2)
    first = os.urandom(CHUNK)
    path = create(server, user, None)
    assert patch(server, user, path, first, 0).status_code == 204
    response = patch(server, user, path, os.urandom(CHUNK), CHUNK)
    assert_tus_4xx(response, "unfinished_bytes_quota_exceeded")
    assert response.status_code == 403
    declared = patch(server, user, path, b"z", CHUNK, **{"Upload-Length": str(2 * CHUNK)})
    assert_tus_4xx(declared, "unfinished_bytes_quota_exceeded")
    assert state(server, user, path) == (CHUNK, first)
    last = patch(server, user, path, b"z" * 10, CHUNK, **{"Upload-Length": str(CHUNK + 10)})
    assert last.status_code == 204, last.text
    assert state(server, user, path) == (CHUNK + 10, first + b"z" * 10)


def test_a_deferred_creation_with_upload_counts_its_body(
    server: Server, user: dict[str, str]
) -> None:
    """``creation-with-upload`` of a deferred-length upload: its body's bytes count toward the
    quota from the headers, as a ``PATCH``'s would."""
    create(server, user, MAX_UNFINISHED_BYTES - CHUNK // 2)
    headers = {**user, **TUS, "Upload-Defer-Length": "1", "Content-Type": OCTETS}
    client = connect(server)
    client.settimeout(10)  # the server waiting for the body: the quota was not checked
    with client:
        client.sendall(request_head("POST", LIST, headers, CHUNK))  # and no body at all
        answer = read_response(client)
    assert_tus_4xx(answer, "unfinished_bytes_quota_exceeded")
    assert answer.status == 403


# -- browsers: CORS and sessions ------------------------------------------------------------------


def test_a_preflight_from_a_foreign_origin_is_not_allowed(server: Server) -> None:
    for origin, allowed in (("http://evil.test", False), (CORS_ORIGIN, True)):
        headers = {
            "Origin": origin,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "tus-resumable,upload-offset,content-type",
        }
        response = httpx.options(f"{server.url}{LIST}{NO_UPLOAD}/", headers=headers)
        assert response.status_code < 500
        assert ("access-control-allow-origin" in response.headers) == allowed, origin


@pytest.mark.parametrize("verb", ["PATCH", "DELETE", "POST as PATCH", "POST as DELETE"])
def test_a_session_without_csrf_is_403(server: Server, verb: str) -> None:
    demo = {"Authorization": f"Token {server.live.token}"}
    path = create(server, demo, 200, b"x" * 100)
    client, _ = session(server)
    method, extra = OTHER_USER_VERBS[verb]
    headers = {**TUS, "Content-Type": OCTETS, "Upload-Offset": "100", **extra}
    response = client.request(method, path, headers=headers, content=b"y" * 100)
    client.close()
    assert_tus_4xx(response)
    assert response.status_code == 403
    assert state(server, demo, path) == (100, b"x" * 100)
    httpx.delete(server.url + path, headers={**demo, **TUS})  # demo's quota is shared


def test_a_session_with_csrf_appends(server: Server) -> None:
    demo = {"Authorization": f"Token {server.live.token}"}
    path = create(server, demo, 200, b"x" * 100)
    client, csrf = session(server)
    headers = {**TUS, "Content-Type": OCTETS, "Upload-Offset": "100", "X-CSRFToken": csrf}
    headers["Referer"] = server.url + "/"
    response = client.patch(path, headers=headers, content=b"y" * 100)
    client.close()
    assert response.status_code == 204, response.text
    assert state(server, demo, path) == (200, b"x" * 100 + b"y" * 100)
