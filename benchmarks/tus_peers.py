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

SETTINGS = """
BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# drf-tus reads every PATCH body whole (request.body): Django's 2.5 MiB cap would refuse chunks.
DATA_UPLOAD_MAX_MEMORY_SIZE = None
REST_FRAMEWORK_TUS = {"UPLOAD_DIR": os.path.join(MEDIA_ROOT, "tmp")}
"""
MIDDLEWARE = ' + ["rest_framework_tus.middleware.TusMiddleware"]'

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


def write_drf_tus_project(root: Path) -> Path:
    """Write the drf-tus project under ``root``; return the directory holding ``manage.py``."""
    return seed_project.write_project(
        root, "tusproj", "rest_framework_tus", URLS, SETTINGS, MIDDLEWARE
    )


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
    python = seed_project.ensure_venv(cache / "drf-tus-venv", DRF_TUS_REQUIREMENT)
    project = write_drf_tus_project(workdir / "drf-tus-project")
    prefix = "/files/files/"
    label = "drf-tus 2.0.3"
    server = servers.start_project("drf-tus", label, python, project, "tusproj", workdir, prefix)
    server.tus_prefix = prefix
    return server
