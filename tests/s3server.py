"""A real S3 API over HTTP for the tests: moto's standalone server on 127.0.0.1.

``moto_endpoint()`` starts ``python -m moto.server`` on a free port and yields its URL; ``s3_bucket``
(a fixture the S3 test modules import) makes a fresh bucket per test and points the app at it:
a django-storages ``S3Storage`` for ``DRF_CHUNKED_UPLOAD_STORAGE_CLASS``. The server is a separate
process, so gunicorn instances started by a test reach the same buckets.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

pytest.importorskip("boto3", reason="the s3 extra is not installed")
pytest.importorskip("storages", reason="django-storages is not installed")
pytest.importorskip("moto", reason="moto[server] is not installed")

import boto3
from storages.backends.s3 import S3Storage

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def moto_endpoint() -> Iterator[str]:
    """Run moto's S3 server until the block ends; yield its endpoint URL."""
    port = _free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(process, url)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_until_up(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with {process.returncode}")
        try:
            httpx.get(url + "/moto-api/", timeout=1)
            return
        except httpx.TransportError:
            # Waiting on another process to listen: there is no clock to fake.
            time.sleep(0.05)
    raise TimeoutError("moto server did not start")


@dataclass
class Bucket:
    """A bucket on the moto server, with a client and the storage settings that reach it."""

    endpoint: str
    name: str
    client: Any

    def storage_options(self, location: str = "media") -> dict[str, Any]:
        return {
            "bucket_name": self.name,
            "endpoint_url": self.endpoint,
            "access_key": CREDENTIALS["aws_access_key_id"],
            "secret_key": CREDENTIALS["aws_secret_access_key"],
            "region_name": REGION,
            "location": location,
        }

    def storage(self) -> S3Storage:
        return S3Storage(**self.storage_options())

    def object_keys(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return sorted(entry["Key"] for page in pages for entry in page.get("Contents", []))

    def multipart_uploads(self) -> list[dict[str, Any]]:
        uploads: list[dict[str, Any]] = self.client.list_multipart_uploads(Bucket=self.name).get(
            "Uploads", []
        )
        return uploads

    def read(self, key: str) -> bytes:
        data: bytes = self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        return data


def client_for(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with moto_endpoint() as url:
        yield url


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> Bucket:
    """A fresh, empty bucket (tests never see each other's objects)."""
    client = client_for(s3_endpoint)
    name = f"test-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    return Bucket(s3_endpoint, name, client)
