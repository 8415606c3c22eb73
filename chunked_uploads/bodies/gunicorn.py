"""Optional integration: read a chunk's body from gunicorn's socket itself, off by default.

gunicorn's ``wsgi.input`` passes each body byte through several buffers (its unreader's, its
reader's and its body's ``BytesIO``, each written, read back and sliced; docs/benchmarks.md has
what that costs). With ``DRF_CHUNKED_UPLOAD_SOCKET_READS = True``, when the request is served
by gunicorn's sync or gthread worker, has a ``Content-Length`` body and nothing has read it yet,
``open_body()`` takes over gunicorn's connection for the rest of that body: the bytes gunicorn has
already buffered are handed out first, then the socket is read with ``recv()``, one copy per byte.
gunicorn's own bookkeeping (its reader's remaining length and read-ahead buffer) is kept exact, so
a keep-alive connection continues with the next request as if gunicorn had read the body itself.

A client that stops sending must not hold its worker (and its upload) for longer than the lease:
while the body is read from the socket, a ``recv()`` that waits more than twice
``DRF_CHUNKED_UPLOAD_LEASE_SECONDS`` ends the request with ``body_read_timeout`` (408), and the
socket's own timeout is put back once the body is read.

Any other server, a chunked (``Transfer-Encoding``) body, a body something already started reading,
or ``DRF_CHUNKED_UPLOAD_SOCKET_READS = False`` gets the ordinary stream. This module touches only
the request it is given; it never writes to the socket.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from django.http import HttpRequest

from .. import exceptions
from ..conf import conf
from . import Readable, ReplayStream, content_length

logger = logging.getLogger(__name__)

_GUNICORN_BODY = ("gunicorn.http.body", "Body")
_GUNICORN_LENGTH_READER = ("gunicorn.http.body", "LengthReader")


def open_body(stream: Any, django_request: HttpRequest) -> Readable:
    """The fastest faithful stream of the request's body: a ``GunicornSocketBody`` or ``stream``.

    ``stream`` is what DRF hands a parser: the Django request itself while its body is unread.
    """
    if not conf.socket_reads or stream is not django_request or django_request._read_started:
        return stream  # type: ignore[no-any-return]
    length = content_length(django_request.META)
    body = GunicornSocketBody.attach(django_request.META.get("wsgi.input"), length)
    if body is None:
        return stream
    # From here on the body is ours: ``request.body`` raises instead of reading what is left.
    django_request._read_started = True
    logger.debug("Reading the %d-byte body from gunicorn's socket", length)
    return body


def read_timeout() -> float:
    """How long one read of a chunk's body may wait for the client: twice the lease."""
    return 2 * float(conf.lease_seconds)


def _is(obj: object, qualified: tuple[str, str]) -> bool:
    cls = type(obj)
    return (cls.__module__, cls.__name__) == qualified


class GunicornSocketBody(ReplayStream):
    """The rest of a gunicorn request body of known length: what gunicorn had read ahead, then
    straight from its socket."""

    def __init__(self, body: Any, reader: Any, unreader: Any, pending: bytes) -> None:
        super().__init__(pending, self._recv)
        self._body = body
        self._reader = reader  # its ``length`` is what is left on the socket for this body
        self._sock = unreader.sock
        self._timeout = self._sock.gettimeout()
        if reader.length > 0:  # else gunicorn had read the whole body with the headers
            self._sock.settimeout(read_timeout())

    @classmethod
    def attach(cls, body: Any, content_length: int | None) -> GunicornSocketBody | None:
        """Take over ``body`` (a ``gunicorn.http.body.Body``) if it has the expected shape."""
        if content_length is None or not _is(body, _GUNICORN_BODY):
            return None
        reader: Any = getattr(body, "reader", None)
        unreader: Any = getattr(reader, "unreader", None)
        if not _is(reader, _GUNICORN_LENGTH_READER) or not hasattr(unreader, "sock"):
            return None
        body_buffer, read_ahead = getattr(body, "buf", None), getattr(unreader, "buf", None)
        remaining = getattr(reader, "length", None)
        if not isinstance(body_buffer, io.BytesIO) or not isinstance(read_ahead, io.BytesIO):
            return None
        if not isinstance(remaining, int):
            return None
        if body_buffer.getvalue() or remaining != content_length:
            return None  # somebody read part of the body: leave it to them
        # The unreader may hold read-ahead: this body's first bytes, then the next request's.
        ahead = read_ahead.getvalue()
        ours, theirs = ahead[:remaining], ahead[remaining:]
        unreader.buf = io.BytesIO()
        unreader.buf.write(theirs)
        reader.length = remaining - len(ours)
        return cls(body, reader, unreader, ours)

    def _recv(self, size: int) -> bytes:
        """Up to ``size`` bytes from the socket (all that is left when negative); ``b""`` at
        the end of the body."""
        left: int = self._reader.length
        if left <= 0 or size == 0:
            return b""
        if size < 0:
            return self._recv_all(left)
        try:
            data: bytes = self._sock.recv(min(size, left))
        except TimeoutError:
            self._lost()
            raise exceptions.BodyReadTimeout(read_timeout()) from None
        except OSError:
            self._lost()
            raise
        self._reader.length = left - len(data)
        if self._reader.length <= 0 or not data:
            self._sock.settimeout(self._timeout)
        return data

    def _lost(self) -> None:
        self._body.failed = True  # the connection's position is lost: gunicorn closes it
        self._sock.settimeout(self._timeout)

    def _recv_all(self, left: int) -> bytes:
        parts = []
        while left > 0 and (data := self._recv(left)):
            parts.append(data)
            left -= len(data)
        return b"".join(parts)
