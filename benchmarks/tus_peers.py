"""The tus peers of ``--protocol tus``: @tus/server 2.4.5 under Node, drf-tus 2.0.3 under gunicorn.

Both are installed by the benchmark into the cache dir (``benchmarks/.cache``, git-ignored), never
committed: @tus/server and its ``FileStore`` with npm into ``tus-node/`` (a Node server of a dozen
lines written here), drf-tus with pip into its own virtualenv ``drf-tus-venv/``, served from a
tiny generated Django project under the same gunicorn settings as ours (2 sync workers).

drf-tus is set up as its README says (``TusMiddleware``, its ``UploadViewSet`` on its router,
``rest_framework_tus`` installed), with DRF's ``TokenAuthentication`` like the other Django
servers, the example project's middleware and SQLite in WAL mode. It reads each ``PATCH`` body
whole into memory (``request.body``), so ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is lifted (Django's
2.5 MiB default would refuse any larger chunk), and on the last byte it copies the file into
its model's ``FileField`` (its default save handler).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import seed_project
import servers

TUS_NODE_PACKAGES = {"@tus/server": "2.4.5", "@tus/file-store": "2.1.1"}
DRF_TUS_REQUIREMENT = "drf-tus==2.0.3"

NODE_SERVER = """\
// @tus/server with its FileStore, listening on the socket the benchmark passes (fd in TUS_FD).
import { Server } from "@tus/server";
import { FileStore } from "@tus/file-store";

const server = new Server({
  path: "/files",
  datastore: new FileStore({ directory: process.env.TUS_DIRECTORY }),
});
server.listen({ fd: Number(process.env.TUS_FD) });
"""

SETTINGS = '''\
"""Settings of the generated drf-tus project (see benchmarks/tus_peers.py)."""
import os

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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
    "rest_framework_tus",
]
MIDDLEWARE = __EXAMPLE_MIDDLEWARE__ + ["rest_framework_tus.middleware.TusMiddleware"]
ROOT_URLCONF = "tusproj.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["DRF_TUS_DB_PATH"],
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
MEDIA_ROOT = os.environ["DRF_TUS_MEDIA_ROOT"]
# drf-tus reads every PATCH body whole (request.body): Django's 2.5 MiB cap would refuse chunks.
DATA_UPLOAD_MAX_MEMORY_SIZE = None
REST_FRAMEWORK_TUS = {"UPLOAD_DIR": os.path.join(MEDIA_ROOT, "tmp")}
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

URLS = '''\
"""drf-tus's own URLs, as its README mounts them."""
from django.urls import include, path

urlpatterns = [path("files/", include("rest_framework_tus.urls", namespace="rest_framework_tus"))]
'''


def ensure_node(directory: Path) -> Path:
    """@tus/server and @tus/file-store installed with npm (once); the server script's path."""
    if not shutil.which("node") or not shutil.which("npm"):
        raise RuntimeError("node and npm are needed for the @tus/server peer")
    directory.mkdir(parents=True, exist_ok=True)
    package = {"name": "bench-tus-node", "private": True, "type": "module"}
    package["dependencies"] = TUS_NODE_PACKAGES  # type: ignore[assignment]
    manifest = directory / "package.json"
    text = json.dumps(package, indent=1) + "\n"
    installed = directory / "node_modules" / "@tus" / "server" / "package.json"
    current = manifest.read_text() if manifest.exists() else None
    if current != text or not installed.exists():
        manifest.write_text(text)
        npm = ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"]
        subprocess.run(npm, cwd=directory, check=True, timeout=600)
    script = directory / "server.mjs"
    script.write_text(NODE_SERVER)
    return script


def ensure_drf_tus_venv(venv: Path) -> Path:
    """drf-tus 2.0.3 and gunicorn in their own virtualenv (once); its Python."""
    python = venv / "bin" / "python"
    if not (venv / "bin" / "gunicorn").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, DRF_TUS_REQUIREMENT, seed_project.SERVER_REQUIREMENT], check=True)
    return python


def write_drf_tus_project(root: Path) -> Path:
    """Write the drf-tus project under ``root``; return the directory holding ``manage.py``."""
    package = root / "tusproj"
    package.mkdir(parents=True, exist_ok=True)
    middleware = repr(seed_project.example_middleware())
    files = {
        package / "__init__.py": "",
        package / "settings.py": SETTINGS.replace("__EXAMPLE_MIDDLEWARE__", middleware),
        package / "urls.py": URLS,
        package / "wsgi.py": seed_project.WSGI.replace("seedproj", "tusproj"),
        root / "manage.py": seed_project.MANAGE.replace("seedproj", "tusproj"),
    }
    for path, text in files.items():
        path.write_text(text)
    return root


def start_tus_node(workdir: Path, cache: Path) -> servers.Server:
    """@tus/server 2.4.5 with its FileStore: one Node process on a socket bound here."""
    script = ensure_node(cache / "tus-node")
    media = workdir / "tus-node-media"
    media.mkdir()
    sock = servers.listen()
    fd = sock.fileno()
    log = workdir / "tus-node.log"
    env = {**os.environ, "TUS_FD": str(fd), "TUS_DIRECTORY": str(media)}
    with log.open("ab") as output:
        process = subprocess.Popen(
            ["node", str(script)],
            cwd=script.parent,
            env=env,
            pass_fds=(fd,),
            stdout=output,
            stderr=output,
        )
    port = sock.getsockname()[1]
    sock.close()
    name = f"@tus/server {TUS_NODE_PACKAGES['@tus/server']}"
    server = servers.Server(name, process, port, media, None, "/files", log, tus_prefix="/files")
    server.single_process = True
    servers.wait_ready(server)
    return server


def start_drf_tus(workdir: Path, cache: Path) -> servers.Server:
    """drf-tus 2.0.3 from its cached virtualenv, behind the generated project, 2 sync workers."""
    python = ensure_drf_tus_venv(cache / "drf-tus-venv")
    project = write_drf_tus_project(workdir / "drf-tus-project")
    media = workdir / "drf-tus-media"
    media.mkdir()
    env = {
        "DJANGO_SETTINGS_MODULE": "tusproj.settings",
        "DRF_TUS_DB_PATH": str(workdir / "drf-tus.sqlite3"),
        "DRF_TUS_MEDIA_ROOT": str(media),
    }
    full_env = {**os.environ, **env}
    manage = [str(python), "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=project, env=full_env, check=True)
    token = subprocess.run(
        [*manage, "shell", "-c", seed_project.CREATE_TOKEN],
        cwd=project,
        env=full_env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[-1]
    gunicorn = python.parent / "gunicorn"
    process, port, log = servers.start_gunicorn(
        "drf-tus", gunicorn, "tusproj.wsgi", project, env, workdir
    )
    prefix = "/files/files/"
    server = servers.Server("drf-tus 2.0.3", process, port, media, token, prefix, log)
    server.tus_prefix = prefix
    servers.wait_ready(server)
    return server
