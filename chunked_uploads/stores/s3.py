"""``S3MultipartStore``: an upload is an S3 multipart upload; completing it copies no byte.

Chunks become parts of a multipart upload created (lazily) at the completed file's key. S3 wants
every part but the last to hold at least 5 MiB, so bytes that cannot make a part yet wait in a
*buffer object* in the bucket, never in a process: the next chunk's writer reads the buffer back
(under 5 MiB) and continues. Completion uploads the buffer as the last part (which may be small) and
calls ``CompleteMultipartUpload``; aborting or expiring calls ``AbortMultipartUpload``.

Buffers live under their own folder (``buffer_folder``, by default ``chunked-uploads-buffers``
beside the storage's location) so that a bucket lifecycle rule can expire what a crash left there.
Everything the store must remember between requests is the upload's recorded state::

    {"key": "media/chunked_uploads/.../<id>.done", "upload_id": "...",
     "parts": [[1, "<etag>", 8388608, {"ChecksumCRC32": "..."}], ...],
     "buffer": ["media/chunked-uploads-buffers/chunked_uploads/.../<id>.done/<offset>-<token>",
                1048576] | None,
     "garbage": ["<superseded buffer key>", ...]}

A request that dies after uploading parts or a buffer leaves the recorded state untouched: the
next writer uploads the same part numbers again (S3 replaces them) and writes a buffer under a new
key, so the acknowledged bytes are exactly the recorded parts plus the recorded buffer. A request
that only *stalled* past its lease may still land a part after the next writer's was acknowledged;
if its bytes differ, S3 refuses to complete with the recorded ETag, and completion answers
``410 stored_bytes_missing`` (start a new upload) instead of assembling other bytes. Buffers
superseded by an acknowledged chunk are deleted by the next writer; orphans of crashed requests
and stray multipart uploads of the key are removed at completion and discard.

Works with any S3-compatible endpoint. On a django-storages ``S3Storage`` the store uses the
storage's client, bucket and location; ``bucket_name``, ``location`` and ``client_options`` (passed
to ``boto3.client("s3", ...)``, e.g. ``endpoint_url``) configure it without one. Requires boto3 (the
``s3`` extra); importing this module without boto3 is harmless.
"""

from __future__ import annotations

import copy
import posixpath
import secrets
from functools import cache
from typing import IO, Any

from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import File
from django.core.files.storage import Storage

from . import (
    ChunkStore,
    ChunkWriter,
    StoredBytesMissing,
    StoreState,
    completed_name,
    is_s3_storage,
    s3_key,
)
from .s3_adoption import S3Adoption
from .s3_parts import S3Parts

try:
    import boto3  # type: ignore[import-untyped]
    from botocore.exceptions import ClientError  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - exercised by installations without the s3 extra
    boto3 = None
    ClientError = Exception

MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB  # S3's minimum for every part but the last
MAX_PARTS = 10_000


class NotReadableBeforeCompletion(Exception):
    """S3 cannot read the parts of a multipart upload in progress (needs a resumable checksum)."""


@cache
def _client(options: tuple[tuple[str, Any], ...]) -> Any:
    # boto3 clients are thread-safe and slow to build: one per configuration and process.
    return boto3.client("s3", **dict(options))


class _MultipartWriter:
    """Cuts the chunk into parts of ``part_size`` as it arrives; the tail becomes the buffer."""

    def __init__(self, store: S3MultipartStore, state: dict[str, Any], pending: bytearray) -> None:
        self._store = store
        self._state = state
        self._pending = pending

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        part_size = self._store.part_size
        # Fill the pending part exactly and hand it over whole: never two copies of a part in memory.
        while len(self._pending) + len(view) >= part_size:
            take = part_size - len(self._pending)
            self._pending += view[:take]
            self._store.upload_part(self._state, self._pending)
            self._pending = bytearray()
            view = view[take:]
        self._pending += view

    def sync(self) -> None:
        """Nothing to do: S3 acknowledges a part or an object only once it is durable."""

    def finish(self) -> StoreState:
        state = self._state
        if state["buffer"] is not None:
            state["garbage"].append(state["buffer"][0])  # read back, superseded once acknowledged
            state["buffer"] = None
        if len(self._pending) >= MIN_PART_SIZE:
            self._store.upload_part(state, self._pending)
        elif self._pending:
            state["buffer"] = self._store.put_buffer(state, self._pending)
        self._pending = bytearray()
        return state

    def checkpoint(self) -> StoreState:
        """Record the uploaded parts; bytes still short of a part go to a buffer object (kept in
        memory too, to become the start of the next part)."""
        state = self._state
        if state["buffer"] is not None:
            state["garbage"].append(state["buffer"][0])
            state["buffer"] = None
        if len(self._pending) >= MIN_PART_SIZE:
            self._store.upload_part(state, self._pending)
            self._pending = bytearray()
        elif self._pending:
            state["buffer"] = self._store.put_buffer(state, self._pending)
        return copy.deepcopy(state)

    def close(self) -> None:
        self._pending = bytearray()


class S3MultipartStore(S3Adoption, S3Parts, ChunkStore):
    """Native S3 multipart uploads; small chunks wait in a buffer object until a part is full."""

    can_read_in_progress = False

    def __init__(
        self,
        storage: Storage,
        *,
        part_size: int = 8 * MiB,
        bucket_name: str | None = None,
        location: str | None = None,
        client_options: dict[str, Any] | None = None,
        buffer_folder: str = "chunked-uploads-buffers",
        spool_bytes: int = 8 * MiB,
    ) -> None:
        super().__init__(storage)
        if boto3 is None:
            raise ImproperlyConfigured(
                "S3MultipartStore needs boto3: pip install boto3 (the s3 extra)."
            )
        if part_size < MIN_PART_SIZE:
            raise ImproperlyConfigured(f"part_size must be at least {MIN_PART_SIZE} bytes.")
        self.part_size = part_size
        # Parallel mode: a chunk (one part) is held in memory up to this, in a temporary file beyond.
        self.spool_bytes = spool_bytes
        self.buffer_folder = buffer_folder.strip("/")
        if bucket_name is None:
            if not hasattr(storage, "bucket_name") or not hasattr(storage, "connection"):
                raise ImproperlyConfigured(
                    "S3MultipartStore needs an S3Storage (django-storages) or a bucket_name option."
                )
            bucket_name = storage.bucket_name
            location = getattr(storage, "location", "") if location is None else location
            self.client = storage.connection.meta.client
        else:
            self.client = _client(tuple(sorted((client_options or {}).items())))
        self.bucket = bucket_name
        self.location = (location or "").strip("/")

    # -- the ChunkStore interface ------------------------------------------------------------

    def create(self, name: str) -> str:
        # The multipart upload is created with the first full part: small files never need one.
        return name

    def open_writer(self, name: str, offset: int, state: StoreState = None) -> ChunkWriter:
        state = self._state(name, state)
        if _acknowledged_bytes(state) != offset:
            raise StoredBytesMissing(name)
        self._delete_keys(state["garbage"])
        state["garbage"] = []
        pending = bytearray()
        if state["buffer"] is not None:
            pending += self._read(state["buffer"][0])
            if len(pending) != state["buffer"][1]:
                raise StoredBytesMissing(name)
        return _MultipartWriter(self, state, pending)

    def open_reader(self, name: str, state: StoreState = None) -> IO[bytes]:
        raise NotReadableBeforeCompletion(
            "S3 cannot read a multipart upload in progress; use a resumable checksum "
            "(md5, sha1, sha256 or sha512) so that completion never re-reads the bytes."
        )

    def finalize(self, name: str, final_name: str, state: StoreState = None) -> str:
        state = self._state(name, state)
        if state["buffer"] is not None:
            self.upload_part(state, self._read(state["buffer"][0]))
        if state["upload_id"] is None:
            self.client.put_object(Bucket=self.bucket, Key=state["key"], Body=b"")
        else:
            self._complete(state)
        self._clean_up(state["key"])
        final_key = self.key(final_name)
        if final_key != state["key"]:  # settings changed since the upload started
            source = {"Bucket": self.bucket, "Key": state["key"]}
            self.client.copy(source, self.bucket, final_key)
            self.client.delete_object(Bucket=self.bucket, Key=state["key"])
        return final_name

    def hand_off(self, name: str, target: Storage, target_name: str) -> str:
        """A server-side copy when ``target`` is an S3 storage, else a stream into it."""
        key = self.key(name)
        if is_s3_storage(target):
            return copy_between_buckets(self.client, self.bucket, key, target, target_name)
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            saved: str = target.save(target_name, File(body, posixpath.basename(target_name)))
        finally:
            body.close()
        return saved

    def discard(self, name: str, state: StoreState = None) -> None:
        state = self._state(name, state)
        if state["upload_id"] is not None:
            self._abort(state["key"], state["upload_id"])
        self._clean_up(state["key"])
        self.client.delete_object(Bucket=self.bucket, Key=self.key(name))

    # -- S3 operations -----------------------------------------------------------------------

    def key(self, name: str) -> str:
        return posixpath.join(self.location, name) if self.location else name

    def buffer_prefix(self, key: str) -> str:
        """Where the buffers of the upload completing at ``key`` go: under one folder of their own,
        so that a bucket lifecycle rule can expire the ones a crash left behind."""
        name = key[len(self.location) + 1 :] if self.location else key
        return f"{self.key(self.buffer_folder)}/{name}/"

    def upload_part(self, state: dict[str, Any], body: bytes | bytearray) -> None:
        if state["upload_id"] is None:
            state["upload_id"] = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=state["key"], **self._object_parameters(state["key"])
            )["UploadId"]
        number = len(state["parts"]) + 1
        if number > MAX_PARTS:
            raise ValueError(f"S3 allows {MAX_PARTS} parts; raise part_size for larger files.")
        response = self.client.upload_part(
            Bucket=self.bucket,
            Key=state["key"],
            UploadId=state["upload_id"],
            PartNumber=number,
            Body=body,
        )
        checksums = {
            k: v for k, v in response.items() if k.startswith("Checksum") and k != "ChecksumType"
        }
        state["parts"].append([number, response["ETag"], len(body), checksums])

    def put_buffer(self, state: dict[str, Any], body: bytearray) -> list[Any]:
        offset = _acknowledged_bytes(state) + len(body)
        key = f"{self.buffer_prefix(state['key'])}{offset:020d}-{secrets.token_hex(8)}"
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body)
        return [key, len(body)]

    def _state(self, name: str, state: StoreState) -> dict[str, Any]:
        """A private copy of the recorded state (the writer changes it), with defaults."""
        loaded: dict[str, Any] = copy.deepcopy(state) if state else {}
        loaded.setdefault("key", self.key(completed_name(name)))
        for field, default in (
            ("upload_id", None),
            ("parts", []),
            ("buffer", None),
            ("garbage", []),
        ):
            loaded.setdefault(field, default)
        return loaded

    def _read(self, key: str) -> bytes:
        try:
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            raise StoredBytesMissing(key) from error
        return body

    def _object_parameters(self, key: str) -> dict[str, Any]:
        get_parameters = getattr(self.storage, "get_object_parameters", None)
        parameters: dict[str, Any] = get_parameters(key) if get_parameters else {}
        return parameters

    def _complete(self, state: dict[str, Any]) -> None:
        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=state["key"],
                UploadId=state["upload_id"],
                MultipartUpload={"Parts": [_completed_part(part) for part in state["parts"]]},
            )
        except ClientError as error:
            # A recorded part no longer holds the acknowledged bytes (a request that stalled past
            # its lease uploaded the same part number with other bytes after another request's
            # part was acknowledged), or the multipart upload is gone: the file cannot be made.
            if _error_code(error) in {"InvalidPart", "InvalidPartOrder", "NoSuchUpload"}:
                raise StoredBytesMissing(state["key"]) from error
            raise

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as error:
            if _error_code(error) not in {"NoSuchUpload", "404"}:
                raise

    def _clean_up(self, key: str) -> None:
        """Abort stray multipart uploads of ``key`` and delete its buffer objects."""
        listing = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=key)
        for upload in listing.get("Uploads", []):
            if upload["Key"] == key:
                self._abort(key, upload["UploadId"])
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.buffer_prefix(key)):
            self._delete_keys([entry["Key"] for entry in page.get("Contents", [])])

    def _delete_keys(self, keys: list[str]) -> None:
        if keys:
            objects = [{"Key": key} for key in keys]
            self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
            )


def copy_between_buckets(
    client: Any, bucket: str, key: str, target: Storage, target_name: str
) -> str:
    """Copy ``bucket/key`` to ``target_name`` on the S3 storage ``target``, S3 copying the bytes
    (``client.copy`` switches to a multipart copy above 5 GB); return the name used."""
    name: str = target.get_available_name(target_name)
    destination = s3_key(target, name)
    extra = target.get_object_parameters(name) if hasattr(target, "get_object_parameters") else {}
    client.copy(
        {"Bucket": bucket, "Key": key},
        target.bucket_name,  # type: ignore[attr-defined]
        destination,
        ExtraArgs=extra or None,
    )
    return name


def _acknowledged_bytes(state: dict[str, Any]) -> int:
    buffered = state["buffer"][1] if state["buffer"] is not None else 0
    return sum(int(part[2]) for part in state["parts"]) + int(buffered)


def _completed_part(part: list[Any]) -> dict[str, Any]:
    number, etag, _, checksums = part
    return {"PartNumber": number, "ETag": etag, **checksums}


def _error_code(error: Any) -> str | None:
    code: str | None = error.response.get("Error", {}).get("Code")
    return code
