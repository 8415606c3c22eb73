"""moto's standalone S3 server for the S3 store benchmarks: start it, make buckets, empty them.

moto is an in-process stand-in for S3 on the same machine (objects above ~5 MiB spill to temp
files, here under the benchmark's work dir): its numbers say what the stores cost on our side,
not what real S3 would do.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Moto:
    """A running moto server and a boto3 client for it."""

    process: subprocess.Popen[bytes]
    endpoint: str
    client: Any

    def create_bucket(self, name: str) -> None:
        self.client.create_bucket(Bucket=name)

    def empty_bucket(self, name: str) -> None:
        """Abort unfinished multipart uploads and delete every object (moto frees them)."""
        uploads = self.client.list_multipart_uploads(Bucket=name).get("Uploads", [])
        for upload in uploads:
            self.client.abort_multipart_upload(
                Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
            )
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=name)
        keys = [{"Key": entry["Key"]} for page in pages for entry in page.get("Contents", [])]
        for start in range(0, len(keys), 1000):
            self.client.delete_objects(Bucket=name, Delete={"Objects": keys[start : start + 1000]})

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_moto(workdir: Path) -> Moto:
    """``python -m moto.server`` on a free port, its temp files under ``workdir``."""
    import boto3  # the s3 extra; only needed with --stores s3 / storage-s3

    port = _free_port()
    tmp = workdir / "moto-tmp"
    tmp.mkdir()
    log = (workdir / "moto.log").open("ab")
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(
        command, stdout=log, stderr=log, env={**os.environ, "TMPDIR": str(tmp)}
    )
    endpoint = f"http://127.0.0.1:{port}"
    _wait_until_up(process, endpoint)
    client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)
    return Moto(process, endpoint, client)


def _wait_until_up(process: subprocess.Popen[bytes], endpoint: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with {process.returncode}")
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).close()
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)  # waiting on another process to listen
    process.terminate()
    raise TimeoutError("moto server did not start")


def settings_lines(store: str, endpoint: str, bucket: str) -> str:
    """Settings that put the example project's uploads in ``bucket`` through ``store``."""
    backend = (
        '"chunked_uploads.stores.s3.S3MultipartStore"' if store == "s3" else "None  # StorageStore"
    )
    options = {
        "bucket_name": bucket,
        "endpoint_url": endpoint,
        "access_key": CREDENTIALS["aws_access_key_id"],
        "secret_key": CREDENTIALS["aws_secret_access_key"],
        "region_name": REGION,
        "location": "media",
    }
    return f"""
STORAGES = {{
    "default": {{"BACKEND": "django.core.files.storage.FileSystemStorage"}},
    "staticfiles": {{"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}},
    "uploads": {{"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {options!r}}},
}}
DRF_CHUNKED_UPLOAD_STORAGE_CLASS = "uploads"
DRF_CHUNKED_UPLOAD_STORE = {backend}
"""
