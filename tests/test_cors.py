"""CORS in the example project (django-cors-headers): a browser script on another origin can create
a tus upload and read what the server answers.

Against the example project under gunicorn with ``DJANGO_CORS_ALLOWED_ORIGINS`` set, as a browser
would send them: the preflight of a tus ``POST`` (every request header tus-js-client and Uppy send),
then the cross-origin ``POST`` whose ``201`` must expose ``Location`` and the ``Upload-*``/``Tus-*``
headers, without which the browser hides them and the client stalls. The whole browser round trip
is in ``test_uppy_page.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from . import servers

pytest.importorskip(
    "corsheaders", reason="django-cors-headers (the example extra) is not installed"
)

ORIGIN = "http://localhost:8123"
TUS_URL = "/api/tus/"
TUS_REQUEST_HEADERS = [
    "authorization",
    "tus-resumable",
    "upload-length",
    "upload-metadata",
    "upload-offset",
    "upload-checksum",
    "upload-concat",
    "upload-defer-length",
    "x-http-method-override",
    "content-type",
]
EXPOSED = {
    "location",
    "upload-offset",
    "upload-length",
    "upload-metadata",
    "upload-expires",
    "tus-resumable",
    "tus-version",
    "tus-extension",
    "tus-max-size",
}


@pytest.fixture(scope="module")
def server() -> Iterator[servers.LiveServer]:
    environment = {"DJANGO_CORS_ALLOWED_ORIGINS": f"{ORIGIN},http://other.test"}
    with servers.live_server(workers=1, environment=environment) as live:
        yield live


def names(value: str) -> set[str]:
    return {name.strip().lower() for name in value.split(",")}


@pytest.mark.parametrize("method", ["POST", "PATCH", "HEAD", "DELETE"])
def test_preflight_allows_what_tus_clients_send(server: servers.LiveServer, method: str) -> None:
    path = TUS_URL if method == "POST" else f"{TUS_URL}0123456789abcdef/"
    response = httpx.options(
        f"{server.url}{path}",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": ",".join(TUS_REQUEST_HEADERS),
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert method.lower() in names(response.headers["access-control-allow-methods"])
    assert set(TUS_REQUEST_HEADERS) <= names(response.headers["access-control-allow-headers"])
    assert int(response.headers["access-control-max-age"]) > 0


def test_preflight_from_an_origin_not_allowed_gets_no_grant(server: servers.LiveServer) -> None:
    response = httpx.options(
        f"{server.url}{TUS_URL}",
        headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in response.headers


def test_cross_origin_creation_exposes_the_tus_headers(server: servers.LiveServer) -> None:
    headers = {
        **server.headers,
        "Origin": ORIGIN,
        "Tus-Resumable": "1.0.0",
        "Upload-Length": "5",
        "Upload-Metadata": "filename aGVsbG8udHh0",
    }
    created = httpx.post(f"{server.url}{TUS_URL}", headers=headers)
    assert created.status_code == 201, created.text
    assert created.headers["access-control-allow-origin"] == ORIGIN
    assert names(created.headers["access-control-expose-headers"]) >= EXPOSED
    assert created.headers["location"]

    location = httpx.URL(server.url).join(created.headers["location"])
    patch = {**headers, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    del patch["Upload-Length"], patch["Upload-Metadata"]
    patched = httpx.patch(location, headers=patch, content=b"hello")
    assert patched.status_code == 204, patched.text
    assert patched.headers["access-control-allow-origin"] == ORIGIN
    assert patched.headers["upload-offset"] == "5"
    assert "upload-offset" in names(patched.headers["access-control-expose-headers"])


def test_other_paths_are_not_cors_enabled(server: servers.LiveServer) -> None:
    response = httpx.get(f"{server.url}/upload/", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in response.headers


IETF_REQUEST_HEADERS = [
    "authorization",
    "content-type",
    "upload-complete",
    "upload-incomplete",
    "upload-draft-interop-version",
    "upload-length",
    "upload-offset",
    "content-digest",
]
IETF_EXPOSED = {
    "location",
    "upload-offset",
    "upload-complete",
    "upload-incomplete",
    "upload-length",
    "upload-limit",
    "upload-draft-interop-version",
    "repr-digest",
}


def test_the_ietf_draft_across_origins(server: servers.LiveServer) -> None:
    preflight = httpx.options(
        f"{server.url}/api/resumable/",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": ",".join(IETF_REQUEST_HEADERS),
        },
    )
    assert set(IETF_REQUEST_HEADERS) <= names(preflight.headers["access-control-allow-headers"])
    headers = {
        **server.headers,
        "Origin": ORIGIN,
        "Upload-Draft-Interop-Version": "6",
        "Upload-Complete": "?1",
    }
    created = httpx.post(f"{server.url}/api/resumable/", headers=headers, content=b"hello")
    assert created.status_code == 201, created.text
    assert names(created.headers["access-control-expose-headers"]) >= IETF_EXPOSED
