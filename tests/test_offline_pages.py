"""Every page of the example project works offline: loaded in headless Debian Chromium (Playwright)
from pytest-django's live server, no page may send a request anywhere but that server, nor log an
error to the console.

Each page is loaded until the network is idle (and, for pages that render late, until a sign that
they are done appears), with every request the page makes recorded. A new page is one more path in
``ANONYMOUS_PAGES`` or ``SIGNED_IN_PAGES``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from .helpers import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
    pytest.mark.django_db(transaction=True),
]
sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright

# Pages seen by a visitor who is not signed in.
ANONYMOUS_PAGES = ["/", "/api-auth/login/", "/admin/login/", "/api/docs/", "/api/redoc/"]
# Pages seen by a signed-in admin (the demo user made with ``create_demo_user --superuser``).
SIGNED_IN_PAGES = [
    "/upload/",
    "/uppy/",  # Uppy from the committed bundle (example_project/uppy/)
    "/admin/",
    "/admin/chunked_uploads/chunkedupload/",
    "/api/uploads/",  # DRF's browsable API
]
# Pages that keep rendering after the network is first idle: wait for their last part.
READY = {
    "/uppy/": ".uppy-Dashboard-AddFiles",
    "/api/docs/": ".opblock",
    "/api/redoc/": "text=API docs by Redocly",  # the side menu's footer, where the logo is
}
LOCAL_SCHEMES = ("data:", "blob:", "about:")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        # Playwright's sync API keeps an asyncio loop in this thread; the test's ORM calls are
        # plain blocking calls, so let Django run them.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageLog:
    """What one browser context asked for and complained about."""

    def __init__(self, context: Any, origin: str) -> None:
        self.origin = origin
        self.requests: list[str] = []
        self.errors: list[str] = []
        context.on("request", lambda request: self.requests.append(request.url))
        context.on("weberror", lambda error: self.errors.append(str(error.error)))

    def watch(self, page: Any) -> None:
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        url = message.location.get("url", "")
        # The browser's own favicon probe of a page that names no icon (the admin, DRF's pages):
        # not something the page asked for, and whichever page comes first gets it.
        if message.type == "error" and not url.endswith("/favicon.ico"):
            self.errors.append(f"{message.text} ({url})")

    def external(self) -> list[str]:
        local = (self.origin + "/", *LOCAL_SCHEMES)
        return [url for url in self.requests if not url.startswith(local)]


def visit(browser: Any, base_url: str, path: str, *, sign_in: bool) -> PageLog:
    context = browser.new_context()
    log = PageLog(context, base_url)
    try:
        page = context.new_page()
        log.watch(page)
        if sign_in:
            page.goto(f"{base_url}/admin/login/")
            page.fill("#id_username", "demo")
            page.fill("#id_password", "demo")
            page.click("[type=submit]")
            page.wait_for_url(f"{base_url}/admin/")
        response = page.goto(f"{base_url}{path}", wait_until="networkidle")
        assert response is not None and response.status == 200, path
        assert page.url == f"{base_url}{path}", f"{path} redirected to {page.url}"
        if path in READY:
            page.wait_for_selector(READY[path], timeout=15_000)
            page.wait_for_load_state("networkidle")
    finally:
        context.close()
    return log


@pytest.fixture
def admin(transactional_db: None) -> Any:
    return get_user_model().objects.create_superuser("demo", password="demo")


@pytest.mark.parametrize("path", ANONYMOUS_PAGES)
def test_anonymous_page_asks_nothing_of_the_internet(
    browser: Any, live_server: Any, path: str
) -> None:
    log = visit(browser, live_server.url, path, sign_in=False)
    assert f"{live_server.url}{path}" in log.requests
    assert log.external() == [], f"{path} sent requests elsewhere"
    assert log.errors == [], f"{path} logged errors"


@pytest.mark.parametrize("path", SIGNED_IN_PAGES)
def test_signed_in_page_asks_nothing_of_the_internet(
    browser: Any, live_server: Any, admin: Any, path: str
) -> None:
    log = visit(browser, live_server.url, path, sign_in=True)
    assert f"{live_server.url}{path}" in log.requests
    assert log.external() == [], f"{path} sent requests elsewhere"
    assert log.errors == [], f"{path} logged errors"
