"""The ceiling: a bare WSGI app that streams a raw request body to disk and md5s it, nothing else.

No framework, no database, no validation: any Python server under the same gunicorn can at best
match it. ``PUT /<name>`` appends the body to ``$BARE_MEDIA_ROOT/<name>`` in 1 MiB blocks (the
block size of the package's parsers) and answers the body's md5.

With ``BARE_SOCKET_READS=1`` it reads the body the way chunked_uploads does under gunicorn
(``chunked_uploads.bodies.gunicorn.GunicornSocketBody``, straight from the socket): the ceiling for that
reading path, run next to the plain one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from typing import Any

BLOCK_SIZE = 1024 * 1024
MEDIA_ROOT = os.environ.get("BARE_MEDIA_ROOT", "/tmp")
SOCKET_READS = os.environ.get("BARE_SOCKET_READS") == "1"

if SOCKET_READS:
    from chunked_uploads.bodies.gunicorn import GunicornSocketBody


def application(
    environ: dict[str, Any], start_response: Callable[[str, list[tuple[str, str]]], Any]
) -> Iterable[bytes]:
    name = os.path.basename(environ.get("PATH_INFO", "")) or "body"
    remaining = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    if SOCKET_READS:
        stream = GunicornSocketBody.attach(stream, remaining) or stream
    digest = hashlib.md5(usedforsecurity=False)
    with open(os.path.join(MEDIA_ROOT, name), "ab") as file:
        while remaining > 0:
            block = stream.read(min(BLOCK_SIZE, remaining))
            if not block:
                break
            file.write(block)
            digest.update(block)
            remaining -= len(block)
    body = digest.hexdigest().encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
