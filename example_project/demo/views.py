"""The example project's pages: the home page that links to everything, the browser uploader (a
file picker that speaks the chunked upload protocol in plain JS), the Uppy page (tus) and the JSON
404 of the API."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie
from rest_framework.authtoken.models import Token
from rest_framework.decorators import (
    api_view,
    authentication_classes,
    permission_classes,
    schema,
)
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from chunked_uploads.conf import conf

DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
MIN_CHUNK_SIZE = 1024  # smaller chunks only make sense in tests: allow them, but not absurd ones


def chunk_size(request: HttpRequest) -> int:
    """``?chunk_size=65536`` (bytes) overrides the default, to try (and test) many small chunks."""
    try:
        size = int(request.GET.get("chunk_size", DEFAULT_CHUNK_SIZE))
    except ValueError:
        return DEFAULT_CHUNK_SIZE
    return max(size, MIN_CHUNK_SIZE)


@login_required(login_url="/api-auth/login/")
@ensure_csrf_cookie
def uploader(request: HttpRequest) -> HttpResponse:
    """The page; the API calls it makes are authenticated by the session and the CSRF token."""
    context = {
        "list_url": reverse("chunkedupload-list"),
        "chunk_size": chunk_size(request),
        "chunk_size_text": binary_size(chunk_size(request)),
        "checksum": conf.checksum,
    }
    return render(request, "demo/uploader.html", context)


@login_required(login_url="/api-auth/login/")
def uppy_page(request: HttpRequest) -> HttpResponse:
    """Uppy's Dashboard uploading over tus to ``settings.DEMO_TUS_ENDPOINT`` (this project's
    ``/api/tus/`` unless set, possibly on another origin) with the user's API token:
    ``?chunk_size=`` (bytes) splits each file into PATCHes of that size instead of one."""
    token, _ = Token.objects.get_or_create(user=request.user)
    endpoint = settings.DEMO_TUS_ENDPOINT or request.build_absolute_uri("/api/tus/")
    chunk = chunk_size(request) if "chunk_size" in request.GET else None
    context = {"endpoint": endpoint, "token": token.key, "chunk_size": chunk}
    return render(request, "demo/uppy.html", context)


def binary_size(size: int) -> str:
    """``8388608`` → ``8.0 MiB``: the units (and format) the page's script reports progress in."""
    units = ["KiB", "MiB", "GiB", "TiB"]
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    while value >= 1024 and len(units) > 1:
        value /= 1024
        units.pop(0)
    return f"{value:.1f} {units[0]}"


def home(request: HttpRequest) -> HttpResponse:
    """``/``: one link to each page of the example project, with a line on what it shows."""
    return render(request, "demo/home.html", {"has_spectacular": settings.HAS_SPECTACULAR})


ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]


@api_view(ALL_METHODS)
@authentication_classes([])
@permission_classes([])
@schema(None)
def api_not_found(request: Request, *args: Any, **kwargs: Any) -> Response:
    """Any other path under ``/api/``: the API's JSON 404 (``detail`` and ``code``), not Django's
    HTML page, so that clients parse every answer of the API the same way."""
    error = NotFound()
    return Response({"detail": error.detail, "code": error.default_code}, status=error.status_code)
