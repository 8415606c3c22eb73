"""Parallel uploads on S3: each chunk is one part of the multipart upload, numbered by its offset.

``S3MultipartStore`` takes these methods. The multipart upload is created with the upload (its
first chunk), and its ``part_size`` is that chunk's length; every chunk must then be exactly one
part: it starts at a multiple of ``part_size`` and holds ``part_size`` bytes (the last one the rest),
and becomes part ``start // part_size + 1``. S3 requires every part but the last to hold at least
5 MiB and allows 10,000 parts, so the first chunk of a file larger than itself must be at least
5 MiB and ``total / part_size`` at most 10,000: other layouts are refused at the first chunk, and a
chunk that is not a whole part at the chunk, with ``PartLayoutRefused`` (``part_layout_refused``).

A part a killed worker uploaded but never acknowledged is not in the recorded parts: S3 drops it
when the upload completes with the recorded list, or its retry replaces it (same number). Parts
cannot be read back before completion, so parallel uploads here need the combinable checksum
(``crc32c``), which completion computes from the chunks' CRCs (``uploads._check_parallel``).
"""

from __future__ import annotations

import copy
import tempfile
from typing import Any

from ..exceptions import PartLayoutRefused
from . import StoreState

MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB
MAX_PARTS = 10_000


class _PartUpload:
    """Collects one chunk (one part) and uploads it on ``finish()``: a part is sent whole (S3 takes
    no part in pieces), and its size is the client's chunk size, so the chunk is spooled, in
    memory up to the store's ``spool_bytes`` and in a temporary file beyond."""

    def __init__(self, store: Any, state: dict[str, Any], number: int) -> None:
        self._store = store
        self._state = state
        self._number = number
        self._body = tempfile.SpooledTemporaryFile(max_size=store.spool_bytes)  # noqa: SIM115

    def write(self, data: bytes | memoryview) -> None:
        self._body.write(data)

    def sync(self) -> None:
        """Nothing to do: S3 acknowledges a part only once it is durable."""

    def finish(self) -> StoreState:
        self._body.seek(0)
        response = self._store.client.upload_part(
            Bucket=self._store.bucket,
            Key=self._state["key"],
            UploadId=self._state["upload_id"],
            PartNumber=self._number,
            Body=self._body,
        )
        checksums = {
            k: v for k, v in response.items() if k.startswith("Checksum") and k != "ChecksumType"
        }
        return {"number": self._number, "etag": response["ETag"], "checksums": checksums}

    def checkpoint(self) -> StoreState:
        """Never called: a chunk of a parallel upload is acknowledged whole."""
        raise NotImplementedError("a chunk of a parallel upload has no check-points")

    def close(self) -> None:
        self._body.close()


class S3Parts:
    """The parallel-mode methods of ``S3MultipartStore`` (see the module docstring)."""

    supports_parts = True
    client: Any
    bucket: str
    spool_bytes: int

    def begin_parts(self, name: str, first_length: int, total: int) -> StoreState:
        if total > first_length and first_length < MIN_PART_SIZE:
            raise PartLayoutRefused(
                f"Parallel uploads to S3 need chunks of at least {MIN_PART_SIZE} bytes (5 MiB)"
                " but the last; the first chunk sets the chunk size"
            )
        if -(-total // first_length) > MAX_PARTS:
            raise PartLayoutRefused(
                f"Parallel uploads to S3 take at most {MAX_PARTS} chunks: use chunks of at least"
                f" {-(-total // MAX_PARTS)} bytes for this file"
            )
        state: dict[str, Any] = self._state(name, None)  # type: ignore[attr-defined]
        key = state["key"]
        parameters = self._object_parameters(key)  # type: ignore[attr-defined]
        response = self.client.create_multipart_upload(Bucket=self.bucket, Key=key, **parameters)
        state.update(upload_id=response["UploadId"], part_size=first_length, total=total)
        return state

    def open_part_writer(
        self, name: str, start: int, length: int, state: StoreState = None
    ) -> _PartUpload:
        assert state is not None, "begin_parts() recorded the multipart upload"
        size, total = int(state["part_size"]), int(state["total"])
        if start % size or length != min(size, total - start):
            number = start // size
            raise PartLayoutRefused(
                f"On S3 every chunk of this upload is one part of {size} bytes: bytes"
                f" {start}-{start + length - 1} are not a whole part (part {number + 1} is bytes"
                f" {number * size}-{min(total, (number + 1) * size) - 1})"
            )
        return _PartUpload(self, state, start // size + 1)

    def assembled_state(
        self, name: str, state: StoreState, parts: list[tuple[int, int, Any]]
    ) -> StoreState:
        assembled = copy.deepcopy(state) or {}
        assembled["parts"] = [
            part
            for _, length, record in parts
            for part in (
                # a range adopted from other uploads (``s3_adoption.py``): the parts it made
                record["parts"]
                if "parts" in record
                else [[record["number"], record["etag"], length, record["checksums"]]]
            )
        ]
        return assembled
