"""tus-js-client 4.3.1 under Node uploads to the example project's tus endpoint under gunicorn.

``tests/clients/tusjs/upload.mjs`` is a small application of the client (its version pinned in the
lock file next to it): it uploads one file and prints a JSON line per request it sends. The tests
check what arrived on the server's side (the stored bytes, the offset a ``HEAD`` reports) and how
the client got it there: by default the whole file in one ``PATCH``; with ``chunkSize`` one
``PATCH`` per chunk; aborted at ~40 % and restarted as a new process, the client finds its upload
URL in its ``FileUrlStorage`` and continues from the offset the server had kept, not from zero.
The tests skip when ``node``/``npm`` are missing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from . import servers
from .slow_link import SlowLink

TUSJS = Path(__file__).resolve().parent / "clients" / "tusjs"
TUS_URL = "/api/tus/"
MiB = 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture(scope="module")
def tusjs() -> Path:
    """``tests/clients/tusjs`` with its ``node_modules`` (``npm ci``, only when the lock changed)."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are needed for tus-js-client")
    lock, installed = TUSJS / "package-lock.json", TUSJS / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TUSJS, check=True, timeout=300)
    return TUSJS


@pytest.fixture(scope="module")
def server() -> Iterator[servers.LiveServer]:
    # Threaded workers, as docs/tus.md advises for long PATCHes (a HEAD is served while a PATCH
    # goes on in the same worker); check-points every MiB so that an
    # aborted single-PATCH upload keeps most of what it sent.
    settings = {"DRF_CHUNKED_UPLOAD_CHECKPOINT_BYTES": MiB}  # the smallest allowed
    with servers.live_server(
        workers=2, worker_class="gthread", threads=4, settings=settings
    ) as live:
        yield live


def run_client(tusjs: Path, server: servers.LiveServer, **options: Any) -> list[dict[str, Any]]:
    """Run ``upload.mjs`` to its end; its events, the last one ``success`` unless it was aborted."""
    arguments = {"endpoint": f"{server.url}{TUS_URL}", "token": server.token, **options}
    result = subprocess.run(
        ["node", "upload.mjs", json.dumps(arguments)],
        cwd=tusjs,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return events


def patches(events: list[dict[str, Any]]) -> list[int]:
    """The ``Upload-Offset`` of each PATCH the client sent, in order."""
    return [int(e["offset"]) for e in events if e["event"] == "request" and e["method"] == "PATCH"]


def upload_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def head(server: servers.LiveServer, url: str) -> httpx.Response:
    response = httpx.head(url, headers={**server.headers, **TUS})
    assert response.status_code in (200, 204), response.status_code
    return response


def settled_offset(server: servers.LiveServer, url: str) -> int:
    """The offset once the server is done with a cut PATCH (two HEADs 0.3 s apart agree)."""
    offset = int(head(server, url).headers["upload-offset"])
    for _ in range(50):
        time.sleep(0.3)
        previous, offset = offset, int(head(server, url).headers["upload-offset"])
        if offset == previous:
            return offset
    raise AssertionError("the offset never settled")


def b64_md5(content: bytes) -> str:
    return base64.b64encode(hashlib.md5(content).digest()).decode()


def make_file(tmp_path: Path, size: int) -> tuple[Path, bytes]:
    content = os.urandom(size)
    path = tmp_path / "tus file.bin"
    path.write_bytes(content)
    return path, content


def test_default_chunk_size_sends_the_whole_file_in_one_patch(
    tusjs: Path, server: servers.LiveServer, tmp_path: Path
) -> None:
    path, content = make_file(tmp_path, 3 * MiB + 17)
    events = run_client(tusjs, server, file=str(path))
    assert events[-1]["event"] == "success"
    assert patches(events) == [0]
    url = events[-1]["url"]
    assert head(server, url).headers["upload-offset"] == str(len(content))
    assert server.stored_bytes(upload_id(url)) == content


def test_five_mib_chunks(tusjs: Path, server: servers.LiveServer, tmp_path: Path) -> None:
    path, content = make_file(tmp_path, 12 * MiB + 5)
    events = run_client(tusjs, server, file=str(path), chunkSize=5 * MiB)
    assert events[-1]["event"] == "success"
    assert patches(events) == [0, 5 * MiB, 10 * MiB]
    url = events[-1]["url"]
    assert head(server, url).headers["upload-offset"] == str(len(content))
    assert server.stored_bytes(upload_id(url)) == content


def test_aborted_at_forty_percent_resumes_from_the_stored_url(
    tusjs: Path, server: servers.LiveServer, tmp_path: Path, slow_link: SlowLink
) -> None:
    path, content = make_file(tmp_path, 32 * MiB)
    storage = str(tmp_path / "tus-urls.json")
    # Through a 16 MiB/s link the file takes 2 s, so the abort lands mid-file (over loopback the
    # whole file could go out between two of the client's progress events).
    endpoint = f"http://127.0.0.1:{slow_link.port}{TUS_URL}"
    first = run_client(
        tusjs, server, file=str(path), abortAt=0.4, storage=storage, endpoint=endpoint
    )
    assert first[-1]["event"] == "aborted"
    assert patches(first) == [0]  # one PATCH for the whole file, cut short
    url, sent = first[-1]["url"], first[-1]["sent"]
    kept = settled_offset(server, url)
    # What the server acknowledged of the cut PATCH: its check-points (every MiB) of the ~40 %
    # sent, less what was still in the sockets' buffers when the client gave up.
    assert MiB <= kept <= sent < len(content), (kept, sent)

    second = run_client(
        tusjs, server, file=str(path), storage=storage, resume=True, endpoint=endpoint
    )
    assert second[0] == {"event": "previous", "urls": [url]}
    assert second[-1] == {"event": "success", "url": url, "size": len(content)}
    assert not [e for e in second if e["event"] == "request" and e["method"] == "POST"]
    assert patches(second) == [kept], kept  # nothing the server had is sent again
    assert head(server, url).headers["upload-offset"] == str(len(content))
    assert server.stored_bytes(upload_id(url)) == content


def test_parallel_uploads_concatenate(
    tusjs: Path, server: servers.LiveServer, tmp_path: Path
) -> None:
    path, content = make_file(tmp_path, 8 * MiB + 3)
    events = run_client(tusjs, server, file=str(path), parallelUploads=4)
    creations = [e for e in events if e["event"] == "request" and e["method"] == "POST"]
    assert [e["concat"] for e in creations] == ["partial"] * 4 + [creations[-1]["concat"]]
    # The final upload names the partials by the absolute URLs of their Locations, in order.
    partial_urls = creations[-1]["concat"].removeprefix("final;").split(" ")
    assert len(partial_urls) == 4 and all(u.startswith(server.url + TUS_URL) for u in partial_urls)
    patched = {e["url"] for e in events if e["event"] == "request" and e["method"] == "PATCH"}
    assert patched == set(partial_urls)
    assert events[-1]["event"] == "success"
    url = events[-1]["url"]
    response = head(server, url)
    assert response.headers["upload-offset"] == response.headers["upload-length"]
    assert response.headers["upload-length"] == str(len(content))
    assert response.headers["upload-concat"] == creations[-1]["concat"]
    assert response.headers["repr-digest"] == "md5=:" + b64_md5(content) + ":"
    assert server.stored_bytes(upload_id(url)) == content
    for partial in partial_urls:  # used up by the final upload
        gone = httpx.head(partial, headers={**server.headers, **TUS})
        assert gone.status_code == 404
