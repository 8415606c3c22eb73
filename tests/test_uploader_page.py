"""The example project's browser uploader (``/upload/``), driven in headless Debian Chromium.

Playwright drives the system's ``/usr/bin/chromium`` (no downloaded browser); the page talks to
pytest-django's live server with session authentication and the CSRF token.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from chunked_uploads import parts
from chunked_uploads.models import ChunkedUpload

from .helpers import CHROMIUM, CHROMIUM_ARGS, stored_bytes

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHUNK = 64 * 1024

pytestmark = [
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
    pytest.mark.django_db(transaction=True),
]
sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        # Playwright's sync API keeps an asyncio loop in this thread, which makes Django refuse
        # the ORM calls of the test itself; they are plain blocking calls, so allow them.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, live_server: Any, transactional_db: None) -> Iterator[Any]:
    """A page signed in as ``dave`` through DRF's login form."""
    get_user_model().objects.create_user("dave", password="dave-password")
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/api-auth/login/")
    page.fill("#id_username", "dave")
    page.fill("#id_password", "dave-password")
    page.click("[type=submit]")
    yield page
    context.close()


def test_page_needs_a_login(browser: Any, live_server: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/upload/")
    assert page.url.startswith(f"{live_server.url}/api-auth/login/?next=/upload/")
    context.close()


def test_md5_matches_hashlib(page: Any, live_server: Any) -> None:
    page.goto(f"{live_server.url}/upload/")
    rng = random.Random(6)
    for length in (0, 1, 55, 56, 63, 64, 65, 1000, 100_003):
        data = rng.randbytes(length)
        cuts = sorted(rng.sample(range(length + 1), min(5, length + 1)))
        digest = page.evaluate(
            """([bytes, cuts]) => {
                const data = new Uint8Array(bytes), md5 = new window.chunkedUploads.MD5();
                let start = 0;
                for (const cut of [...cuts, data.length]) { md5.update(data.subarray(start, cut)); start = cut; }
                return md5.hexdigest();
            }""",
            [list(data), cuts],
        )
        assert digest == hashlib.md5(data).hexdigest(), length


def test_upload_pause_reload_resume_complete(page: Any, live_server: Any, tmp_path: Path) -> None:
    path = tmp_path / "browser file.bin"
    content = os.urandom(24 * CHUNK + 321)
    path.write_bytes(content)
    # Real network latency (Chromium's own throttling) leaves time to press Pause mid-upload.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 60, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    page.goto(f"{live_server.url}/upload/?chunk_size={CHUNK}")
    page.set_input_files("#file", str(path))
    page.wait_for_selector("[data-state=ready]")
    page.click("#start")
    page.wait_for_function(
        f"Number(document.getElementById('uploader').dataset.offset) >= {3 * CHUNK}"
    )
    page.click("#pause")
    page.wait_for_selector("[data-state=paused]")
    paused_at = int(page.get_attribute("#uploader", "data-offset"))
    upload = ChunkedUpload.objects.get()
    assert upload.offset == paused_at
    assert 3 * CHUNK <= paused_at < len(content)
    assert stored_bytes(upload) == content[:paused_at]

    page.reload()
    page.set_input_files("#file", str(path))
    page.wait_for_selector("[data-state=resumable]")
    assert page.get_attribute("#uploader", "data-offset") == str(paused_at)  # asked the server
    assert page.text_content("#status").startswith("Resumable: ")
    assert page.text_content("#start") == "Resume"
    page.click("#start")
    page.wait_for_selector("[data-state=complete]", timeout=60_000)

    upload.refresh_from_db()
    assert ChunkedUpload.objects.count() == 1  # resumed, not started again
    assert upload.status == "complete"
    assert upload.filename == "browser file.bin"
    assert upload.checksum == hashlib.md5(content).hexdigest()
    assert stored_bytes(upload) == content
    assert str(upload.pk) in page.text_content("#result")
    assert page.evaluate("Object.keys(localStorage).length") == 0  # nothing left to resume
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "uploader-complete.png"), full_page=True)


def test_only_the_stored_part_of_an_overlapping_chunk_counts(page: Any, live_server: Any) -> None:
    """After a ``range_overlap``, the page counts the bytes the answer's ranges show stored and
    sends the rest of the chunk (as the Python client does)."""
    page.goto(f"{live_server.url}/upload/")
    pieces = page.evaluate(
        """([from, to, ranges]) =>
            window.chunkedUploads.Upload.prototype.uncovered(from, to, ranges)""",
        [100, 200, [[150, 159], [0, 9], [180, 500]]],
    )
    assert pieces == [[100, 150], [160, 180]]
    assert (
        page.evaluate("window.chunkedUploads.Upload.prototype.uncovered(100, 200, [[0, 299]])")
        == []
    )


def test_small_file_in_one_chunk(page: Any, live_server: Any, tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_bytes(b"hello, chunks\n")
    page.goto(f"{live_server.url}/upload/")
    page.set_input_files("#file", str(path))
    page.wait_for_selector("[data-state=ready]")
    page.click("#start")
    page.wait_for_selector("[data-state=complete]")
    upload = ChunkedUpload.objects.get()
    assert stored_bytes(upload) == b"hello, chunks\n"


def test_parallel_upload_pause_reload_resume(page: Any, live_server: Any, tmp_path: Path) -> None:
    """Four connections: the server's parallel mode; after a pause and a reload, the page sends
    only the chunks the upload's ranges do not cover."""
    path = tmp_path / "parallel.bin"
    content = os.urandom(24 * CHUNK + 321)
    path.write_bytes(content)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 300, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    page.goto(f"{live_server.url}/upload/?chunk_size={CHUNK}")
    page.fill("#connections", "4")
    page.set_input_files("#file", str(path))
    page.wait_for_selector("[data-state=ready]")
    page.click("#start")
    page.wait_for_function(
        f"Number(document.getElementById('uploader').dataset.offset) >= {4 * CHUNK}"
    )
    page.click("#pause")
    page.wait_for_selector("[data-state=paused]")
    upload = ChunkedUpload.objects.get()
    assert upload.parallel
    assert upload.offset < len(content)
    stored = sum(end - start + 1 for start, end in parts.stored_spans(upload))
    assert stored < len(content)

    page.reload()
    page.fill("#connections", "4")
    page.set_input_files("#file", str(path))
    page.wait_for_selector("[data-state=resumable]")
    page.click("#start")
    page.wait_for_selector("[data-state=complete]", timeout=60_000)
    upload.refresh_from_db()
    assert ChunkedUpload.objects.count() == 1
    assert upload.filename == "parallel.bin"
    assert upload.checksum == hashlib.md5(content).hexdigest()
    assert stored_bytes(upload) == content


@pytest.mark.parametrize("connections", [1, 4])
def test_a_lost_creation_answer_makes_no_second_upload(
    page: Any, live_server: Any, tmp_path: Path, connections: int
) -> None:
    """The server makes the upload but its answer never reaches the page (the connection drops):
    the page retries with the same ``Idempotency-Key`` and gets that upload, so one upload holds
    the whole file."""
    path = tmp_path / "lost.bin"
    content = os.urandom(6 * CHUNK + 17)
    path.write_bytes(content)
    keys: list[str] = []

    def lose_first_answer(route: Any) -> None:
        request = route.request
        if request.method != "PUT":
            route.continue_()
            return
        keys.append(request.headers.get("idempotency-key", ""))
        if len(keys) == 1:
            route.fetch()  # the server stores the first chunk and answers...
            route.abort("connectionreset")  # ...and the page never hears it
        else:
            route.continue_()

    page.route("**/api/uploads/", lose_first_answer)
    page.goto(f"{live_server.url}/upload/?chunk_size={CHUNK}")
    page.fill("#connections", str(connections))
    page.set_input_files("#file", str(path))
    page.wait_for_selector("[data-state=ready]")
    page.click("#start")
    page.wait_for_selector("[data-state=complete]", timeout=60_000)
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0].startswith('"')
    upload = ChunkedUpload.objects.get()
    assert stored_bytes(upload) == content
    assert upload.checksum == hashlib.md5(content).hexdigest()
