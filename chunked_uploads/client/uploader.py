"""The uploader: create, append, resume, complete one file, retrying what can be retried.

``ChunkedUploader`` sends one file; ``upload``, ``status`` and ``abort`` are the public calls.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import quote

import httpx

from .checksums import is_available, new_hash
from .http import Retry, Upload, UploadError, UploadGone, check_response, http_client
from .state import FileIdentity, StateFile

DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
DEFAULT_CHECKSUM = "md5"  # drf-chunked-upload's, for servers that do not name theirs
DEFAULT_FIELD_NAME = "file"
# Slices of a chunk handed to the socket: progress is reported after each one.
SEND_BLOCK = 256 * 1024
READ_BLOCK = 1024 * 1024
MAX_BACKOFF = 30.0  # seconds: a server back after an outage is noticed within this

T = TypeVar("T")
Progress = Callable[[int, int], None]
"""``progress(bytes_sent, total)``; ``bytes_sent`` may go back when a chunk is retried."""


class ChunkedUploader:
    """Sends one file; ``run()`` returns the completed ``Upload``."""

    def __init__(
        self,
        http: httpx.Client,
        file: IO[bytes],
        list_url: str,
        *,
        filename: str,
        chunk_size: int,
        checksum: str | None,
        multipart: bool,
        progress: Progress | None,
        state: StateFile | None,
        retries: int,
        backoff: float,
        field_name: str = DEFAULT_FIELD_NAME,
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        self.http = http
        self.file = file
        self.list_url = list_url
        self.filename = filename
        self.chunk_size = chunk_size
        # ``None``: use the algorithm the server names (until it does, md5 is assumed).
        self.fixed_algorithm = checksum
        self.algorithm = checksum or DEFAULT_CHECKSUM
        self.field_name = field_name
        self.multipart = multipart
        self.progress = progress
        self.state = state
        self.retries = retries
        self.backoff = backoff
        self.size = file.seek(0, os.SEEK_END)
        self.upload_url: str | None = None
        self.offset = 0
        # Sent with the request that creates the upload, and with its retries: a creation whose
        # answer was lost is answered again with the upload it made (docs/protocol.md).
        self.idempotency_key = f'"{uuid.uuid4()}"'
        self._digest = new_hash(self.algorithm)
        self._hashed = 0

    def run(self) -> Upload:
        if self.size == 0:
            return self._single_shot()
        done = self._resume_saved()
        failures = 0
        while done is None:
            try:
                if self.offset < self.size:
                    self._send_chunk()
                else:
                    done = self._complete()
                failures = 0
            except Retry as error:
                failures += 1
                self._wait(failures, error)
                self._refresh_offset()
        if self.state is not None:
            self.state.remove()
        return done

    # -- steps -------------------------------------------------------------------------------

    def _resume_saved(self) -> Upload | None:
        """Pick up the saved upload, if any; return it if it is complete already."""
        url = self.state.load() if self.state is not None else None
        if url is None:
            return None
        try:
            current = self._get(url)
        except UploadGone:
            return None  # expired or aborted: a new upload replaces it in the state file
        if current.size != self.size:
            return None  # not this file
        self._learn_algorithm(current.data)
        self.upload_url, self.offset = url, current.offset
        return current if current.status == "complete" else None

    def _send_chunk(self) -> None:
        start = self.offset
        self.file.seek(start)
        data = self.file.read(min(self.chunk_size, self.size - start))
        end = start + len(data) - 1
        headers = {"Content-Range": f"bytes {start}-{end}/{self.size}"}
        if self.upload_url is None:
            headers["Idempotency-Key"] = self.idempotency_key
        content, headers = self._body(data, start, headers)
        method_url = self.upload_url or self.list_url
        try:
            response = self.http.put(method_url, content=content, headers=headers)
            body = check_response(response)
        except httpx.TransportError as error:
            raise Retry(f"{type(error).__name__}: {error}") from error
        except UploadError as error:
            if error.code != "offset_mismatch":
                raise
            self._move_to(int(error.body["expected_offset"]), data=None, start=start)
            return
        record = Upload.from_response(body)
        self._learn_algorithm(body)
        if self.upload_url is None:
            self.upload_url = record.url
            if self.state is not None:
                self.state.save(record.url)
        self._move_to(record.offset, data=data, start=start)

    def _complete(self) -> Upload:
        assert self.upload_url is not None
        self._hash_to(self.size)
        payload = {self.algorithm: self._digest.hexdigest()}
        try:
            body = check_response(self.http.post(self.upload_url, json=payload))
        except httpx.TransportError as error:
            raise Retry(f"{type(error).__name__}: {error}") from error
        except UploadError as error:
            if error.code == "checksum_required" and self._learn_algorithm(error.body):
                return self._complete()  # the server expects another algorithm: hash again
            if error.code != "upload_complete":
                raise
            # Our earlier completion went through but its answer was lost.
            body = self._get(self.upload_url).data
        return Upload.from_response(body)

    def _single_shot(self) -> Upload:
        """An empty file has no byte range: send it whole, with its checksum, in one POST; sent
        again (the same ``Idempotency-Key``) after a network error or a busy answer."""
        return self._with_retries(self._send_whole)

    def _send_whole(self) -> Upload:
        files = {self.field_name: (self.filename, b"", "application/octet-stream")}
        data = {self.algorithm: new_hash(self.algorithm).hexdigest()}
        headers = {"Idempotency-Key": self.idempotency_key}
        try:
            response = check_response(
                self.http.post(self.list_url, files=files, data=data, headers=headers)
            )
        except httpx.TransportError as error:
            raise Retry(f"{type(error).__name__}: {error}") from error
        except UploadError as error:
            # A refused single shot leaves nothing behind: send it again with the right checksum.
            if error.code == "checksum_required" and self._learn_algorithm(error.body):
                return self._send_whole()
            raise
        return Upload.from_response(response)

    def _learn_algorithm(self, body: dict[str, Any]) -> bool:
        """Adopt the checksum algorithm the server names (in an upload, or a ``checksum_required``
        error), unless the caller chose one; return whether it changed (the digest then starts
        over: the acknowledged prefix of the file is hashed again at completion)."""
        named = body.get("checksum_algorithm")
        if self.fixed_algorithm is not None or not isinstance(named, str):
            return False
        if named == self.algorithm or not is_available(named):
            return False
        self.algorithm = named
        self._digest, self._hashed = new_hash(named), 0
        return True

    def _refresh_offset(self) -> None:
        if self.upload_url is None:
            return  # the first chunk never made it: create again
        try:
            record = self._get(self.upload_url)
        except (httpx.TransportError, Retry):
            return  # still down; the next attempt will tell
        self.offset = record.offset if record.status != "complete" else self.size

    def _with_retries(self, step: Callable[[], T]) -> T:
        """``step()`` until it succeeds, waiting after each ``Retry`` (``_wait``)."""
        failures = 0
        while True:
            try:
                return step()
            except Retry as error:
                failures += 1
                self._wait(failures, error)

    def _wait(self, failures: int, error: Retry) -> None:
        if failures > self.retries:
            raise UploadError(f"giving up after {self.retries} retries: {error}") from error
        time.sleep(min(self.backoff * 2 ** (failures - 1), MAX_BACKOFF))

    # -- helpers -----------------------------------------------------------------------------

    def _get(self, url: str) -> Upload:
        return Upload.from_response(check_response(self.http.get(url)))

    def _move_to(self, offset: int, *, data: bytes | None, start: int) -> None:
        """Record the server's offset; acknowledged bytes go into the digest."""
        if data is not None and self._hashed == start and offset <= start + len(data):
            self._digest.update(data[: offset - start])
            self._hashed = offset
        self.offset = offset
        self._report(offset)

    def _hash_to(self, offset: int) -> None:
        """Bring the digest up to ``offset`` by reading the file (after a resume or a jump)."""
        if offset < self._hashed:
            self._digest, self._hashed = new_hash(self.algorithm), 0
        self.file.seek(self._hashed)
        while self._hashed < offset:
            block = self.file.read(min(READ_BLOCK, offset - self._hashed))
            if not block:
                raise UploadError("the file became shorter while it was being uploaded")
            self._digest.update(block)
            self._hashed += len(block)

    def _body(
        self, data: bytes, start: int, headers: dict[str, str]
    ) -> tuple[Iterator[bytes], dict[str, str]]:
        if self._hashed != start:
            self._hash_to(start)
        return self._chunk_body(data, start, headers)

    def _chunk_body(
        self, data: bytes, start: int, headers: dict[str, str]
    ) -> tuple[Iterator[bytes], dict[str, str]]:
        """The request body of the chunk ``data`` (raw or multipart) and its headers."""
        if not self.multipart:
            headers["Content-Type"] = "application/octet-stream"
            headers["Content-Disposition"] = _disposition(self.filename)
            headers["Content-Length"] = str(len(data))
            return self._blocks(b"", data, b"", start), headers
        boundary = uuid.uuid4().hex
        head = (
            f"--{boundary}\r\n"
            f"Content-Disposition: form-data; name=\"{self.field_name}\"; filename*=utf-8''{quote(self.filename)}\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = (
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="filename"\r\n\r\n'
            f"{self.filename}\r\n--{boundary}--\r\n"
        ).encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        headers["Content-Length"] = str(len(head) + len(data) + len(tail))
        return self._blocks(head, data, tail, start), headers

    def _blocks(self, head: bytes, data: bytes, tail: bytes, start: int) -> Iterator[bytes]:
        """The request body in slices, reporting progress as the socket takes them."""
        yield head
        view = memoryview(data)
        for position in range(0, len(data), SEND_BLOCK):
            yield bytes(view[position : position + SEND_BLOCK])
            self._report(start + min(position + SEND_BLOCK, len(data)))
        yield tail

    def _report(self, offset: int) -> None:
        if self.progress is not None:
            self.progress(offset, self.size)


def _disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=utf-8''{quote(filename)}"


def upload(
    source: str | os.PathLike[str] | IO[bytes],
    url: str,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    auth: httpx.Auth | tuple[str, str] | None = None,
    checksum: str | None = None,
    field_name: str = DEFAULT_FIELD_NAME,
    progress: Progress | None = None,
    state_file: str | os.PathLike[str] | None = None,
    filename: str | None = None,
    multipart: bool = False,
    retries: int = 8,
    backoff: float = 0.5,
    timeout: float = 60.0,
    http: httpx.Client | None = None,
    parallel: int = 1,
) -> Upload:
    """Upload ``source`` (a path or a seekable binary file) to the list URL ``url``.

    ``parallel``: above 1, the upload uses the server's parallel mode and sends that many chunks
    at once, each on its own connection (``ParallelUploader``).

    ``checksum`` is the server's ``DRF_CHUNKED_UPLOAD_CHECKSUM``; by default the client uses the
    algorithm the server names in its first answer (md5 if it names none). Chunks are sent as raw
    ``application/octet-stream`` bodies, or as ``multipart/form-data`` with ``multipart=True``;
    ``field_name`` names the multipart part (the view's ``field_name``), also of the single
    ``POST`` that sends an empty file.
    ``retries`` counts consecutive failures; waits start at ``backoff`` seconds and double.
    """
    options: dict[str, Any] = {
        "chunk_size": chunk_size,
        "checksum": checksum,
        "field_name": field_name,
        "multipart": multipart,
        "progress": progress,
        "retries": retries,
        "backoff": backoff,
    }
    uploader_class: type[ChunkedUploader] = ChunkedUploader
    if parallel > 1:
        from .parallel import ParallelUploader

        uploader_class = partial(ParallelUploader, connections=parallel)  # type: ignore[assignment]
    client = http_client(auth, http, timeout)
    try:
        if not isinstance(source, (str, os.PathLike)):
            state = StateFile(state_file, url, None) if state_file is not None else None
            name = filename or Path(getattr(source, "name", "") or "upload").name
            return uploader_class(client, source, url, filename=name, state=state, **options).run()
        path = Path(source)
        identity = FileIdentity.of(path)
        state = StateFile(state_file, url, identity) if state_file is not None else None
        with path.open("rb") as file:
            name = filename or path.name
            return uploader_class(client, file, url, filename=name, state=state, **options).run()
    finally:
        if http is None:
            client.close()


def status(
    upload_url: str, *, auth: httpx.Auth | tuple[str, str] | None = None, timeout: float = 60.0
) -> Upload:
    """The upload at ``upload_url`` as the server sees it (``offset`` is where to resume)."""
    with http_client(auth, None, timeout) as client:
        return Upload.from_response(check_response(client.get(upload_url)))


def abort(
    upload_url: str, *, auth: httpx.Auth | tuple[str, str] | None = None, timeout: float = 60.0
) -> None:
    """Abort the upload at ``upload_url``: the server removes its record and its bytes."""
    with http_client(auth, None, timeout) as client:
        check_response(client.delete(upload_url))
