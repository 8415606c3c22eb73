"""tus-js-client 4.3.1 under Node uploads to the example project's tus endpoint under gunicorn.

``tests/clients/tusjs/upload.mjs`` is a small application of the client (run by
``tests/tus_js_client.py``): it uploads one file and prints a JSON line per request it sends. The
tests check what arrived on the server's side (the stored bytes, the offset a ``HEAD`` reports)
and how the client got it there: by default the whole file in one ``PATCH``; with ``chunkSize`` one
``PATCH`` per chunk; aborted at ~40 % and restarted as a new process, the client finds its upload
URL in its ``FileUrlStorage`` and continues from the offset the server had kept, not from zero.
The tests skip when ``node``/``npm`` are missing.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from . import servers
from .slow_link import SlowLink
from .tus_js_client import (
    TUS_URL,
    MiB,
    live_server,
    make_file,
    patches,
    run_client,
    settled_offset,
    upload_id,
)

TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture(scope="module")
def server() -> Iterator[servers.LiveServer]:
    with live_server() as live:
        yield live


def head(server: servers.LiveServer, url: str) -> httpx.Response:
    response = httpx.head(url, headers={**server.headers, **TUS})
    assert response.status_code in (200, 204), response.status_code
    return response


def offset(server: servers.LiveServer, url: str) -> int:
    return int(head(server, url).headers["upload-offset"])


def b64_md5(content: bytes) -> str:
    return base64.b64encode(hashlib.md5(content).digest()).decode()


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
    kept = settled_offset(lambda: offset(server, url))
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
    for partial in partial_urls:  # used up by the final upload: a record without bytes
        used_up = httpx.head(partial, headers={**server.headers, **TUS})
        assert used_up.status_code == 200
        assert used_up.headers["upload-offset"] == used_up.headers["upload-length"]


def test_parallel_uploads_resume_after_a_lost_final_answer_without_sending_again(
    tusjs: Path, server: servers.LiveServer, tmp_path: Path
) -> None:
    """The answer to the final upload is lost after the server made it. tus-js-client 4.3.1 does
    not retry a final upload itself: it reports the error. The application starts it again from
    its stored URLs (as Uppy's retry does): the client asks each partial's offset (``HEAD``), finds
    them complete, sends the same final upload again and gets the one the server made: no byte is
    sent twice and no second file is made."""
    path, content = make_file(tmp_path, 8 * MiB + 3)
    storage = str(tmp_path / "urls.json")
    before = set(whole_files(server, len(content)))
    first = run_client(
        tusjs,
        server,
        fails=True,
        file=str(path),
        parallelUploads=4,
        storage=storage,
        loseFinalAnswer=True,
    )
    lost = next(e for e in first if e["event"] == "lost")
    assert lost["status"] == 201
    assert first[-1]["event"] == "error"
    final_request = next(e for e in first if (e.get("concat") or "").startswith("final;"))
    second = run_client(
        tusjs, server, file=str(path), parallelUploads=4, storage=storage, resume=True
    )
    requests = [e for e in second if e["event"] == "request"]
    assert [e["method"] for e in requests] == ["HEAD"] * 4 + ["POST"], requests
    assert requests[-1]["concat"] == final_request["concat"]  # the same final upload again
    assert second[-1]["event"] == "success"
    url = second[-1]["url"]
    assert url == lost["location"]
    assert server.stored_bytes(upload_id(url)) == content
    assert [made for made in whole_files(server, len(content)) if made not in before] == [
        upload_id(url)
    ]


def whole_files(server: servers.LiveServer, size: int) -> list[str]:
    """The ids of the server's uploads of ``size`` bytes (the native API lists every protocol's)."""
    listed = httpx.get(f"{server.url}/api/uploads/", headers=server.headers, timeout=30).json()
    assert listed["next"] is None
    return [upload["id"] for upload in listed["results"] if upload["size"] == size]
