"""A lean upload client: headers over ``http.client``, chunk bytes by ``sendfile`` from a file on disk.

The client must not be the bottleneck, so a chunk's bytes are never read into Python: the kernel
copies them from the pre-generated source file to the socket (``socket.sendfile``), and a multipart
body is just a small preamble and epilogue sent around them. Each request opens its own connection
(gunicorn's sync workers close the connection after every response anyway).

Three protocols: ``chunked`` (the native one: ``PUT`` chunks with ``Content-Range``, then the
completion ``POST``), ``tus`` (a creation ``POST``, then ``PATCH``es at ``Upload-Offset``; the
same client for every tus server) and ``bare`` (``PUT`` chunks appended by the bare WSGI app).
"""

from __future__ import annotations

import base64
import http.client
import json
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import BinaryIO, Literal

Body = Literal["raw", "multipart", "tus"]  # "tus": the tus protocol's raw PATCH bodies
TUS_HEADERS = {"Tus-Resumable": "1.0.0"}
OFFSET_STREAM = "application/offset+octet-stream"
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

    def exchange(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        source: BinaryIO | None = None,
        offset: int = 0,
        count: int = 0,
        wrap: tuple[bytes, bytes] = (b"", b""),
        body: bytes = b"",
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """One request; the response's status, headers and body."""
        conn = self._open(method, url, headers, len(wrap[0]) + count + len(wrap[1]) + len(body))
        try:
            assert conn.sock is not None
            conn.sock.sendall(wrap[0] + body)
            if source is not None and count:
                conn.sock.sendfile(source, offset, count)
            conn.sock.sendall(wrap[1])
            response = conn.getresponse()
            return response.status, response.msg, response.read()
        finally:
            conn.close()

    def cut_off(
        self, url: str, headers: dict[str, str], source: BinaryIO, length: int, sent: int
    ) -> None:
        """Announce a body of ``length`` bytes, send the first ``sent`` and close the connection:
        a client whose link dropped in the middle of a request."""
        conn = self._open("PATCH", url, headers, length)
        try:
            assert conn.sock is not None
            conn.sock.sendfile(source, 0, sent)
        finally:
            conn.close()

    def _open(
        self, method: str, url: str, headers: dict[str, str], length: int
    ) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=900)
        conn.putrequest(method, url, skip_accept_encoding=True)
        if self.token:
            conn.putheader("Authorization", f"Token {self.token}")
        conn.putheader("Content-Length", str(length))
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        return conn


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
        status, _, data = self.sender.exchange("PUT", url, headers, source, start, count, wrap)
        if status != 200:
            raise UploadFailed(f"PUT {url} {headers['Content-Range']}: {status} {data[:300]!r}")
        return data

    def _complete(self, url: str, md5: str) -> None:
        body = json.dumps({"md5": md5}).encode()
        headers = {"Content-Type": "application/json"}
        status, _, data = self.sender.exchange("POST", url, headers, body=body)
        if status != 200:
            raise UploadFailed(f"POST {url}: {status} {data[:300]!r}")


class TusUploader:
    """Uploads a file through tus 1.0: a creation ``POST``, then ``PATCH``es of ``chunk`` bytes
    (``chunk`` >= the file's size: one ``PATCH`` of the whole file, tus-js-client's default).

    The same client for every tus server: no extension beyond ``creation`` is used. After the
    timed part, a ``HEAD`` checks that the server holds every byte, and where the server says
    ``Repr-Digest: md5=...`` (chunked_uploads), that the digest is the source file's.
    """

    def __init__(self, port: int, token: str | None, prefix: str) -> None:
        self.sender = Sender(port, token)
        self.prefix = prefix

    def upload(self, source: BinaryIO, size: int, chunk: int, md5: str) -> UploadResult:
        result = UploadResult()
        result.started = time.perf_counter()
        url = self.create(size)
        for start in range(0, size, chunk):
            count = min(chunk, size - start)
            began = time.perf_counter()
            self.patch(url, source, start, count)
            result.chunk_seconds.append(time.perf_counter() - began)
        result.finished = result.completed = time.perf_counter()
        self.verify(url, size, md5)
        return result

    def create(self, size: int) -> str:
        """A new upload of ``size`` bytes; its path (servers may answer an absolute URL)."""
        metadata = "filename " + base64.b64encode(FILENAME.encode()).decode()
        headers = {**TUS_HEADERS, "Upload-Length": str(size), "Upload-Metadata": metadata}
        status, response, data = self.sender.exchange("POST", self.prefix, headers)
        location = response.get("Location")
        if status != 201 or not location:
            raise UploadFailed(f"POST {self.prefix}: {status} {data[:300]!r}")
        return urllib.parse.urlsplit(location).path

    def patch(self, url: str, source: BinaryIO, start: int, count: int) -> None:
        headers = {**TUS_HEADERS, "Upload-Offset": str(start), "Content-Type": OFFSET_STREAM}
        status, response, data = self.sender.exchange("PATCH", url, headers, source, start, count)
        if status != 204 or response.get("Upload-Offset") != str(start + count):
            offset = response.get("Upload-Offset")
            raise UploadFailed(f"PATCH {url} at {start}: {status}, offset {offset} {data[:300]!r}")

    def offset(self, url: str) -> int:
        """The offset the server reports (``HEAD``)."""
        status, response, data = self.sender.exchange("HEAD", url, TUS_HEADERS)
        if status not in (200, 204) or response.get("Upload-Offset") is None:
            raise UploadFailed(f"HEAD {url}: {status} {data[:300]!r}")
        return int(response["Upload-Offset"])

    def verify(self, url: str, size: int, md5: str) -> None:
        status, response, _ = self.sender.exchange("HEAD", url, TUS_HEADERS)
        if status not in (200, 204) or response.get("Upload-Offset") != str(size):
            raise UploadFailed(f"HEAD {url} after the upload: {status} {dict(response)}")
        digest = response.get("Repr-Digest", "")
        if digest.startswith("md5="):
            expected = base64.b64encode(bytes.fromhex(md5)).decode()
            if digest != f"md5=:{expected}:":
                raise UploadFailed(f"HEAD {url}: {digest}, the source's md5 is {md5}")

    def interrupted(self, source: BinaryIO, size: int, fraction: float) -> tuple[str, int]:
        """Create an upload and send one whole-file ``PATCH`` of it, cut off after ``fraction``
        of the file: the upload's path and the bytes sent. The upload is left as it is."""
        url = self.create(size)
        sent = int(size * fraction)
        headers = {**TUS_HEADERS, "Upload-Offset": "0", "Content-Type": OFFSET_STREAM}
        self.sender.cut_off(url, headers, source, size, sent)
        return url, sent

    def settled_offset(self, url: str, settle: float = 1.0, timeout: float = 60.0) -> int:
        """The ``HEAD`` offset once unchanged for ``settle`` seconds (a server may still be
        writing what it had received when the client went away)."""
        deadline = time.monotonic() + timeout
        last, since = self.offset(url), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(min(0.1, settle))
            current = self.offset(url)
            if current != last:
                last, since = current, time.monotonic()
            elif time.monotonic() - since >= settle:
                return current
        return last
