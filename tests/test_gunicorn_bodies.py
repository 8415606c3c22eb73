"""Tests of ``bodies.py``: reading a chunk's body from gunicorn's socket, and when not to.

gunicorn's own request parser reads real requests from one end of a socket pair, as its workers
do; the test writes the client's bytes into the other end. What was tried: bodies gunicorn had
partly buffered with the headers, a pipelined request behind the body (it must still parse), a
body gunicorn's reader already started on, a chunked body, a client that stops mid-body, one that
stalls mid-body (a 408 after twice the lease, the socket's timeout put back), a request
whose body Django already read, the setting off, and whole chunk requests (raw and multipart)
through the project's WSGI application and through a keep-alive connection to gunicorn's gthread
worker.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.http.request import RawPostDataException
from django.test import override_settings
from gunicorn.config import Config
from gunicorn.http import wsgi as gunicorn_wsgi
from gunicorn.http.parser import RequestParser
from rest_framework.authtoken.models import Token

from chunked_uploads.bodies.gunicorn import GunicornSocketBody, open_body
from chunked_uploads.exceptions import BodyReadTimeout
from chunked_uploads.models import ChunkedUpload

from .helpers import LIST_URL, stored_bytes
from .servers import live_server


class Connection:
    """A client socket and the request parser of a gunicorn worker on the other end."""

    def __init__(self) -> None:
        self.client, self.server = socket.socketpair()
        self.server.settimeout(5)  # a lost byte fails the test instead of hanging it
        self.parser = RequestParser(Config(), self.server, ("127.0.0.1", 40000))
        self._senders: list[threading.Thread] = []

    def send(self, data: bytes, *, then_close: bool = False) -> None:
        """Send from a thread: a body larger than the socket buffers would block this one."""

        def run() -> None:
            try:
                self.client.sendall(data)
                if then_close:
                    self.client.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the test ended (and closed the server's end) before reading it all

        sender = threading.Thread(target=run, daemon=True)
        sender.start()
        self._senders.append(sender)

    def next_request(self) -> Any:
        return next(self.parser)

    def close(self) -> None:
        self.server.close()
        for sender in self._senders:
            sender.join(timeout=10)
        self.client.close()


@pytest.fixture
def conn() -> Iterator[Connection]:
    connection = Connection()
    yield connection
    connection.close()


def put_request(path: str, body: bytes, headers: str = "") -> bytes:
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: testserver\r\nContent-Length: {len(body)}\r\n{headers}\r\n"
    )
    return head.encode() + body


def read_all(stream: Any, size: int) -> bytes:
    parts = []
    while block := stream.read(size):
        parts.append(block)
    return b"".join(parts)


def test_body_is_read_whole_and_a_pipelined_request_still_parses(conn: Connection) -> None:
    body = os.urandom(3 * 1024 * 1024 + 17)
    second = os.urandom(1000)
    conn.send(put_request("/first", body) + put_request("/second", second))
    request = conn.next_request()
    direct = GunicornSocketBody.attach(request.body, len(body))
    assert direct is not None
    assert read_all(direct, 1024 * 1024) == body
    assert direct.read(10) == b""
    # gunicorn continues with the next request, whose bytes it may have read ahead with ours.
    following = conn.next_request()
    assert following.path == "/second"
    assert following.body.read() == second


def test_bytes_gunicorn_buffered_with_the_headers_come_first(conn: Connection) -> None:
    body = b"0123456789" * 100
    conn.send(put_request("/small", body))  # small enough to arrive in gunicorn's first recv()
    request = conn.next_request()
    direct = GunicornSocketBody.attach(request.body, len(body))
    assert direct is not None
    assert direct.read(7) == b"0123456"
    assert direct.read(-1) == body[7:]


def test_a_pipelined_request_read_ahead_with_the_body_is_given_back(conn: Connection) -> None:
    conn.send(put_request("/first", b"first body") + put_request("/second", b"second body"))
    request = conn.next_request()  # one recv(): headers, body and the next request
    direct = GunicornSocketBody.attach(request.body, len(b"first body"))
    assert direct is not None
    assert direct.read(-1) == b"first body"
    following = conn.next_request()
    assert (following.path, following.body.read()) == ("/second", b"second body")


def test_a_body_gunicorn_already_started_on_is_left_to_gunicorn(conn: Connection) -> None:
    body = os.urandom(200_000)
    conn.send(put_request("/x", body))
    request = conn.next_request()
    start = request.body.read(10)
    assert GunicornSocketBody.attach(request.body, len(body)) is None
    assert start + read_all(request.body, 65536) == body


def test_a_chunked_body_is_left_to_gunicorn(conn: Connection) -> None:
    head = b"PUT /c HTTP/1.1\r\nHost: testserver\r\nTransfer-Encoding: chunked\r\n\r\n"
    conn.send(head + b"5\r\nhello\r\n0\r\n\r\n")
    request = conn.next_request()
    assert GunicornSocketBody.attach(request.body, 5) is None
    assert GunicornSocketBody.attach(request.body, None) is None
    assert request.body.read() == b"hello"


def test_a_client_that_stops_mid_body_gives_a_short_body(conn: Connection) -> None:
    body = os.urandom(100_000)
    head = (
        f"PUT /x HTTP/1.1\r\nHost: testserver\r\nContent-Length: {len(body) + 50}\r\n\r\n".encode()
    )
    conn.send(head + body, then_close=True)
    request = conn.next_request()
    direct = GunicornSocketBody.attach(request.body, len(body) + 50)
    assert direct is not None
    assert read_all(direct, 65536) == body  # the end of the stream, never made-up bytes


@override_settings(DRF_CHUNKED_UPLOAD_LEASE_SECONDS=0.1)
def test_a_client_that_stalls_mid_body_times_out_after_twice_the_lease(
    conn: Connection,
) -> None:
    body = os.urandom(1000)
    head = f"PUT /x HTTP/1.1\r\nHost: testserver\r\nContent-Length: {len(body) + 50}\r\n\r\n"
    conn.send(head.encode() + body)  # and then nothing, the connection still open
    request = conn.next_request()
    direct = GunicornSocketBody.attach(request.body, len(body) + 50)
    assert direct is not None
    assert conn.server.gettimeout() == pytest.approx(0.2)
    assert direct.read(len(body)) == body
    with pytest.raises(BodyReadTimeout) as raised:
        direct.read(50)
    assert raised.value.seconds == pytest.approx(0.2)  # the native edge answers 408
    assert request.body.failed is True  # gunicorn closes the connection
    assert conn.server.gettimeout() == 5  # the socket's own timeout is back


@override_settings(DRF_CHUNKED_UPLOAD_LEASE_SECONDS=0.1)
def test_the_socket_timeout_is_restored_once_the_body_is_read(conn: Connection) -> None:
    body = os.urandom(300_000)  # more than gunicorn reads with the headers
    conn.send(put_request("/x", body))
    request = conn.next_request()
    direct = GunicornSocketBody.attach(request.body, len(body))
    assert direct is not None
    assert conn.server.gettimeout() == pytest.approx(0.2)
    assert read_all(direct, 65536) == body
    assert conn.server.gettimeout() == 5


def test_a_length_that_disagrees_with_gunicorns_is_left_alone(conn: Connection) -> None:
    conn.send(put_request("/x", b"abc"))
    request = conn.next_request()
    assert GunicornSocketBody.attach(request.body, 4) is None
    assert request.body.read() == b"abc"


def test_other_servers_streams_are_left_alone() -> None:
    import io

    assert GunicornSocketBody.attach(io.BytesIO(b"abc"), 3) is None


def django_request(conn: Connection, raw: bytes) -> WSGIRequest:
    """A Django request over a real gunicorn request, as gunicorn's sync worker builds it."""
    conn.send(raw)
    request = conn.next_request()
    _, environ = gunicorn_wsgi.create(
        request, conn.server, ("127.0.0.1", 40000), ("testserver", 80), Config()
    )
    return WSGIRequest(environ)


@override_settings(DRF_CHUNKED_UPLOAD_SOCKET_READS=True)
def test_open_body_takes_over_an_unread_gunicorn_body(conn: Connection) -> None:
    request = django_request(conn, put_request("/x", b"payload"))
    stream = open_body(request, request)
    assert isinstance(stream, GunicornSocketBody)
    assert stream.read(100) == b"payload"
    with pytest.raises(RawPostDataException):
        request.body  # noqa: B018 - the body is gone to the stream, not silently empty


@override_settings(DRF_CHUNKED_UPLOAD_SOCKET_READS=True)
def test_open_body_leaves_a_body_django_started_reading(conn: Connection) -> None:
    request = django_request(conn, put_request("/x", b"payload"))
    assert request.read(3) == b"pay"
    assert open_body(request, request) is request
    assert request.read() == b"load"


def test_open_body_is_off_by_default(conn: Connection) -> None:
    request = django_request(conn, put_request("/x", b"payload"))
    assert open_body(request, request) is request
    assert request.body == b"payload"


@contextmanager
def connections_kept() -> Iterator[None]:
    """Keep the test's database connection open across requests, as Django's test client does
    (``request_finished`` would close it where ``CONN_MAX_AGE`` is 0, e.g. on PostgreSQL)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def multipart(body: bytes) -> tuple[bytes, str]:
    envelope = (
        b'--B0undary\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
    )
    return envelope + body + b"\r\n--B0undary--\r\n", "multipart/form-data; boundary=B0undary"


@pytest.mark.parametrize("socket_reads", [False, True], ids=["wsgi.input", "socket"])
@pytest.mark.parametrize("raw", [True, False], ids=["raw", "multipart"])
def test_chunks_through_the_wsgi_application(
    user: Any,
    conn: Connection,
    raw: bool,
    socket_reads: bool,
    caplog: pytest.LogCaptureFixture,
    settings: Any,
) -> None:
    """Whole chunk requests over gunicorn's parser into the project's WSGI application, through
    ``wsgi.input`` (the default) and with the optional socket reads."""
    from django.core.wsgi import get_wsgi_application

    settings.DRF_CHUNKED_UPLOAD_SOCKET_READS = socket_reads
    caplog.set_level(logging.DEBUG, logger="chunked_uploads.bodies.gunicorn")
    application = get_wsgi_application()
    token = Token.objects.create(user=user).key
    data = os.urandom(2 * 1024 * 1024 + 5)
    half = len(data) // 2
    url = LIST_URL
    for start, end in ((0, half), (half, len(data))):
        chunk = data[start:end]
        body, content_type = (chunk, "application/octet-stream") if raw else multipart(chunk)
        headers = (
            f"Content-Type: {content_type}\r\nAuthorization: Token {token}\r\n"
            f"Content-Range: bytes {start}-{end - 1}/{len(data)}\r\n"
        )
        conn.send(put_request(url, body, headers))
        request = conn.next_request()
        _, environ = gunicorn_wsgi.create(
            request, conn.server, ("127.0.0.1", 40000), ("testserver", 80), Config()
        )
        statuses: list[str] = []
        with connections_kept():
            response = b"".join(
                application(environ, lambda status, _h, out=statuses: out.append(status))
            )
        assert statuses == ["200 OK"], response
        assert request.body.reader.length == 0  # gunicorn's reader knows the body was read
        socket_read = f"Reading the {len(body)}-byte body from gunicorn's socket"
        assert (socket_read in caplog.messages) is socket_reads
        upload = ChunkedUpload.objects.get()
        url = f"{LIST_URL}{upload.pk}/"
    upload = ChunkedUpload.objects.get()
    assert upload.offset == len(data)
    assert stored_bytes(upload) == data


@pytest.mark.slow
def test_keep_alive_connection_to_gunicorn_gthread() -> None:
    """Chunks, completion and a status query on one connection: each request starts where the
    body before it ended."""
    data = os.urandom(3 * 1024 * 1024 + 1)
    third = len(data) // 3
    with live_server(workers=1, worker_class="gthread") as server:
        client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        ports = set()
        url = LIST_URL
        for index, start in enumerate(range(0, len(data), third)):
            end = min(start + third, len(data))
            chunk = data[start:end]
            body, content_type = (chunk, "application/octet-stream")
            if index % 2:
                body, content_type = multipart(chunk)
            client.request("PUT", url, body, {
                **server.headers, "Content-Type": content_type,
                "Content-Range": f"bytes {start}-{end - 1}/{len(data)}",
            })  # fmt: skip
            response = client.getresponse()
            payload = response.read()
            assert response.status == 200, payload
            assert client.sock is not None
            ports.add(client.sock.getsockname()[1])
            url = http.client.urlsplit(__import__("json").loads(payload)["url"]).path
        checksum = f'{{"md5": "{hashlib.md5(data).hexdigest()}"}}'
        client.request(
            "POST", url, checksum, {**server.headers, "Content-Type": "application/json"}
        )
        response = client.getresponse()
        assert response.status == 200, response.read()
        response.read()
        assert len(ports) == 1  # one connection: gunicorn kept it alive between the chunks
