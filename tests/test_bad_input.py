"""Malformed and hostile requests: each gets a JSON 4xx with ``detail`` and never moves acknowledged bytes.

A table of bad requests (ids, ``Content-Range`` values, bodies, content types, file names, CSRF)
is sent through ``APIClient`` at an upload with 100 kB acknowledged; the offset, the declared size,
the stored bytes and the number of uploads are compared before and after. A hypothesis test then
throws generated headers and bodies at the same endpoints with the same invariants. (The
``Content-Range`` grammar itself is fuzzed in ``test_ranges.py``.)
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from chunked_uploads.models import ChunkedUpload

from .helpers import LIST_URL, md5, put_chunk, stored_bytes
from .servers import LiveServer, live_server

TOTAL = 300_000
ACKED = 100_000
NEXT = f"bytes {ACKED}-{2 * ACKED - 1}/{TOTAL}"
# 199999 in fullwidth digits, which int() would parse
FULLWIDTH_END = "".join(chr(0xFF10 + int(digit)) for digit in str(2 * ACKED - 1))
Send = Callable[[Any, str, bytes], Any]


@dataclass(frozen=True)
class Snapshot:
    """What a refused request must leave alone."""

    offset: int
    size: int | None
    stored: bytes
    uploads: int

    @classmethod
    def take(cls, upload_id: Any) -> Snapshot:
        upload = ChunkedUpload.objects.get(pk=upload_id)
        count = ChunkedUpload.objects.count()
        return cls(upload.offset, upload.size, stored_bytes(upload)[: upload.offset], count)


@pytest.fixture
def started(api: Any, payload: bytes) -> tuple[str, Any]:
    """An upload of ``payload`` with its first 100 kB acknowledged: its URL and id."""
    response = put_chunk(api, LIST_URL, payload[:ACKED], 0, TOTAL)
    assert response.status_code == 200, response.content
    return response.json()["url"], response.json()["id"]


def chunk_with(header: str | None, data: bytes | None = None) -> Send:
    """A multipart PUT of the next 100 kB (or ``data``) with the given ``Content-Range``."""

    def send(client: Any, url: str, payload: bytes) -> Any:
        body = payload[ACKED : 2 * ACKED] if data is None else data
        extra = {} if header is None else {"HTTP_CONTENT_RANGE": header}
        file = SimpleUploadedFile("chunk.bin", body)
        return client.put(url, {"file": file}, format="multipart", **extra)

    return send


def raw(content_type: str, body: bytes, header: str | None = NEXT, **extra: Any) -> Send:
    """A PUT with a hand-made body and content type."""

    def send(client: Any, url: str, payload: bytes) -> Any:
        if header is not None:
            extra["HTTP_CONTENT_RANGE"] = header
        return client.generic("PUT", url, body, content_type=content_type, **extra)

    return send


MULTIPART_NO_BOUNDARY = "multipart/form-data"
BROKEN_MULTIPART = b"--xyz\r\nContent-Disposition: form-data; name=file; filename=a\r\n\r\nabc"

APPEND_CASES: dict[str, Send] = {
    "no Content-Range": chunk_with(None),
    "empty Content-Range": chunk_with(""),
    "negative start": chunk_with(f"bytes -{ACKED}-{2 * ACKED - 1}/{TOTAL}"),
    "negative total": chunk_with(f"bytes {ACKED}-{2 * ACKED - 1}/-{TOTAL}"),
    "huge numbers": chunk_with(f"bytes {ACKED}-{10**30}/{10**31}"),
    "huger than the header limit": chunk_with(f"bytes {ACKED}-{'9' * 200}/{'9' * 201}"),
    "unsatisfied range form": chunk_with(f"bytes */{TOTAL}"),
    "uppercase unit": chunk_with(f"BYTES {ACKED}-{2 * ACKED - 1}/{TOTAL}"),
    "capitalised unit": chunk_with(f"Bytes {ACKED}-{2 * ACKED - 1}/{TOTAL}"),
    "other unit": chunk_with(f"items {ACKED}-{2 * ACKED - 1}/{TOTAL}"),
    "two headers joined": chunk_with(f"{NEXT}, {NEXT}"),
    "trailing space": chunk_with(NEXT + " "),
    "non-ASCII digits": chunk_with(f"bytes {ACKED}-{FULLWIDTH_END}/{TOTAL}"),
    "end past total": chunk_with(f"bytes {ACKED}-{TOTAL}/{TOTAL}"),
    "start after end": chunk_with(f"bytes {2 * ACKED}-{ACKED}/{TOTAL}"),
    "unknown total": chunk_with(f"bytes {ACKED}-{2 * ACKED - 1}/*"),
    "other total": chunk_with(f"bytes {ACKED}-{2 * ACKED - 1}/{TOTAL + 1}"),
    "acknowledged range again": chunk_with(f"bytes 0-{ACKED - 1}/{TOTAL}", b"x" * ACKED),
    "overlapping range": chunk_with(f"bytes {ACKED - 10}-{2 * ACKED - 11}/{TOTAL}"),
    "gap after offset": chunk_with(f"bytes {2 * ACKED}-{TOTAL - 1}/{TOTAL}"),
    "empty chunk": chunk_with(f"bytes {ACKED}-{ACKED}/{TOTAL}", b""),
    "short chunk": chunk_with(NEXT, b"x" * (ACKED - 1)),
    "long chunk": chunk_with(NEXT, b"x" * (ACKED + 1)),
    "raw body shorter than range": raw("application/octet-stream", b"x" * 10),
    "raw empty body": raw("application/octet-stream", b""),
    "JSON body": raw("application/json", b'{"file": "AAAA"}'),
    "form body": raw("application/x-www-form-urlencoded", b"file=AAAA"),
    "text body": raw("text/plain", b"x" * ACKED),
    "no content type": raw("", b"x" * ACKED),
    "multipart without boundary": raw(MULTIPART_NO_BOUNDARY, b"x" * ACKED),
    "truncated multipart": raw("multipart/form-data; boundary=xyz", BROKEN_MULTIPART),
    "form field over DATA_UPLOAD_MAX_MEMORY_SIZE": raw(
        "multipart/form-data; boundary=xyz",
        b'--xyz\r\nContent-Disposition: form-data; name="big"\r\n\r\n'
        + b"a" * 3_000_000
        + b"\r\n--xyz--\r\n",
    ),
    "more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS": raw(
        "multipart/form-data; boundary=xyz",
        b"".join(
            b'--xyz\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nx\r\n' % i
            for i in range(1200)
        )
        + b"--xyz--\r\n",
    ),
    # 101 file parts, the chunk's first: Django alone refuses it, so must the scanner's split.
    "more files than DATA_UPLOAD_MAX_NUMBER_FILES, the chunk included": raw(
        "multipart/form-data; boundary=xyz",
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="c.bin"\r\n\r\n'
        + b"x" * ACKED
        + b"\r\n"
        + b"".join(
            b'--xyz\r\nContent-Disposition: form-data; name="o%d"; filename="o"\r\n\r\nx\r\n' % i
            for i in range(100)
        )
        + b"--xyz--\r\n",
    ),
    "multipart without the file field": raw(
        "multipart/form-data; boundary=xyz",
        b'--xyz\r\nContent-Disposition: form-data; name="other"\r\n\r\nabc\r\n--xyz--\r\n',
    ),
}


def assert_refused(response: Any, before: Snapshot, upload_id: Any, method: str = "PUT") -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.content)
    if method != "HEAD":
        assert response["Content-Type"].startswith("application/json"), response.content
        assert isinstance(response.json()["detail"], str)
    assert Snapshot.take(upload_id) == before


@pytest.mark.parametrize("send", APPEND_CASES.values(), ids=APPEND_CASES.keys())
def test_bad_append(api: Any, started: tuple[str, Any], payload: bytes, send: Send) -> None:
    """Tries each malformed append; fails on a non-JSON or non-4xx answer or any change of state."""
    url, upload_id = started
    before = Snapshot.take(upload_id)
    assert_refused(send(api, url, payload), before, upload_id)
    # The upload still takes its real next chunk afterwards.
    response = put_chunk(api, url, payload[ACKED : 2 * ACKED], ACKED, TOTAL)
    assert response.status_code == 200, response.content


CREATE_CASES: dict[str, Send] = {
    "first chunk not at 0": chunk_with(f"bytes {ACKED}-{2 * ACKED - 1}/{TOTAL}"),
    "zero-byte file": chunk_with("bytes 0-0/0", b""),
    "zero-length range": chunk_with("bytes 0--1/0", b""),
    "no Content-Range": chunk_with(None),
    "JSON body": raw("application/json", b"{}", header=f"bytes 0-1/{TOTAL}"),
    "raw body longer than range": raw("application/octet-stream", b"xyz", header="bytes 0-1/9"),
}


@pytest.mark.parametrize("send", CREATE_CASES.values(), ids=CREATE_CASES.keys())
def test_bad_create(api: Any, started: tuple[str, Any], payload: bytes, send: Send) -> None:
    """Tries each malformed first chunk; fails unless refused without creating an upload."""
    _, upload_id = started
    before = Snapshot.take(upload_id)
    assert_refused(send(api, LIST_URL, payload), before, upload_id)


def test_completion_body_over_django_limit(api: Any, started: tuple[str, Any]) -> None:
    """Tries a 3 MB JSON completion body (over DATA_UPLOAD_MAX_MEMORY_SIZE); fails unless JSON 400."""
    url, upload_id = started
    before = Snapshot.take(upload_id)
    body = b'{"md5": "' + b"a" * 3_000_000 + b'"}'
    assert_refused(api.post(url, body, content_type="application/json"), before, upload_id)


def test_zero_byte_file_through_single_shot(api: Any) -> None:
    """An empty file cannot be expressed as a Content-Range, but the single shot takes it."""
    file = SimpleUploadedFile("empty.bin", b"")
    response = api.post(LIST_URL, {"file": file, "md5": md5(b"")}, format="multipart")
    assert response.status_code == 200, response.content
    assert response.json()["size"] == 0
    assert stored_bytes(ChunkedUpload.objects.get()) == b""


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "POST", "DELETE"])
@pytest.mark.parametrize(
    "upload_id", ["not-a-uuid", "123", "00000000-0000-0000-0000-000000000000", "%00", "x" * 300]
)
def test_bad_or_unknown_id_is_404(
    api: Any, started: tuple[str, Any], payload: bytes, method: str, upload_id: str
) -> None:
    """Tries every verb on ids that are not UUIDs or name no upload; fails unless a JSON 404."""
    _, existing = started
    before = Snapshot.take(existing)
    body = {"file": SimpleUploadedFile("c.bin", payload[ACKED : 2 * ACKED]), "md5": md5(payload)}
    response = api.generic(method, f"{LIST_URL}{upload_id}/", **multipart(api, body), **range_())
    assert response.status_code == 404, response.content
    assert_refused(response, before, existing, method)


def multipart(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    encoded = client._encode_data(body, format="multipart", content_type=None)
    return {"data": encoded[0], "content_type": encoded[1]}


def range_() -> dict[str, str]:
    return {"HTTP_CONTENT_RANGE": NEXT}


HOSTILE_NAMES = {
    "parent path": "../../../etc/passwd",
    "windows path": "..\\..\\boot.ini",
    "absolute path": "/etc/passwd",
    "NUL": "evil\x00.txt",
    "control characters": "a\r\nb\x1b[31m.txt",
    "10 KB long": "n" * 10_000 + ".bin",
    "only dots": "..",
}


@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_hostile_file_name_never_becomes_a_path(
    api: Any, payload: bytes, media_root: Path, name: str
) -> None:
    """Tries hostile multipart file names; fails on a 5xx, a stored name with a path or control
    character, or bytes stored outside the media root under any name but the upload's id."""
    response = put_first_chunk_named(api, name.encode(), payload[:ACKED])
    assert_safe_name_or_refused(response, media_root)


def put_first_chunk_named(api: Any, filename: bytes, data: bytes) -> Any:
    """A first chunk whose multipart file name is sent byte for byte (test clients sanitize)."""
    body = (
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        + data
        + b"\r\n--xyz--\r\n"
    )
    return api.generic(
        "PUT",
        LIST_URL,
        body,
        content_type="multipart/form-data; boundary=xyz",
        HTTP_CONTENT_RANGE=f"bytes 0-{len(data) - 1}/{TOTAL}",
    )


def assert_safe_name_or_refused(response: Any, media_root: Path) -> None:
    assert response.status_code < 500, response.content
    assert response["Content-Type"].startswith("application/json")
    if response.status_code != 200:
        assert isinstance(response.json()["detail"], str)
        assert not ChunkedUpload.objects.exists()
        return
    body = response.json()
    filename = body["filename"]
    assert "/" not in filename and "\\" not in filename
    assert all(char.isprintable() for char in filename)
    assert 0 < len(filename) <= 255
    stored = [path for path in media_root.rglob("*") if path.is_file()]
    assert [path.name for path in stored] == [f"{body['id']}.part"]


def test_non_utf8_multipart_file_name(api: Any, payload: bytes, media_root: Path) -> None:
    """Tries a multipart part whose file name is not UTF-8; fails on a 5xx or an unsafe name."""
    response = put_first_chunk_named(api, b"caf\xe9 \xff\xfe.bin", payload[:ACKED])
    assert_safe_name_or_refused(response, media_root)


@pytest.mark.parametrize(
    "disposition",
    [
        'attachment; filename="caf\xe9 \xff\xfe.bin"',
        "attachment; filename*=UTF-8''%ff%fe%00.bin",
        'attachment; filename="../../x"',
        "attachment; filename=",
        "attachment; filename*=bogus''x",
        "\x00\x01",
    ],
)
def test_odd_content_disposition(
    api: Any, payload: bytes, media_root: Path, disposition: str
) -> None:
    """Tries raw chunks whose Content-Disposition is not UTF-8 or not sane; fails on a 5xx or an
    unsafe stored name."""
    response = api.generic(
        "PUT",
        LIST_URL,
        payload[:ACKED],
        content_type="application/octet-stream",
        HTTP_CONTENT_RANGE=f"bytes 0-{ACKED - 1}/{TOTAL}",
        HTTP_CONTENT_DISPOSITION=disposition,
    )
    assert_safe_name_or_refused(response, media_root)


@pytest.fixture
def session_client(user: Any) -> APIClient:
    """Logged in with a session cookie and no CSRF token: SessionAuthentication enforces CSRF."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_missing_csrf_under_session_auth(
    session_client: Any, started: tuple[str, Any], payload: bytes
) -> None:
    """Tries append, complete and abort with a session cookie but no CSRF token; fails unless
    each is a JSON 403 that leaves the upload as it was."""
    url, upload_id = started
    before = Snapshot.take(upload_id)
    response = chunk_with(NEXT)(session_client, url, payload)
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert_refused(response, before, upload_id)
    assert_refused(session_client.post(url, {"md5": md5(payload)}), before, upload_id)
    assert_refused(session_client.delete(url), before, upload_id)
    assert session_client.get(url).status_code == 200  # reading needs no token


REQUEST_CONTENT_TYPES = st.sampled_from(
    [
        "application/octet-stream",
        "multipart/form-data; boundary=xyz",
        "multipart/form-data",
        "application/json",
        "text/plain",
        "",
    ]
)
RANGE_HEADERS = st.one_of(
    st.text(max_size=40),
    st.builds(
        "bytes {}-{}/{}".format,
        st.integers(-5, 2 * TOTAL),
        st.integers(-5, 2 * TOTAL),
        st.integers(-5, 2 * TOTAL),
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(["PUT", "POST"]),
    content_type=REQUEST_CONTENT_TYPES,
    content_range=RANGE_HEADERS,
    body=st.binary(max_size=2048),
)
def test_generated_requests_never_5xx_nor_change_acknowledged_bytes(
    api: Any, payload: bytes, method: str, content_type: str, content_range: str, body: bytes
) -> None:
    """Tries generated methods, content types, Content-Range values and bodies on an upload.

    Fails on any 5xx or non-JSON error, or if acknowledged bytes change (a request that happens
    to be a valid next chunk may move the offset forward, never rewrite what was acknowledged)."""
    response = put_chunk(api, LIST_URL, payload[:ACKED], 0, TOTAL)
    upload_id = response.json()["id"]
    before = Snapshot.take(upload_id)
    headers = {"HTTP_CONTENT_RANGE": content_range.replace("\n", " ").replace("\r", " ")}
    response = api.generic(method, response.json()["url"], body, content_type, **headers)
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert isinstance(response.json()["detail"], str)
    after = Snapshot.take(upload_id)
    assert after.offset >= before.offset
    assert after.stored[: before.offset] == before.stored
    if response.status_code >= 400:
        assert after == before


LIMIT = 10 * 1024**2
CHUNK_LIMIT = 4 * 1024**2


@pytest.fixture(scope="module")
def limited_server() -> Iterator[LiveServer]:
    limits = {
        "DRF_CHUNKED_UPLOAD_MAX_BYTES": LIMIT,
        "DRF_CHUNKED_UPLOAD_MAX_CHUNK_BYTES": CHUNK_LIMIT,
    }
    with live_server(workers=1, settings=limits) as server:
        yield server


MULTIPART_PART_HEAD = (
    b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\n"
)
HEADER_LIMIT_CASES = {
    "total over MAX_BYTES": ("application/octet-stream", f"bytes 0-9/{LIMIT + 1}", 10, b""),
    "Content-Length unlike the range": ("application/octet-stream", "bytes 0-9/100", 11, b""),
    "chunk over MAX_CHUNK_BYTES": (
        "application/octet-stream",
        f"bytes 0-{CHUNK_LIMIT}/{LIMIT}",
        CHUNK_LIMIT + 1,
        b"",
    ),
    "multipart total over MAX_BYTES": (
        "multipart/form-data; boundary=xyz",
        f"bytes 0-{CHUNK_LIMIT - 1}/{LIMIT + 1}",
        CHUNK_LIMIT + 200,
        MULTIPART_PART_HEAD,
    ),
}


@pytest.mark.parametrize(
    ("content_type", "content_range", "length", "sent"),
    HEADER_LIMIT_CASES.values(),
    ids=HEADER_LIMIT_CASES.keys(),
)
def test_limits_refused_before_the_body(
    limited_server: LiveServer, content_type: str, content_range: str, length: int, sent: bytes
) -> None:
    """Tries chunks that break a limit, sending only the headers (and a multipart part's head).

    Fails unless the real server answers a JSON 400 without waiting for the body's bytes."""
    head = (
        f"PUT /api/uploads/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Token {limited_server.token}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\nContent-Range: {content_range}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", limited_server.port), timeout=15) as client:
        client.sendall(head + sent)
        answer = read_until_closed(client)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"400", answer[:300]
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert isinstance(body["detail"], str)
    assert body["code"] in ("size_limit_exceeded", "chunk_size_mismatch", "chunk_too_large")
    response = httpx.get(limited_server.url + LIST_URL, headers=limited_server.headers)
    assert response.json()["results"] == []


def read_until_closed(client: socket.socket) -> bytes:
    """The whole answer: the server closes the connection (``Connection: close``) after it."""
    parts = []
    while block := client.recv(65536):
        parts.append(block)
    return b"".join(parts)
