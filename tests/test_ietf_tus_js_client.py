"""tus-js-client 4.3.1 under Node speaks the IETF draft to the example project under gunicorn:
``protocol: 'ietf-draft-03'`` (interop 5) and ``'ietf-draft-05'`` (interop 6).

The same small application as the tus tests (``tests/clients/tusjs/upload.mjs``, run by
``tests/tus_js_client.py``): the client creates the upload with ``POST`` (``Upload-Complete:
?0``), sends the file in ``PATCH``es, the last one with ``Upload-Complete: ?1``; aborted at ~40 %
and restarted as a new process, it finds its upload URL in its ``FileUrlStorage``, asks the offset
with ``HEAD`` and continues from what the server had kept (its check-points), not from zero. The tests skip when ``node``/``npm`` are missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from . import servers
from .slow_link import SlowLink
from .tus_js_client import (
    MiB,
    live_server,
    make_file,
    patches,
    run_client,
    settled_offset,
    upload_id,
)

URL = "/api/resumable/"
INTEROP = {"ietf-draft-03": "5", "ietf-draft-05": "6"}


@pytest.fixture(scope="module")
def server() -> Iterator[servers.LiveServer]:
    with live_server() as live:
        yield live


@pytest.fixture(params=sorted(INTEROP))
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def state(server: servers.LiveServer, url: str, protocol: str) -> httpx.Headers:
    headers = {**server.headers, "Upload-Draft-Interop-Version": INTEROP[protocol]}
    response = httpx.head(url, headers=headers)
    assert response.status_code == 204, response.status_code
    return response.headers


def offset(server: servers.LiveServer, url: str, protocol: str) -> int:
    return int(state(server, url, protocol)["upload-offset"])


def test_whole_file(tusjs: Path, server: servers.LiveServer, tmp_path: Path, protocol: str) -> None:
    path, content = make_file(tmp_path, 3 * MiB + 17)
    events = run_client(
        tusjs, server, file=str(path), protocol=protocol, endpoint=f"{server.url}{URL}"
    )
    assert events[-1]["event"] == "success", events
    posts = [e for e in events if e["event"] == "request" and e["method"] == "POST"]
    assert [e["complete"] for e in posts] == ["?0"]
    assert patches(events) == [0]
    url = events[-1]["url"]
    final = state(server, url, protocol)
    assert final["upload-offset"] == str(len(content))
    assert final["upload-complete"] == "?1"
    assert server.stored_bytes(upload_id(url)) == content


def test_chunks(tusjs: Path, server: servers.LiveServer, tmp_path: Path, protocol: str) -> None:
    path, content = make_file(tmp_path, 5 * MiB + 5)
    events = run_client(
        tusjs,
        server,
        file=str(path),
        protocol=protocol,
        chunkSize=2 * MiB,
        endpoint=f"{server.url}{URL}",
    )
    assert events[-1]["event"] == "success", events
    assert patches(events) == [0, 2 * MiB, 4 * MiB]
    url = events[-1]["url"]
    assert state(server, url, protocol)["upload-complete"] == "?1"
    assert server.stored_bytes(upload_id(url)) == content


def test_aborted_then_resumed(
    tusjs: Path,
    server: servers.LiveServer,
    slow_link: SlowLink,
    tmp_path: Path,
    protocol: str,
) -> None:
    path, content = make_file(tmp_path, 24 * MiB)
    storage = str(tmp_path / "urls.json")
    options = {"file": str(path), "protocol": protocol, "storage": storage}
    endpoint = f"http://127.0.0.1:{slow_link.port}{URL}"  # 1.5 s for the file: abort mid-way
    first = run_client(tusjs, server, abortAt=0.4, endpoint=endpoint, **options)
    assert first[-1]["event"] == "aborted", first
    assert patches(first) == [0]
    url, sent = first[-1]["url"], first[-1]["sent"]
    kept = settled_offset(lambda: offset(server, url, protocol))
    assert MiB <= kept <= sent < len(content), (kept, sent)

    second = run_client(tusjs, server, resume=True, endpoint=endpoint, **options)
    assert second[0] == {"event": "previous", "urls": [url]}
    assert second[-1] == {"event": "success", "url": url, "size": len(content)}
    assert not [e for e in second if e["event"] == "request" and e["method"] == "POST"]
    assert patches(second) == [kept], kept
    assert state(server, url, protocol)["upload-complete"] == "?1"
    assert server.stored_bytes(upload_id(url)) == content
