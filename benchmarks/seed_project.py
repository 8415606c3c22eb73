"""drf-chunked-upload 0.6.0 (the seed) in its own virtualenv, behind a tiny generated Django project
(written here, as is drf-tus's of ``tus_peers.py``: the settings, virtualenv and token they share).

The project is routed the way the seed's own tests route it (``uploads/`` and ``uploads/<uuid:pk>/``
named ``chunkedupload-detail``, ``DRF_CHUNKED_UPLOAD_ABSTRACT_MODEL = False``) and authenticates
with DRF's ``TokenAuthentication``, as the example project does (Basic auth would add a PBKDF2 run
to every chunk), behind the example project's middleware. Its SQLite database is in WAL mode with
``IMMEDIATE`` transactions like the example project's, but keeps Django's connection per request
and ``synchronous=FULL`` unless ``--tuned-sqlite`` gives it the example project's settings.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SEED_REQUIREMENT = "drf-chunked-upload==0.6.0"
EXAMPLE_SETTINGS = (
    Path(__file__).resolve().parent.parent / "example_project" / "demo" / "settings.py"
)
SERVER_REQUIREMENT = "gunicorn"

SETTINGS = '''\
"""Settings of a generated project (see benchmarks/seed_project.py)."""
import os

SECRET_KEY = "benchmark-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "rest_framework.authtoken",
    "__APP__",
]
# The example project's middleware (read from its settings by write_project()): every Django
# server pays the same per-request cost outside the upload view.
MIDDLEWARE = __MIDDLEWARE__
ROOT_URLCONF = "__PACKAGE__.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["PROJECT_DB_PATH"],
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
MEDIA_ROOT = os.environ["PROJECT_MEDIA_ROOT"]
LOGGING = {
    "version": 1,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}},
}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}
'''
SEED_SETTINGS = """
DRF_CHUNKED_UPLOAD_ABSTRACT_MODEL = False
if os.environ.get("SEED_TUNED_SQLITE"):  # the --tuned-sqlite experiment
    DATABASES["default"]["CONN_MAX_AGE"] = None
    DATABASES["default"]["OPTIONS"]["init_command"] += "PRAGMA synchronous=NORMAL;"
"""

URLS = '''\
"""The seed's view, routed as in drf-chunked-upload's own tests."""
from django.urls import path

from drf_chunked_upload.views import ChunkedUploadView

urlpatterns = [
    path("uploads/", ChunkedUploadView.as_view()),
    path("uploads/<uuid:pk>/", ChunkedUploadView.as_view(), name="chunkedupload-detail"),
]
'''

WSGI = """\
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "__PACKAGE__.settings")
application = get_wsgi_application()
"""

MANAGE = """\
import os
import sys

from django.core.management import execute_from_command_line

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "__PACKAGE__.settings")
execute_from_command_line(sys.argv)
"""

CREATE_TOKEN = (
    "from django.contrib.auth.models import User; "
    "from rest_framework.authtoken.models import Token; "
    "user, _ = User.objects.get_or_create(username='bench'); "
    "print(Token.objects.get_or_create(user=user)[0].key)"
)


def ensure_venv(venv: Path, requirement: str = SEED_REQUIREMENT) -> Path:
    """Create a virtualenv with ``requirement`` and gunicorn once (cached); return its Python."""
    python = venv / "bin" / "python"
    gunicorn = venv / "bin" / "gunicorn"
    if not gunicorn.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, requirement, SERVER_REQUIREMENT], check=True)
    return python


def example_middleware() -> list[str]:
    """``MIDDLEWARE`` of the example project, read from its settings file (importing it would
    need the example project's Django set-up).

    Only its plain entries: the conditional ones (``*([...] if HAS_CORS_HEADERS else [])``,
    django-cors-headers, which the generated projects do not install) are left out.
    """
    tree = ast.parse(EXAMPLE_SETTINGS.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "MIDDLEWARE" for target in node.targets
        ):
            assert isinstance(node.value, ast.List), "MIDDLEWARE is not a list literal"
            return [
                ast.literal_eval(element)
                for element in node.value.elts
                if not isinstance(element, ast.Starred)
            ]
    raise LookupError(f"no MIDDLEWARE list in {EXAMPLE_SETTINGS}")


def write_project(
    root: Path, package: str, app: str, urls: str, settings: str = "", middleware: str = ""
) -> Path:
    """Write the project ``package`` under ``root``: ``app`` installed, ``urls`` its URL module,
    ``settings`` added to the shared ones, ``middleware`` an expression added to the example
    project's; return the directory holding ``manage.py``."""
    directory = root / package
    directory.mkdir(parents=True, exist_ok=True)
    shared = SETTINGS.replace("__MIDDLEWARE__", repr(example_middleware()) + middleware)
    files = {
        directory / "__init__.py": "",
        directory / "settings.py": shared.replace("__APP__", app) + settings,
        directory / "urls.py": urls,
        directory / "wsgi.py": WSGI,
        root / "manage.py": MANAGE,
    }
    for path, text in files.items():
        path.write_text(text.replace("__PACKAGE__", package))
    return root


def write_seed_project(root: Path) -> Path:
    """Write the seed project under ``root``; return the directory holding ``manage.py``."""
    return write_project(root, "seedproj", "drf_chunked_upload", URLS, SEED_SETTINGS)
