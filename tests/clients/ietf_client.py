"""A small client of the IETF resumable-upload draft (interop 8, draft -11), written from the
draft over a raw socket so that it sees what higher-level HTTP libraries hide: the interim
``104 Upload Resumption Supported`` responses.

``upload()`` sends a whole file in one creation request (``Upload-Complete: ?1``), as URLSession
does, reading any interim response while the body goes out; ``cut_after`` closes the connection
after that many body bytes (a dropped network). ``resume()`` is the draft's recovery: ``HEAD`` the
URL the 104 named for the offset the server kept, then ``PATCH`` the rest from there with
``Upload-Complete: ?1``, asking again after a ``409`` (the server may still be finishing the cut
request). Standard library only; one connection per request.
"""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

BLOCK = 64 * 1024
PARTIAL_UPLOAD = "application/partial-upload"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    # The interim (1xx) responses that came before it: (status, headers).
    interim: list[tuple[int, dict[str, str]]] = field(default_factory=list)


@dataclass
class Cut:
    """A request whose connection was closed after ``sent`` body bytes."""

    sent: int
    interim: list[tuple[int, dict[str, str]]]


class ResumableClient:
    def __init__(
        self, base_url: str, headers: dict[str, str] | None = None, version: int = 8
    ) -> None:
        parts = urlsplit(base_url)
        self.base_url = base_url
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = {"Upload-Draft-Interop-Version": str(version), **(headers or {})}
        self.version = version

    # -- the draft's operations --------------------------------------------------------------

    def upload(self, path: str, data: bytes, cut_after: int | None = None) -> Response | Cut:
        """Create an upload with the whole file (``Upload-Complete: ?1``)."""
        headers = {"Upload-Complete": "?1", "Content-Type": "application/octet-stream"}
        return self.request("POST", path, headers, data, cut_after=cut_after)

    def offset(self, url: str) -> tuple[int, bool]:
        """Offset retrieval: the offset the server kept, and whether the upload is complete."""
        response = self.request("HEAD", url, {})
        assert isinstance(response, Response)
        if response.status not in (200, 204):
            raise RuntimeError(f"HEAD {url}: {response.status}")
        return int(response.headers["upload-offset"]), response.headers["upload-complete"] == "?1"

    def append(self, url: str, offset: int, data: bytes, *, complete: bool) -> Response:
        headers = {
            "Upload-Offset": str(offset),
            "Upload-Complete": "?1" if complete else "?0",
            "Content-Type": PARTIAL_UPLOAD,
        }
        response = self.request("PATCH", url, headers, data)
        assert isinstance(response, Response)
        return response

    def resume(self, url: str, data: bytes, attempts: int = 10) -> Response:
        """Send what the server lacks of ``data`` from the offset it reports."""
        for _ in range(attempts):
            offset, complete = self.offset(url)
            if complete:
                raise RuntimeError("the upload is complete already")
            response = self.append(url, offset, data[offset:], complete=True)
            if response.status != 409:
                return response
            time.sleep(0.2)  # the cut request was still being acknowledged: ask again
        raise RuntimeError(f"no consistent offset after {attempts} attempts")

    # -- HTTP/1.1 over a socket --------------------------------------------------------------

    def request(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes = b"",
        *,
        cut_after: int | None = None,
        protocol: str = "HTTP/1.1",
    ) -> Response | Cut:
        path = urlsplit(urljoin(self.base_url, target)).path
        all_headers = {
            "Host": f"{self.host}:{self.port}",
            "Connection": "close",
            "Content-Length": str(len(body)),
            **self.headers,
            **headers,
        }
        head = f"{method} {path} {protocol}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in all_headers.items())
        with socket.create_connection((self.host, self.port), timeout=60) as sock:
            sock.sendall((head + "\r\n").encode("latin-1"))
            reader = _Reader(sock)
            sent = 0
            limit = len(body) if cut_after is None else min(len(body), cut_after)
            while sent < limit and reader.final is None:  # an early answer (an error) stops it
                block = body[sent : min(limit, sent + BLOCK)]
                sock.sendall(block)
                sent += len(block)
                reader.poll(0)
            if sent < len(body) and reader.final is None:
                reader.poll(0.5)  # a last look for a 104, then the line "drops"
                return Cut(sent, reader.interim)
            return reader.response(method)


class _Reader:
    """Reads responses from a socket: any number of interim ones, then the final one."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.interim: list[tuple[int, dict[str, str]]] = []
        self.final: tuple[int, dict[str, str]] | None = None

    def poll(self, timeout: float) -> None:
        """Take in what the server sent so far, waiting at most ``timeout`` for it."""
        while self.final is None and select.select([self.sock], [], [], timeout)[0]:
            data = self.sock.recv(BLOCK)
            if not data:
                return
            self.buffer += data
            self._parse_heads()
            timeout = 0

    def _parse_heads(self) -> None:
        while self.final is None and b"\r\n\r\n" in self.buffer:
            raw, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if 100 <= status < 200:
                self.interim.append((status, headers))
            else:
                self.final = (status, headers)

    def response(self, method: str) -> Response:
        while self.final is None:
            data = self.sock.recv(BLOCK)
            if not data:
                raise ConnectionError("the server closed the connection without an answer")
            self.buffer += data
            self._parse_heads()
        status, headers = self.final
        length = (
            0 if method == "HEAD" or status in (204, 304) else int(headers.get("content-length", 0))
        )
        while len(self.buffer) < length:
            data = self.sock.recv(BLOCK)
            if not data:
                break
            self.buffer += data
        return Response(status, headers, self.buffer[:length], self.interim)
