"""A lean upload client: headers over ``http.client``, chunk bytes by ``sendfile`` from a file on disk.

The client must not be the bottleneck, so a chunk's bytes are never read into Python: the kernel
copies them from the pre-generated source file to the socket (``socket.sendfile``), and a multipart
body is just a small preamble and epilogue sent around them. Each request opens its own connection
(gunicorn's sync workers close the connection after every response anyway).
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import BinaryIO, Literal

Body = Literal["raw", "multipart"]
BOUNDARY = "----chunked-uploads-bench-" + uuid.uuid4().hex
FILENAME = "bench.bin"


class UploadFailed(RuntimeError):
    pass


@dataclass
class UploadResult:
    """One file's upload: per-chunk request times, the chunk phase span and the completion time."""

    chunk_seconds: list[float] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    completion_seconds: float | None = None
    completed: float = 0.0  # when the completion's response arrived (or the last chunk's)


def multipart_envelope(field_name: str) -> tuple[bytes, bytes]:
    """The bytes before and after a chunk in a ``multipart/form-data`` body."""
    preamble = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="filename"\r\n\r\n'
        f"{FILENAME}\r\n"
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="{field_name}"; filename="{FILENAME}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return preamble, f"\r\n--{BOUNDARY}--\r\n".encode()


class Sender:
    """Sends one request whose body is a slice of ``source``, wrapped or not."""

    def __init__(self, port: int, token: str | None) -> None:
        self.port = port
        self.token = token

    def send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        source: BinaryIO | None = None,
        offset: int = 0,
        count: int = 0,
        wrap: tuple[bytes, bytes] = (b"", b""),
        body: bytes = b"",
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=900)
        try:
            conn.putrequest(method, url, skip_accept_encoding=True)
            if self.token:
                conn.putheader("Authorization", f"Token {self.token}")
            length = len(wrap[0]) + count + len(wrap[1]) + len(body)
            conn.putheader("Content-Length", str(length))
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.endheaders()
            assert conn.sock is not None
            conn.sock.sendall(wrap[0] + body)
            if source is not None and count:
                conn.sock.sendfile(source, offset, count)
            conn.sock.sendall(wrap[1])
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


class Uploader:
    """Uploads a file through one server's protocol: chunked-upload (ours, seed) or bare PUTs."""

    def __init__(
        self, port: int, token: str | None, prefix: str, body: Body, protocol: str
    ) -> None:
        self.sender = Sender(port, token)
        self.prefix = prefix
        self.body = body
        self.protocol = protocol  # "chunked" or "bare"

    def upload(self, source: BinaryIO, size: int, chunk: int, md5: str) -> UploadResult:
        result = UploadResult()
        url = self.prefix + (uuid.uuid4().hex if self.protocol == "bare" else "")
        result.started = time.perf_counter()
        for start in range(0, size, chunk):
            count = min(chunk, size - start)
            began = time.perf_counter()
            data = self._chunk(url, source, start, count, size)
            result.chunk_seconds.append(time.perf_counter() - began)
            if start == 0 and self.protocol == "chunked":
                url = f"{self.prefix}{json.loads(data)['id']}/"
        result.finished = time.perf_counter()
        if self.protocol == "chunked":
            began = time.perf_counter()
            self._complete(url, md5)
            result.completion_seconds = time.perf_counter() - began
        result.completed = time.perf_counter()
        return result

    def _chunk(self, url: str, source: BinaryIO, start: int, count: int, total: int) -> bytes:
        headers = {"Content-Range": f"bytes {start}-{start + count - 1}/{total}"}
        wrap = (b"", b"")
        if self.body == "multipart":
            headers["Content-Type"] = f"multipart/form-data; boundary={BOUNDARY}"
            wrap = multipart_envelope("file")
        else:
            headers["Content-Type"] = "application/octet-stream"
            headers["Content-Disposition"] = f'attachment; filename="{FILENAME}"'
        status, data = self.sender.send("PUT", url, headers, source, start, count, wrap)
        if status != 200:
            raise UploadFailed(f"PUT {url} {headers['Content-Range']}: {status} {data[:300]!r}")
        return data

    def _complete(self, url: str, md5: str) -> None:
        body = json.dumps({"md5": md5}).encode()
        headers = {"Content-Type": "application/json"}
        status, data = self.sender.send("POST", url, headers, body=body)
        if status != 200:
            raise UploadFailed(f"POST {url}: {status} {data[:300]!r}")
