"""The example's Uppy page (``/uppy/``) in headless Debian Chromium, uploading over tus to an API on
another origin: upload a file; reload the tab mid-upload and resume (Golden Retriever).

One gunicorn serves the example project; two user-space proxies (``benchmarks/wan_proxy.py``) in
front of it make two origins: the page is loaded from ``http://localhost:A`` and its tus endpoint is
``http://127.0.0.1:B/api/tus/``, so every request the browser sends to the API is cross-origin and
passes CORS (django-cors-headers, allowed origin ``http://localhost:A``). The API's link is slow
(a capped rate) so that the tab can be reloaded while the file's single PATCH is under way; the
server keeps what the cut PATCH brought up to its last check-point, and the resumed upload goes on
from there, on the same upload URL.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from . import servers
from .helpers import CHROMIUM, CHROMIUM_ARGS, free_port

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"
)
sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
pytest.importorskip(
    "corsheaders", reason="django-cors-headers (the example extra) is not installed"
)
wan_proxy = pytest.importorskip("benchmarks.wan_proxy", reason="benchmarks/ is not in this tree")

MiB = 1024 * 1024
UPLOAD_BUTTON = ".uppy-StatusBar-actionBtn--upload"
TUS = {"Tus-Resumable": "1.0.0"}


class Origins:
    """The gunicorn server and the two origins in front of it."""

    def __init__(self, server: servers.LiveServer, page: str, api: str) -> None:
        self.server = server
        self.page = page
        self.api = api

    def offset(self, upload_url: str) -> int:
        """What the server has of an upload (a HEAD straight to gunicorn)."""
        path = httpx.URL(upload_url).raw_path.decode()
        response = httpx.head(f"{self.server.url}{path}", headers={**self.server.headers, **TUS})
        assert response.status_code in (200, 204), response.status_code
        return int(response.headers["upload-offset"])


@pytest.fixture(scope="module")
def origins() -> Iterator[Origins]:
    page_port, api_port = free_port(), free_port()
    page, api = f"http://localhost:{page_port}", f"http://127.0.0.1:{api_port}"
    environment = {
        "DJANGO_CORS_ALLOWED_ORIGINS": page,
        "DEMO_TUS_ENDPOINT": f"{api}/api/tus/",
    }
    settings = {
        "ROOT_URLCONF": "tests.urls_static",  # the page's scripts: DEBUG is off under gunicorn
        "DRF_CHUNKED_UPLOAD_CHECKPOINT_BYTES": MiB,  # the smallest allowed
    }
    # Threads: the page's and the test's HEADs are served while a PATCH goes on in the same worker.
    with servers.live_server(
        workers=2, worker_class="gthread", threads=4, settings=settings, environment=environment
    ) as server:
        target = ("127.0.0.1", server.port)
        fast = wan_proxy.WanProxy(
            target, delay=0.0005, rate=512 * MiB, listen=("127.0.0.1", page_port)
        )
        slow = wan_proxy.WanProxy(target, delay=0.002, rate=1 * MiB, listen=("127.0.0.1", api_port))
        with fast, slow:
            yield Origins(server, page, api)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Requests:
    """The requests a browser context sent to the API (method, URL, Upload-Offset)."""

    def __init__(self, context: Any, api: str) -> None:
        self.sent: list[tuple[str, str, str | None]] = []
        self.errors: list[str] = []
        context.on("request", lambda r: self._record(r, api))
        context.on("weberror", lambda error: self.errors.append(str(error.error)))

    def _record(self, request: Any, api: str) -> None:
        if request.url.startswith(api):
            offset = request.headers.get("upload-offset")
            self.sent.append((request.method, request.url, offset))

    def of(self, method: str) -> list[tuple[str, str | None]]:
        return [(url, offset) for m, url, offset in self.sent if m == method]


@pytest.fixture
def page(browser: Any, origins: Origins) -> Iterator[tuple[Any, Requests]]:
    """A tab on the page's origin, signed in as the demo user."""
    context = browser.new_context()
    requests = Requests(context, origins.api)
    page = context.new_page()
    page.goto(f"{origins.page}/api-auth/login/?next=/uppy/")
    page.fill("#id_username", "demo")
    page.fill("#id_password", "demo")
    page.click("[type=submit]")
    page.wait_for_selector("#uppy[data-state=ready]")
    yield page, requests
    context.close()


def choose(page: Any, path: Path) -> None:
    page.set_input_files(".uppy-Dashboard-input >> nth=0", str(path))
    page.click(UPLOAD_BUTTON)


def upload_url(page: Any) -> str | None:
    url: str | None = page.evaluate(
        "() => window.demoUppy.getFiles().map((f) => f.tus && f.tus.uploadUrl).find(Boolean) ?? null"
    )
    return url


def test_upload_from_another_origin(
    page: tuple[Any, Requests], origins: Origins, tmp_path: Path
) -> None:
    tab, requests = page
    path = tmp_path / "small.bin"
    content = os.urandom(300 * 1024 + 7)
    path.write_bytes(content)
    choose(tab, path)
    tab.wait_for_selector("#uppy[data-state=complete]", timeout=60_000)
    (url,) = json.loads(tab.get_attribute("#uppy", "data-upload-urls"))
    assert url.startswith(f"{origins.api}/api/tus/")
    assert not tab.url.startswith(origins.api)  # the page is on the other origin
    assert origins.offset(url) == len(content)
    assert origins.server.stored_bytes(url.rstrip("/").rsplit("/", 1)[-1]) == content
    assert [u for u, _ in requests.of("POST")] == [f"{origins.api}/api/tus/"]
    assert requests.of("PATCH") == [(url, "0")]  # the whole file in one PATCH
    assert requests.errors == []


def test_reload_mid_upload_resumes(
    page: tuple[Any, Requests], origins: Origins, tmp_path: Path
) -> None:
    tab, requests = page
    path = tmp_path / "big.bin"
    content = os.urandom(6 * MiB)  # under Golden Retriever's 10 MiB per file in IndexedDB
    path.write_bytes(content)
    choose(tab, path)
    tab.wait_for_function("() => window.demoUppy.getFiles().some((f) => f.tus && f.tus.uploadUrl)")
    url = upload_url(tab)
    assert url is not None
    deadline = time.monotonic() + 60
    while origins.offset(url) < len(content) // 4:  # check-points of the single PATCH under way
        assert time.monotonic() < deadline, "the server kept nothing of the PATCH under way"
        time.sleep(0.1)

    tab.reload()
    tab.wait_for_selector("#uppy[data-state=restored]")
    kept = origins.offset(url)
    assert len(content) // 4 <= kept < len(content)
    sent_before = len(requests.sent)
    tab.click(UPLOAD_BUTTON)  # Golden Retriever's "resume" of the restored upload
    tab.wait_for_selector("#uppy[data-state=complete]", timeout=120_000)

    after = requests.sent[sent_before:]
    assert not [r for r in after if r[0] == "POST"]  # the same upload, not a new one
    patches = [(u, offset) for method, u, offset in after if method == "PATCH"]
    assert patches[0] == (url, str(kept))  # resumed from what the server had
    assert origins.offset(url) == len(content)
    assert origins.server.stored_bytes(url.rstrip("/").rsplit("/", 1)[-1]) == content
    assert requests.errors == []
