"""Offline API docs: Swagger UI and Redoc from drf-spectacular-sidecar, no CDN, and a real browser
(Debian chromium driven by Playwright) that authorizes with a token and uploads a chunk through
Swagger UI's "Try it out". The browser test skips when chromium or playwright is missing.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from chunked_uploads.models import ChunkedUpload

from .helpers import CHROMIUM, CHROMIUM_ARGS, stored_bytes

EXTERNAL = re.compile(rb"""(?:src|href)=["'](?:https?:)?//""")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url,bundle",
    [
        ("/api/docs/", b"/static/drf_spectacular_sidecar/swagger-ui-dist/"),
        ("/api/redoc/", b"/api/redoc/redoc.standalone.js"),
    ],
)
def test_docs_pages_load_everything_from_this_server(client: Any, url: str, bundle: bytes) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert EXTERNAL.search(response.content) is None, "a docs page loads something from elsewhere"
    assert bundle in response.content


@pytest.mark.django_db
def test_redoc_bundle_takes_its_logo_from_this_server(client: Any) -> None:
    response = client.get("/api/redoc/redoc.standalone.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    body = response.content
    assert b"cdn.redoc.ly" not in body
    assert b'"/static/demo/redoc-logo.svg"' in body
    assert b"sourceMappingURL=/static/drf_spectacular_sidecar/redoc/bundles/" in body


@pytest.mark.django_db
def test_sidecar_assets_are_served(client: Any) -> None:
    from django.contrib.staticfiles import finders

    for asset in ("swagger-ui-dist/swagger-ui-bundle.js", "redoc/bundles/redoc.standalone.js"):
        assert finders.find(f"drf_spectacular_sidecar/{asset}"), asset


@pytest.fixture
def token(transactional_db: None) -> str:
    user = get_user_model().objects.create_user("swagger", password="swagger-password")
    return str(Token.objects.create(user=user).key)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no chromium at {CHROMIUM}")
def test_swagger_ui_try_it_out_uploads_a_chunk(live_server: Any, token: str) -> None:
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    chunk = os.urandom(1000)
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            status, body = upload_through_swagger(page, live_server.url, token, chunk)
        finally:
            browser.close()
    assert status == "200", body
    assert '"offset": 1000' in body and '"size": 2000' in body
    upload = ChunkedUpload.objects.get()
    assert (upload.offset, upload.size, upload.user.username) == (1000, 2000, "swagger")
    assert upload.filename == "chunk.bin"  # not the schema's example ("string" before)
    assert stored_bytes(upload) == chunk


def upload_through_swagger(page: Any, base_url: str, token: str, chunk: bytes) -> tuple[str, str]:
    """Authorize, open ``PUT /api/uploads/``, try it out with a file; return status and body."""
    external: list[str] = []
    page.on(
        "request",
        lambda request: None if request.url.startswith(base_url) else external.append(request.url),
    )
    page.goto(f"{base_url}/api/docs/")
    page.set_default_timeout(15_000)
    page.locator("button.authorize").first.click()  # opens the "Available authorizations" dialog
    credentials = page.locator(".auth-container", has_text="tokenAuth")
    credentials.locator("input").fill(f"Token {token}")
    credentials.locator("button.authorize").click()
    page.locator("button.btn-done").first.click()

    operation = page.locator("#operations-uploads-uploads_create")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.locator('tr[data-param-name="Content-Range"] input').fill("bytes 0-999/2000")
    operation.locator('input[type="file"]').set_input_files(
        {"name": "chunk.bin", "mimeType": "application/octet-stream", "buffer": chunk}
    )
    operation.get_by_role("button", name="Execute").click()
    live = operation.locator(".live-responses-table .response")
    live.locator(".response-col_status").wait_for(timeout=30_000)
    status = live.locator(".response-col_status").first.inner_text().strip()
    body = live.locator(".response-col_description pre").first.inner_text()
    assert not external, f"the page fetched from elsewhere: {external}"
    return status, body
