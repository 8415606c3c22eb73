"""``client.upload(..., parallel=N)`` and ``chunked-uploads upload --parallel N`` on a live server."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any

import crc32c
import httpx
import pytest
from django.core.signals import request_started
from django.db import connections

from chunked_uploads import client, parts
from chunked_uploads.client.parallel import ParallelUploader, uncovered
from chunked_uploads.models import ChunkedUpload
from chunked_uploads.ranges import ContentRange

from .helpers import stored_bytes
from .test_client import CHUNK, Interrupted, lose_first_creation_answer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(9 * CHUNK + 1234))
    return path


def test_live_server_threads_have_their_own_database_connection(
    transactional_db: None, live_server: Any
) -> None:
    """Parallel chunks are concurrent requests: each needs a connection of its own to a database
    other connections share, as in production. Django's in-memory SQLite test database gives the
    live server either the test thread's one connection for every request thread (whose shared
    ``rowcount`` let two conditional ``UPDATE``s of ``parts`` both "win": an acknowledged range
    lost) or, shared-cache, table locks that fail at once (``upload_busy`` storms); see
    tests/settings.py."""
    seen: list[Any] = []

    def record(**kwargs: Any) -> None:
        seen.append(connections["default"])

    request_started.connect(record)
    try:
        httpx.get(f"{live_server.url}/api/uploads/", timeout=30)
    finally:
        request_started.disconnect(record)
    assert seen and seen[0] is not connections["default"]
    assert not (seen[0].vendor == "sqlite" and seen[0].is_in_memory_db())


@pytest.mark.parametrize("multipart", [False, True])
def test_parallel_upload_completes(
    token: Any, list_url: str, data_file: Path, multipart: bool
) -> None:
    reports: list[int] = []
    result = client.upload(
        data_file,
        list_url,
        chunk_size=CHUNK,
        auth=token,
        parallel=4,
        multipart=multipart,
        progress=lambda sent, total: reports.append(sent),
    )
    content = data_file.read_bytes()
    upload = ChunkedUpload.objects.get(pk=result.id)
    assert result.status == "complete"
    assert upload.parallel
    assert stored_bytes(upload) == content
    assert upload.checksum == hashlib.md5(content).hexdigest()
    assert reports[-1] == len(content)


def test_lost_first_answer_makes_no_second_parallel_upload(
    token: Any, list_url: str, data_file: Path
) -> None:
    lost: list[str] = []
    hooks = {"response": [lose_first_creation_answer(lost)]}
    with httpx.Client(auth=token, event_hooks=hooks) as http:
        result = client.upload(
            data_file, list_url, chunk_size=CHUNK, http=http, parallel=4, backoff=0.01
        )
    assert len(lost) == 1
    assert list(ChunkedUpload.objects.values_list("pk", flat=True)) == [uuid.UUID(result.id)]
    assert stored_bytes(ChunkedUpload.objects.get()) == data_file.read_bytes()


def test_interrupted_parallel_upload_resumes_with_the_missing_chunks(
    token: Any,
    list_url: str,
    data_file: Path,
    tmp_path: Path,
    chunks_seen: list[tuple[int, int]],
) -> None:
    state_file = tmp_path / "state.json"
    acknowledged = threading.Event()

    def die_after_four_chunks(sent: int, total: int) -> None:
        if sent >= 4 * CHUNK:
            acknowledged.set()
            raise Interrupted()

    with pytest.raises(Interrupted):
        client.upload(
            data_file,
            list_url,
            chunk_size=CHUNK,
            auth=token,
            state_file=state_file,
            parallel=3,
            progress=die_after_four_chunks,
        )
    assert json.loads(state_file.read_text())["upload_url"]
    first_run = len(chunks_seen)
    result = client.upload(
        data_file, list_url, chunk_size=CHUNK, auth=token, state_file=state_file, parallel=3
    )
    content = data_file.read_bytes()
    # Each chunk was acknowledged once over both runs: the second sent only the missing ones.
    assert sorted(start for start, _ in chunks_seen) == list(range(0, len(content), CHUNK))
    assert first_run >= 4
    assert stored_bytes(ChunkedUpload.objects.get(pk=result.id)) == content
    assert not state_file.exists()


def test_missing_chunks_follow_the_stored_ranges() -> None:
    uploader = ParallelUploader.__new__(ParallelUploader)
    uploader.size, uploader.chunk_size = 1000, 300
    body = {"ranges": [[0, 299], [600, 649]]}
    assert uploader._missing_chunks(body) == [(300, 300), (650, 300), (950, 50)]
    assert uploader._missing_chunks({"ranges": [[0, 999]]}) == []


def test_parallel_upload_with_the_combinable_checksum(
    token: Any, list_url: str, data_file: Path, settings: Any
) -> None:
    settings.DRF_CHUNKED_UPLOAD_CHECKSUM = "crc32c"
    result = client.upload(data_file, list_url, chunk_size=CHUNK, auth=token, parallel=3)
    content = data_file.read_bytes()
    upload = ChunkedUpload.objects.get(pk=result.id)
    assert upload.checksum == f"{crc32c.crc32c(content):08x}"
    assert stored_bytes(upload) == content


def test_cli_parallel_option(token: Any, list_url: str, data_file: Path, tmp_path: Path) -> None:
    from chunked_uploads.client import cli

    argv = ["upload", str(data_file), "--url", list_url, "--token", token.header.split()[1]]
    argv += ["--parallel", "3", "--chunk-size", str(CHUNK), "--no-progress"]
    argv += ["--state-file", str(tmp_path / "state.json")]
    assert cli.main(argv) == 0
    upload = ChunkedUpload.objects.get()
    assert upload.parallel
    assert stored_bytes(upload) == data_file.read_bytes()


def uploader_for(token: Any, list_url: str, file: Any) -> ParallelUploader:
    http = httpx.Client(auth=token, timeout=60)
    return ParallelUploader(
        http,
        file,
        list_url,
        filename="data.bin",
        chunk_size=CHUNK,
        checksum=None,
        multipart=False,
        progress=None,
        state=None,
        retries=8,
        backoff=0.05,
        connections=2,
    )


def test_a_chunk_stored_meanwhile_counts_as_sent(
    token: Any, list_url: str, data_file: Path
) -> None:
    """A ``range_overlap`` answer (say, to the retry of a chunk whose answer was lost)."""
    with data_file.open("rb") as file:
        uploader = uploader_for(token, list_url, file)
        uploader._create()
        assert uploader.upload_url is not None
        uploader._put(uploader.upload_url, CHUNK, CHUNK)
        uploader._send_with_retries(CHUNK, CHUNK)  # refused as stored: nothing raised
        assert uploader._acknowledged == CHUNK


def test_only_the_stored_part_of_an_overlapping_chunk_counts(
    token: Any, list_url: str, data_file: Path
) -> None:
    """A ``range_overlap`` for a chunk that stored bytes cover only in part (another client, or a
    run with other chunk sizes, stored a piece of it): the rest of the chunk is sent, not counted
    as stored (it was missing at completion)."""
    with data_file.open("rb") as file:
        uploader = uploader_for(token, list_url, file)
        uploader._create()
        assert uploader.upload_url is not None
        uploader._put(uploader.upload_url, CHUNK + 100, 100)
        uploader._send_with_retries(CHUNK, CHUNK)
        assert uploader._acknowledged == CHUNK
    upload = ChunkedUpload.objects.get()
    assert parts.stored_spans(upload) == [(0, 2 * CHUNK - 1)]
    assert stored_bytes(upload)[: 2 * CHUNK] == data_file.read_bytes()[: 2 * CHUNK]


def test_an_overlap_the_ranges_do_not_explain_is_an_error() -> None:
    uploader = ParallelUploader.__new__(ParallelUploader)
    refused = client.UploadError("overlap", status_code=400, code="range_overlap", body={})
    with pytest.raises(client.UploadError, match="does not report stored"):
        uploader._send_uncovered(0, 10, refused)


@pytest.mark.parametrize(
    ("ranges", "pieces"),
    [
        ([], [(100, 100)]),
        ([[0, 299]], []),
        ([[0, 119]], [(120, 80)]),
        ([[150, 159], [0, 9], [180, 500]], [(100, 50), (160, 20)]),
        ([[100, 109], [110, 119], [300, 400]], [(120, 80)]),
    ],
)
def test_uncovered_pieces(ranges: list[list[int]], pieces: list[tuple[int, int]]) -> None:
    assert uncovered(100, 100, ranges) == pieces


def test_a_busy_range_is_retried(token: Any, list_url: str, data_file: Path) -> None:
    """``409 upload_busy`` (another request writes the range): the chunk is sent again."""
    with data_file.open("rb") as file:
        uploader = uploader_for(token, list_url, file)
        uploader._create()
        upload = ChunkedUpload.objects.get()
        reservation = parts.reserve(upload, ContentRange(CHUNK, 2 * CHUNK - 1, upload.size))
        releaser = threading.Timer(0.3, parts.release, (upload, reservation))
        releaser.start()
        uploader._send_with_retries(CHUNK, CHUNK)
        releaser.join()
    assert parts.stored_spans(ChunkedUpload.objects.get()) == [(0, 2 * CHUNK - 1)]
