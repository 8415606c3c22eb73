"""``ParallelUploader``: one file over several connections, in the server's parallel mode.

The first chunk creates the upload with ``Upload-Mode: parallel`` (and the uploader's
``Idempotency-Key``, so that a retry whose first answer was lost finds it); the other chunks go
out on ``connections`` threads sharing one httpx client (its pool keeps one connection per thread
busy).
Each chunk is retried on its own (network errors, 5xx, ``upload_busy``). A ``range_overlap``
answer (an earlier attempt whose answer was lost, say) names the stored ranges: only the chunk's
bytes inside them count as sent, and the rest of the chunk is sent on its own. After an
interruption, the upload's ``ranges`` (``GET``) say which chunks are still missing, so a resumed
upload sends only those. The whole file's checksum is computed from the local file before the
completion (one read of the local file).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from .http import Retry, Upload, UploadError, UploadGone, check_response
from .uploader import ChunkedUploader

PARALLEL_HEADERS = {"Upload-Mode": "parallel"}
MAX_CHUNKS = 10_000


def uncovered(start: int, length: int, ranges: list[Any]) -> list[tuple[int, int]]:
    """The pieces (``start, length``) of ``[start, start + length)`` outside ``ranges`` (the
    server's ``[first, last]`` pairs, inclusive)."""
    pieces, position, end = [], start, start + length
    for first, last in sorted((int(first), int(last) + 1) for first, last in ranges):
        if first > position and position < end:
            pieces.append((position, min(first, end) - position))
        position = max(position, last)
    if position < end:
        pieces.append((position, end - position))
    return pieces


class ParallelUploader(ChunkedUploader):
    """Sends one file in chunks over ``connections`` connections; ``run()`` as the parent's."""

    def __init__(self, *args: Any, connections: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if connections < 1:
            raise ValueError("connections must be positive")
        self.connections = connections
        # Servers take at most this many chunks of one parallel upload (as S3 takes parts).
        self.chunk_size = max(self.chunk_size, -(-self.size // MAX_CHUNKS))
        self._read_lock = threading.Lock()
        self._sent_lock = threading.Lock()
        self._acknowledged = 0

    def run(self) -> Upload:
        if self.size == 0:
            return self._single_shot()
        done = self._resume_saved()
        if done is not None:
            return self._finish(done)
        if self.upload_url is None:
            self._create()
        assert self.upload_url is not None
        missing = self._missing_chunks(self._get(self.upload_url).data)
        self._acknowledged = self.size - sum(length for _, length in missing)
        with ThreadPoolExecutor(self.connections) as pool:
            futures = [pool.submit(self._send_with_retries, *chunk) for chunk in missing]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                # Interrupted (Ctrl-C, a refused chunk): send no further chunk; the state file
                # and the server's ranges let the next run send the missing ones.
                for future in futures:
                    future.cancel()
                raise
        return self._finish(self._complete_with_retries())

    # -- steps -------------------------------------------------------------------------------

    def _create(self) -> None:
        body = self._with_retries(
            lambda: self._put(self.list_url, 0, min(self.chunk_size, self.size))
        )
        record = Upload.from_response(body)
        self._learn_algorithm(body)
        if body.get("parallel") is not True:
            raise UploadError("the server does not offer parallel uploads (no 'parallel' mode)")
        self.upload_url = record.url
        if self.state is not None:
            self.state.save(record.url)

    def _missing_chunks(self, body: dict[str, Any]) -> list[tuple[int, int]]:
        """The chunks (``start, length``) not covered by the upload's stored ``ranges``."""
        stored = [(int(start), int(end) + 1) for start, end in body.get("ranges") or []]
        chunks, position = [], 0
        for start, end in [*stored, (self.size, self.size)]:
            for offset in range(position, start, self.chunk_size):
                chunks.append((offset, min(self.chunk_size, start - offset)))
            position = max(position, end)
        return chunks

    def _send_with_retries(self, start: int, length: int) -> None:
        assert self.upload_url is not None
        failures = 0
        while True:
            try:
                self._put(self.upload_url, start, length)
                break
            except UploadError as error:
                if error.code == "range_overlap":
                    self._send_uncovered(start, length, error)
                    return
                if not isinstance(error, Retry):
                    raise
                failures += 1
                self._wait(failures, error)
        self._count_acknowledged(length)

    def _send_uncovered(self, start: int, length: int, overlap: UploadError) -> None:
        """The chunk overlaps stored bytes: count those the answer's ``ranges`` show stored, send
        the others (never count a byte the server does not show: it would be missing at the
        completion)."""
        stored = overlap.body.get("ranges") or []
        pieces = uncovered(start, length, stored)
        if pieces == [(start, length)]:
            raise UploadError(f"the server refused bytes it does not report stored: {overlap}")
        self._count_acknowledged(length - sum(piece for _, piece in pieces))
        for piece in pieces:
            self._send_with_retries(*piece)

    def _count_acknowledged(self, length: int) -> None:
        with self._sent_lock:
            self._acknowledged += length
            self._report_acknowledged()

    def _put(self, url: str, start: int, length: int) -> dict[str, Any]:
        with self._read_lock:
            self.file.seek(start)
            data = self.file.read(length)
        headers = {"Content-Range": f"bytes {start}-{start + len(data) - 1}/{self.size}"}
        if url == self.list_url:
            headers.update(PARALLEL_HEADERS, **{"Idempotency-Key": self.idempotency_key})
        content, headers = self._chunk_body(data, start, headers)
        try:
            return check_response(self.http.put(url, content=content, headers=headers))
        except httpx.TransportError as error:
            raise Retry(f"{type(error).__name__}: {error}") from error

    def _complete_with_retries(self) -> Upload:
        return self._with_retries(self._complete)

    def _finish(self, done: Upload) -> Upload:
        if self.state is not None:
            self.state.remove()
        return done

    # -- the parent's hooks ------------------------------------------------------------------

    def _resume_saved(self) -> Upload | None:
        try:
            return super()._resume_saved()
        except UploadGone:
            return None

    def _report(self, offset: int) -> None:
        """Progress is the acknowledged bytes (``_report_acknowledged``), not a chunk's offset."""

    def _report_acknowledged(self) -> None:
        if self.progress is not None:
            self.progress(self._acknowledged, self.size)
