"""The example project: it passes ``manage.py check``, its demo user's token works, its admin loads."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from chunked_uploads import uploads
from chunked_uploads.models import ChunkedUpload
from chunked_uploads.ranges import ContentRange

from .helpers import LIST_URL, put_chunk

MANAGE = Path(__file__).resolve().parent.parent / "example_project" / "manage.py"


def test_manage_check_passes_with_the_example_settings(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "demo.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_MEDIA_ROOT": str(tmp_path / "media"),
    }
    result = subprocess.run(
        [sys.executable, str(MANAGE), "check", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def create_demo_user(*args: str) -> str:
    out = StringIO()
    call_command("create_demo_user", *args, stdout=out)
    return out.getvalue()


def test_demo_user_token_authenticates(db: None) -> None:
    token = create_demo_user("--quiet").strip()
    assert len(token) == 40 and "\n" not in token
    client = APIClient()
    assert client.get(LIST_URL).status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get(LIST_URL)
    assert response.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {token[:-1]}x")
    assert client.get(LIST_URL).status_code == 401


def test_demo_user_is_reset_not_duplicated(db: None) -> None:
    first = create_demo_user("--quiet").strip()
    output = create_demo_user("--password", "other")
    assert f"API token: {first}" in output
    assert "run again with --superuser" in output  # the admin would refuse this user
    user = get_user_model().objects.get(username="demo")
    assert user.check_password("other")
    assert not user.is_superuser


def test_admin_changelist_loads_for_a_superuser(db: None, user: Any) -> None:
    session = uploads.start(ChunkedUpload, ContentRange.whole(3), "listed.bin", {"user": user})
    session.write(b"abc")
    session.commit()
    create_demo_user("--superuser", "--quiet")
    client = APIClient()
    client.force_login(get_user_model().objects.get(username="demo"))
    response = client.get(reverse("admin:chunked_uploads_chunkedupload_changelist"))
    assert response.status_code == 200
    assert "listed.bin" in response.content.decode()


HOME_LINKS = {
    "/upload/",
    "/uppy/",
    "/api/uploads/",
    "/api/docs/",
    "/api/redoc/",
    "/api/schema/",
    "/admin/",
    "/api-auth/login/",
}


def test_home_page_links_to_every_page(db: None) -> None:
    create_demo_user("--superuser", "--quiet")
    anonymous = APIClient()
    response = anonymous.get("/")
    assert response.status_code == 200
    links = set(re.findall(r'<a href="([^"]+)"', response.content.decode()))
    assert links == HOME_LINKS
    signed_in = APIClient()
    signed_in.force_login(get_user_model().objects.get(username="demo"))
    for link in sorted(links):
        answer = signed_in.get(link, HTTP_ACCEPT="text/html,*/*;q=0.8")  # a browser's
        assert answer.status_code == 200, link


def test_uppy_page_uploads_to_the_tus_endpoint_with_the_users_token(
    db: None, settings: Any
) -> None:
    client = APIClient()
    assert client.get("/uppy/")["Location"] == "/api-auth/login/?next=/uppy/"
    user = get_user_model().objects.create_user("uppy")
    client.force_login(user)
    page = client.get("/uppy/").content.decode()
    token = Token.objects.get(user=user)
    assert f'data-token="{token.key}"' in page
    assert 'data-endpoint="http://testserver/api/tus/"' in page
    assert 'data-chunk-size=""' in page  # tus-js-client's default: the whole file in one PATCH
    assert 'data-chunk-size="5242880"' in client.get("/uppy/?chunk_size=5242880").content.decode()
    settings.DEMO_TUS_ENDPOINT = "http://api.example.test/api/tus/"
    assert (
        'data-endpoint="http://api.example.test/api/tus/"' in client.get("/uppy/").content.decode()
    )


def test_readme_names_every_page_of_the_home_page() -> None:
    readme = (MANAGE.parent.parent / "README.md").read_text()
    for link in HOME_LINKS:
        assert f"http://127.0.0.1:8000{link}" in readme, link


def test_malformed_ids_and_unknown_api_paths_get_json_errors(db: None, user: Any) -> None:
    client = APIClient()
    client.force_login(user)
    for path in ("/api/uploads/0.5/", "/api/uploads/not-a-uuid/", "/api/uploads/a/b/", "/api/"):
        for method in ("get", "delete", "put", "post"):
            response = getattr(client, method)(path)
            assert response["Content-Type"] == "application/json", (method, path)
            # A PUT without a chunk or a POST without a checksum is refused (400) before the id
            # is looked up: the protocol's order of checks.
            expected = 404 if method in ("get", "delete") or path.count("/") != 4 else 400
            assert response.status_code == expected, (method, path)
            assert response.json()["code"], (method, path)
    chunk = put_chunk(client, "/api/uploads/0.5/", b"abc", 0, 3)
    assert (chunk.status_code, chunk.json()["code"]) == (404, "not_found")


def test_upload_page_gives_the_chunk_size_in_the_units_of_its_progress(db: None, user: Any) -> None:
    client = APIClient()
    client.force_login(user)
    page = client.get("/upload/").content.decode()
    assert "Chunks of 8.0 MiB;" in page  # 8 * 1024 * 1024 bytes; the script reports MiB too
    assert "Chunks of 64.0 KiB;" in client.get("/upload/?chunk_size=65536").content.decode()
    script = (MANAGE.parent / "demo" / "static" / "demo" / "uploader.js").read_text()
    assert '["bytes", "KiB", "MiB", "GiB", "TiB"]' in script


def test_example_throttles_users_and_bounds_sizes_but_tests_do_not_throttle() -> None:
    from demo import settings as example
    from django.conf import settings

    from chunked_uploads.views import ChunkedUploadViewSet

    throttles = example.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]
    assert "rest_framework.throttling.UserRateThrottle" in throttles
    assert example.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["user"] == "600/minute"
    assert example.DRF_CHUNKED_UPLOAD_MAX_BYTES == 20 * 1024**3
    assert example.DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_UPLOADS == 100
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] == []
    assert ChunkedUploadViewSet.throttle_classes == []
