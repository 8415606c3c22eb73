"""Optional integration: send an HTTP/1.1 interim (1xx) response on gunicorn's connection.

WSGI has no way to send a 1xx response; the server under it can, on its own socket, before the
final response. With ``DRF_CHUNKED_UPLOAD_INTERIM_RESPONSES = True``, when the request is served by
gunicorn's sync or gthread worker over HTTP/1.1, ``send_interim()`` writes the status line and
headers to gunicorn's client socket and gunicorn's own response follows as usual. The IETF
resumable-upload edge sends ``104 Upload Resumption Supported`` this way, with the new upload's
``Location``, before reading the body.

Anything else (another WSGI server, ASGI, HTTP/1.0, HTTP/2 behind a proxy that does not forward
1xx, or the setting off) sends nothing and says so (``False``): the request is served the same.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

from ..conf import conf

logger = logging.getLogger(__name__)

_GUNICORN_BODY = ("gunicorn.http.body", "Body")


def send_interim(
    request: HttpRequest, status: int, reason: str, headers: Mapping[str, str]
) -> bool:
    """Write ``HTTP/1.1 {status} {reason}`` and ``headers`` to the client; whether it was sent."""
    if conf.interim_responses is not True or request.META.get("SERVER_PROTOCOL") != "HTTP/1.1":
        return False
    if not 100 <= status < 200 or status == 101:
        raise ValueError(f"{status} is not an interim status")
    sock = gunicorn_socket(request.META.get("wsgi.input"))
    if sock is None:
        return False
    lines = [f"HTTP/1.1 {status} {reason}"]
    for name, value in headers.items():
        if any(char in f"{name}{value}" for char in "\r\n\0"):
            raise ValueError(f"the {name} header holds a line break")
        lines.append(f"{name}: {value}")
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    except OSError as exc:  # the client went away: the body read will say so
        logger.debug("Could not send the %d interim response: %s", status, exc)
        return False
    return True


def gunicorn_socket(body: Any) -> Any:
    """The client socket under a ``gunicorn.http.body.Body``, or ``None`` for anything else."""
    cls = type(body)
    if (cls.__module__, cls.__name__) != _GUNICORN_BODY:
        return None
    unreader = getattr(getattr(body, "reader", None), "unreader", None)
    sock = getattr(unreader, "sock", None)
    return sock if hasattr(sock, "sendall") else None
