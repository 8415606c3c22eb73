"""tus concatenation on S3: completed uploads' objects become parts of the final multipart upload.

``S3MultipartStore`` takes these methods. A completed partial upload is an object; S3 copies it
into a part of the final upload itself (``UploadPartCopy``), so its bytes never pass through the
server. S3 wants every part but the last to hold at least 5 MiB: a partial that is smaller (and is
not the last) cannot be a part of its own, so its bytes are copied **through the server** into a
part together with the partials that follow, until the part holds 5 MiB. When such a run of small
partials is followed by a large one, only what the run lacks of 5 MiB is taken from the large
one's start (a ranged ``GET``), and the rest of it is still copied by S3, if that rest can be a
part (5 MiB, or the file's end); otherwise the whole large partial goes through the server too.
So the server copies at most the small partials' bytes plus under 10 MiB per run of them; a
partial above 5 GiB (S3's limit for one copied part) becomes several copied parts.

Each range yielded (``adopt_parts``) records the parts it made and the object ranges its bytes
came from (``{"parts": [[number, etag, length, checksums], ...], "sources": [[key, start,
length], ...]}``): completion lists the parts, and the running digest (md5, sha*) reads the
sources back, which are ordinary objects (a multipart upload in progress cannot be read).
Its CRC-32C comes from the partials' CRCs; for a piece of a partial, from the CRC of the other
piece (the one that went through the server) by the CRC's linearity.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import IO, Any

from ..combinable_checksums import Crc32cDigest, combine, is_combinable
from ..exceptions import PartLayoutRefused
from . import AdoptedRange, PartialBytes, StoredBytesMissing, StoreState

MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB
MAX_COPY_SIZE = 5 * 1024 * MiB  # S3's largest UploadPartCopy
Segment = tuple[str, int, int]  # object key, start in it, length


class _Run:
    """Bytes of consecutive partials gathered through the server into one part."""

    def __init__(self, start: int) -> None:
        self.start = start
        self.body = bytearray()
        self.sources: list[Segment] = []
        self.crc = 0


class S3Adoption:
    """The concatenation methods of ``S3MultipartStore`` (see the module docstring)."""

    client: Any
    bucket: str

    def begin_adoption(self, name: str, total: int) -> StoreState:
        state: dict[str, Any] = self._state(name, None)  # type: ignore[attr-defined]
        if not total:
            return state  # no part: completion puts an empty object
        parameters = self._object_parameters(state["key"])  # type: ignore[attr-defined]
        response = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=state["key"], **parameters
        )
        state["upload_id"] = response["UploadId"]
        return state

    def adopt_parts(
        self, name: str, state: StoreState, sources: Sequence[PartialBytes]
    ) -> Iterator[AdoptedRange]:
        assert state is not None, "begin_adoption() recorded the multipart upload"
        numbers = iter(range(1, 10_001))
        run: _Run | None = None
        sources = [source for source in sources if source.length]  # an empty one adds nothing
        for index, source in enumerate(sources):
            last = index == len(sources) - 1
            key = self.key(source.name)  # type: ignore[attr-defined]
            if run is None and (source.length >= MIN_PART_SIZE or last):
                yield self._copied(state, numbers, key, source.start, 0, source.length, source.crc)
                continue
            run = run or _Run(source.start)
            lacking = MIN_PART_SIZE - len(run.body)
            rest = source.length - lacking
            if source.length > lacking and (rest >= MIN_PART_SIZE or last):
                head_crc = self._gather(run, key, 0, lacking)
                yield self._flushed(state, numbers, run)
                run = None
                crc = None if source.crc is None else source.crc ^ combine(head_crc, 0, rest)
                yield self._copied(state, numbers, key, source.start + lacking, lacking, rest, crc)
                continue
            self._gather(run, key, 0, source.length)
            if len(run.body) >= MIN_PART_SIZE:
                yield self._flushed(state, numbers, run)
                run = None
        if run is not None:
            yield self._flushed(state, numbers, run)

    def _copied(
        self,
        state: dict[str, Any],
        numbers: Iterator[int],
        key: str,
        start: int,
        offset: int,
        length: int,
        crc: int | None,
    ) -> AdoptedRange:
        """``length`` bytes of ``key`` from ``offset`` copied by S3 into parts (``UploadPartCopy``)."""
        count = -(-length // MAX_COPY_SIZE)
        size = -(-length // count)  # equal pieces: none of them under 5 MiB
        parts = []
        for begin in range(offset, offset + length, size):
            end = min(begin + size, offset + length)
            response = self.client.upload_part_copy(
                Bucket=self.bucket,
                Key=state["key"],
                UploadId=state["upload_id"],
                PartNumber=(number := _next(numbers)),
                CopySource={"Bucket": self.bucket, "Key": key},
                CopySourceRange=f"bytes={begin}-{end - 1}",
            )
            result = response["CopyPartResult"]
            parts.append([number, result["ETag"], end - begin, _checksums(result)])
        record = {"parts": parts, "sources": [[key, offset, length]]}
        return AdoptedRange(start, length, record, crc)

    def _gather(self, run: _Run, key: str, offset: int, length: int) -> int:
        """Read ``length`` bytes of ``key`` from ``offset`` into the run; return their CRC-32C
        (0 when the combinable checksum is unavailable)."""
        response = self.client.get_object(
            Bucket=self.bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}"
        )
        data = response["Body"].read()
        if len(data) != length:
            raise StoredBytesMissing(key)
        run.body += data
        run.sources.append((key, offset, length))
        crc = 0
        if is_combinable("crc32c"):
            digest = Crc32cDigest()
            digest.update(data)
            crc = digest.value
            run.crc = combine(run.crc, crc, length)
        return crc

    def _flushed(self, state: dict[str, Any], numbers: Iterator[int], run: _Run) -> AdoptedRange:
        """The run's bytes uploaded as one part (``UploadPart``)."""
        number = _next(numbers)
        response = self.client.upload_part(
            Bucket=self.bucket,
            Key=state["key"],
            UploadId=state["upload_id"],
            PartNumber=number,
            Body=bytes(run.body),
        )
        part = [number, response["ETag"], len(run.body), _checksums(response)]
        record = {"parts": [part], "sources": [list(s) for s in run.sources]}
        crc = run.crc if is_combinable("crc32c") else None
        return AdoptedRange(run.start, len(run.body), record, crc)

    def open_part_reader(self, name: str, start: int, record: Any) -> IO[bytes]:
        """An adopted range's bytes, read from the objects they were copied from."""
        sources = record.get("sources") if isinstance(record, dict) else None
        if sources is None:
            from .s3 import NotReadableBeforeCompletion

            raise NotReadableBeforeCompletion("S3 cannot read the parts of an upload in progress")
        return io.BufferedReader(_SourcesReader(self, sources), MiB)


class _SourcesReader(io.RawIOBase):
    """Ranged ``GET``s of the sources, one after the other."""

    def __init__(self, store: S3Adoption, sources: list[list[Any]]) -> None:
        super().__init__()
        self._store = store
        self._pending = [(str(k), int(o), int(n)) for k, o, n in sources if int(n)]
        self._body: Any = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while True:
            if self._body is None:
                if not self._pending:
                    return 0
                key, offset, length = self._pending.pop(0)
                self._body = self._store.client.get_object(
                    Bucket=self._store.bucket,
                    Key=key,
                    Range=f"bytes={offset}-{offset + length - 1}",
                )["Body"]
            data = self._body.read(len(buffer))
            if data:
                buffer[: len(data)] = data
                return len(data)
            self._body.close()
            self._body = None

    def close(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None
        super().close()


def _next(numbers: Iterator[int]) -> int:
    number = next(numbers, None)
    if number is None:
        raise PartLayoutRefused(
            "On S3 a file takes at most 10,000 parts: use fewer partial uploads"
        )
    return number


def _checksums(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k.startswith("Checksum") and k != "ChecksumType"}
