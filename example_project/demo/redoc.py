"""Redoc, offline: drf-spectacular's Redoc page on drf-spectacular-sidecar's bundle, without the one
request that bundle still sends to the internet.

Redoc's side menu ends in "API docs by Redocly" with a logo whose URL,
``https://cdn.redoc.ly/redoc/logo-mini.svg``, is written into the bundle; no Redoc option turns it
off, and CSS cannot stop an ``<img>`` from loading. So the page loads the sidecar's bundle through
``redoc_bundle``, which serves it with that URL pointing at a logo in this project's static files.
The page's template (``chunked_uploads/redoc_offline.html``, shipped in the package) drops the web fonts drf-spectacular's loads.
"""

from __future__ import annotations

import functools
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.urls import reverse
from drf_spectacular.views import SpectacularRedocView

BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
REMOTE_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
LOCAL_LOGO = "demo/redoc-logo.svg"
SOURCE_MAP = "sourceMappingURL=redoc.standalone.js.map"


@functools.cache
def offline_bundle() -> bytes:
    """The sidecar's Redoc bundle with the logo (and its source map) taken from this server."""
    found = finders.find(BUNDLE)
    if not isinstance(found, str):
        raise FileNotFoundError(f"{BUNDLE} is not in any static files folder")
    source = Path(found).read_text(encoding="utf-8")
    source = source.replace(REMOTE_LOGO, static(LOCAL_LOGO))
    source = source.replace(SOURCE_MAP, f"sourceMappingURL={static(BUNDLE)}.map")
    return source.encode()


def redoc_bundle(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(offline_bundle(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "max-age=3600"
    return response


class OfflineRedocView(SpectacularRedocView):
    template_name = "chunked_uploads/redoc_offline.html"

    @staticmethod
    def _redoc_standalone() -> str:
        return reverse("redoc-bundle")
