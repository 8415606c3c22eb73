"""Settings of the example project: SQLite and local media under this folder, no other service.

``DATABASE_URL`` (``postgres://...``, ``mysql://...``) switches the database, for the tests'
database matrix and for trying the app on PostgreSQL or MariaDB.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from .database import from_url

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-example-key-change-me-in-production")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "chunked_uploads",
    "demo",
]
HAS_SPECTACULAR = importlib.util.find_spec("drf_spectacular") is not None
if HAS_SPECTACULAR:
    INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar"]
# Prometheus metrics at /metrics/ when prometheus_client (the metrics extra) is installed.
HAS_PROMETHEUS = importlib.util.find_spec("prometheus_client") is not None
DRF_CHUNKED_UPLOAD_METRICS = HAS_PROMETHEUS
# CORS for browsers on other origins (the Uppy page served elsewhere) when django-cors-headers
# (the example extra) is installed: see "Browsers on another origin" below.
HAS_CORS_HEADERS = importlib.util.find_spec("corsheaders") is not None
if HAS_CORS_HEADERS:
    INSTALLED_APPS += ["corsheaders"]

MIDDLEWARE = [
    *(["corsheaders.middleware.CorsMiddleware"] if HAS_CORS_HEADERS else []),  # before Common...
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "demo.urls"
WSGI_APPLICATION = "demo.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {"default": from_url(os.environ.get("DATABASE_URL", ""), BASE_DIR / "db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"

STATIC_URL = "static/"
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "media/"

REST_FRAMEWORK: dict[str, Any] = {
    # Token auth is one indexed lookup per request; Basic auth would run PBKDF2 (~0.3 s) each time.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Each chunk is a request: 600 a minute lets one user send 10 chunks a second, and stops a
    # script that creates thousands of uploads. The counts live in the cache; with several
    # processes or machines give CACHES a shared backend (Redis, Memcached, the database).
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"user": "600/minute", "anon": "60/minute"},
}
if HAS_SPECTACULAR:
    REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_spectacular.openapi.AutoSchema"

SPECTACULAR_SETTINGS = {
    "TITLE": "chunked_uploads example API",
    "DESCRIPTION": "Large, resumable, chunked file uploads: the protocol is in the project's docs.",
    "VERSION": "1",
    # Request and response components apart: a chunk is `format: binary` only in requests.
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc from drf-spectacular-sidecar's static files: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
}

# Browsers on another origin (docs/tus.md, "CORS"): the origins allowed to call the API, e.g.
# DJANGO_CORS_ALLOWED_ORIGINS="https://app.example.com,http://localhost:5173"; none by default.
CORS_ALLOWED_ORIGINS = [
    origin.strip()
    for origin in os.environ.get("DJANGO_CORS_ALLOWED_ORIGINS", "").split(",")
    if origin.strip()
]
CORS_URLS_REGEX = r"^/api/"
CORS_ALLOW_METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
# django-cors-headers' defaults (authorization, content-type, x-csrftoken, ...) and what tus
# clients send: tus-js-client and Uppy stall without them, as the browser refuses the preflight.
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "user-agent",
    "x-csrftoken",
    "x-requested-with",
    "content-disposition",  # the native protocol's chunk requests (docs/browser.md)
    "content-range",
    "tus-resumable",
    "upload-checksum",
    "upload-concat",
    "upload-defer-length",
    "upload-length",
    "upload-metadata",
    "upload-offset",
    "x-http-method-override",
    # The IETF resumable-upload draft (docs/ietf.md): tus-js-client's ietf-draft modes.
    "upload-complete",
    "upload-incomplete",
    "upload-draft-interop-version",
    "content-digest",
]
# Response headers a script on another origin may read. Without Location and Upload-Offset a tus
# client cannot go past the 201 of its POST nor resume (the most reported tus integration bug).
CORS_EXPOSE_HEADERS = [
    "Location",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Metadata",
    "Upload-Expires",
    "Upload-Concat",
    "Upload-Defer-Length",
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
    "Tus-Checksum-Algorithm",
    "Repr-Digest",
    "Upload-Complete",
    "Upload-Incomplete",
    "Upload-Limit",
    "Upload-Draft-Interop-Version",
]
# The tus endpoint the Uppy page (/uppy/) uploads to: this project's /api/tus/ unless set, e.g. to
# the same API served under another host name, to see CORS at work.
DEMO_TUS_ENDPOINT = os.environ.get("DEMO_TUS_ENDPOINT", "")
# Preflights are cached for a day: a tus upload sends one per PATCH otherwise.
CORS_PREFLIGHT_MAX_AGE = 86400
# The largest file (a declared total over it is refused before any byte is read) and per-user
# limits on unfinished uploads: without them one user could declare 2**63 - 1 bytes, or open
# thousands of uploads (docs/deployment.md, "Hostile clients").
DRF_CHUNKED_UPLOAD_MAX_BYTES = 20 * 1024**3  # 20 GiB
DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_UPLOADS = 100
DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_BYTES = 100 * 1024**3  # 100 GiB

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}},
}
# Upload events and refused requests (docs/metrics-and-logs.md): CHUNKED_UPLOADS_LOG_LEVEL=INFO
# shows every event. Unset, Python prints the app's warnings (refused requests) to stderr itself.
if os.environ.get("CHUNKED_UPLOADS_LOG_LEVEL"):
    LOGGING["loggers"]["chunked_uploads"] = {  # type: ignore[index]
        "handlers": ["console"],
        "level": os.environ["CHUNKED_UPLOADS_LOG_LEVEL"],
    }
