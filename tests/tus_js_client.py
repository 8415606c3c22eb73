"""tus-js-client 4.3.1 under Node, as the tus and IETF client tests run it.

``tests/clients/tusjs/upload.mjs`` is a small application of the client (its version pinned in the
lock file next to it): it uploads one file and prints a JSON line per request it sends.
``install()`` gives it its ``node_modules`` (the ``tusjs`` fixture in ``conftest.py`` calls it),
``run_client()`` runs it to its end and returns its events; ``live_server()`` is the server both
test modules upload to, ``settled_offset()`` the offset it kept of a cut request.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from . import servers

TUSJS = Path(__file__).resolve().parent / "clients" / "tusjs"
TUS_URL = "/api/tus/"
MiB = 1024 * 1024


def install() -> Path:
    """``tests/clients/tusjs`` with its ``node_modules`` (``npm ci``, only when the lock changed);
    the test skips without ``node`` and ``npm``."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are needed for tus-js-client")
    lock, installed = TUSJS / "package-lock.json", TUSJS / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TUSJS, check=True, timeout=300)
    return TUSJS


def live_server() -> AbstractContextManager[servers.LiveServer]:
    """The example project under gunicorn, as the client tests need it.

    Threaded workers, as docs/tus.md advises for long PATCHes (a HEAD is served while a PATCH goes
    on in the same worker); check-points every MiB (the smallest allowed) so that an aborted
    single-request upload keeps most of what it sent.
    """
    settings = {"DRF_CHUNKED_UPLOAD_CHECKPOINT_BYTES": MiB}
    return servers.live_server(workers=2, worker_class="gthread", threads=4, settings=settings)


def run_client(
    tusjs: Path, server: servers.LiveServer, *, fails: bool = False, **options: Any
) -> list[dict[str, Any]]:
    """Run ``upload.mjs`` to its end; its events, the last one ``success`` unless it was aborted
    (or ``error``, and the client's exit status 1, when it ``fails``). The endpoint is the tus one
    unless ``options`` name another."""
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
    assert result.returncode == int(fails), f"{result.stdout}\n{result.stderr}"
    assert (events[-1]["event"] == "error") == fails, events[-1]
    return events


def patches(events: list[dict[str, Any]]) -> list[int]:
    """The ``Upload-Offset`` of each PATCH the client sent, in order."""
    return [int(e["offset"]) for e in events if e["event"] == "request" and e["method"] == "PATCH"]


def upload_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def settled_offset(offset_now: Callable[[], int]) -> int:
    """The offset once the server is done with a cut PATCH (two HEADs 0.3 s apart agree);
    ``offset_now`` asks it with a ``HEAD``."""
    offset = offset_now()
    for _ in range(50):
        time.sleep(0.3)
        previous, offset = offset, offset_now()
        if offset == previous:
            return offset
    raise AssertionError("the offset never settled")


def make_file(tmp_path: Path, size: int) -> tuple[Path, bytes]:
    content = os.urandom(size)
    path = tmp_path / "tus file.bin"
    path.write_bytes(content)
    return path, content
