"""Scale-out: two gunicorn instances share one database and one S3 endpoint and serve one upload.

Nothing of an upload may live in a process or on a disk: a client alternates its chunks between
the instances (as a load balancer would), races the same chunk against both, retries a chunk whose
response it "lost" on the other instance, and completes on either. The object in the bucket must
equal the bytes sent. The database is a SQLite file of the test's own (PostgreSQL or MariaDB when
``DATABASE_URL`` points there); the S3 endpoint is moto's server over HTTP.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from .helpers import put_chunk_live
from .s3server import Bucket, s3_bucket, s3_endpoint  # noqa: F401  (fixtures)
from .servers import (
    LiveServer,
    _environment,
    _listening_socket,
    _manage,
    _start,
    _stop,
    _wait_until_serving,
    server_database,
)

MiB = 1024 * 1024
CHUNK = MiB + 17  # parts and chunks never line up
STORES = {
    "s3-multipart": "chunked_uploads.stores.s3.S3MultipartStore",
    "storage-s3": "chunked_uploads.stores.storage.StorageStore",
}


@contextmanager
def two_instances(settings: Mapping[str, Any]) -> Iterator[list[LiveServer]]:
    """Two gunicorn masters (two workers each) on their own ports, one database between them."""
    with tempfile.TemporaryDirectory(prefix="chunked-uploads-scale-out-") as tmp:
        folder = Path(tmp)
        with server_database(os.environ.get("DATABASE_URL", ""), folder) as database_url:
            env = _environment(folder, database_url, settings)
            _manage(env, "migrate", "--noinput")
            token = _manage(env, "create_demo_user", "--quiet").strip().splitlines()[-1]
            with ExitStack() as stack:
                servers = []
                for _ in range(2):
                    listener = stack.enter_context(_listening_socket())
                    server = _start(env, listener, 2, token, folder / "media", database_url)
                    stack.callback(_stop, server.process)
                    servers.append(server)
                for server in servers:
                    _wait_until_serving(server)
                yield servers


@pytest.fixture(
    params=[
        "s3-multipart",
        # The same run on the generic store: more gunicorn boots; `-m "not slow"` leaves it out.
        pytest.param("storage-s3", marks=pytest.mark.slow),
    ]
)
def instances(request: Any, s3_bucket: Bucket) -> Iterator[list[LiveServer]]:  # noqa: F811
    settings = {
        "STORAGES": {
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": s3_bucket.storage_options(),
            },
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        "DRF_CHUNKED_UPLOAD_STORE": STORES[request.param],
    }
    with two_instances(settings) as servers:
        yield servers


def race(servers: list[LiveServer], path: str, data: bytes, start: int, total: int) -> list[int]:
    """The same chunk sent to both instances at once; their status codes."""
    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        responses = list(
            pool.map(
                lambda s: put_chunk_live(s, s.url + path, data, start, total, raw=True), servers
            )
        )
    return sorted(response.status_code for response in responses)


def offset_on(server: LiveServer, path: str) -> int:
    response = httpx.get(server.url + path, headers=server.headers, timeout=30)
    assert response.status_code == 200, response.text
    offset: int = response.json()["offset"]
    return offset


def test_one_upload_across_two_instances(instances: list[LiveServer], s3_bucket: Bucket) -> None:  # noqa: F811
    data = os.urandom(7 * CHUNK + 11)
    total = len(data)
    first = put_chunk_live(
        instances[0], instances[0].url + "/api/uploads/", data[:CHUNK], 0, total, raw=True
    )
    assert first.status_code == 200, first.text
    path = f"/api/uploads/{first.json()['id']}/"
    offset = CHUNK
    for number, start in enumerate(range(CHUNK, total, CHUNK), start=1):
        chunk = data[start : start + CHUNK]
        if number % 3 == 0:
            statuses = race(instances, path, chunk, start, total)
            # Never both: one instance wins, the other is busy or finds the offset moved on.
            assert statuses[0] == 200 and statuses[1] in {400, 409}, statuses
        else:
            server = instances[number % 2]
            response = put_chunk_live(server, server.url + path, chunk, start, total, raw=True)
            assert response.status_code == 200, response.text
            # The client lost that response and retries on the other instance.
            other = instances[(number + 1) % 2]
            retry = put_chunk_live(other, other.url + path, chunk, start, total, raw=True)
            assert retry.status_code == 400, retry.text
            assert retry.json()["expected_offset"] == start + len(chunk)
        offset = start + len(chunk)
        assert offset_on(instances[0], path) == offset_on(instances[1], path) == offset
    done = httpx.post(
        instances[1].url + path,
        json={"md5": hashlib.md5(data).hexdigest()},
        headers=instances[1].headers,
        timeout=60,
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "complete"
    (key,) = s3_bucket.object_keys()  # parts, buffers and multipart uploads are gone
    assert key.endswith(f"{first.json()['id']}.done")
    assert s3_bucket.read(key) == data
    assert s3_bucket.multipart_uploads() == []
