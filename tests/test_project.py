"""A project built the way users build theirs, from the code blocks of ``docs/project.md``.

``django-admin startproject`` in a temporary folder, its own ``documents`` app, DRF's
``DefaultRouter``, token authentication, drf-spectacular with offline Redoc: every file and command
comes from the docs page (a fenced block whose first line is ``# <path>`` is written to that path,
or appended to it when the comment says ``add at the end``; the ``bash`` blocks' commands are run
as written). The package comes from the wheel built from this checkout, installed into a venv of
its own (its dependencies are the suite's, through a ``.pth`` file, so nothing is downloaded). The
project runs under gunicorn; the CLI installed from the wheel and a client generated with
openapi-python-client from the project's own schema upload to it, and each completed upload's
bytes are checked in the ``Document`` the docs' receiver handed them off to.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
import sysconfig
import time
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from . import servers

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "project.md"
FENCE = re.compile(r"^( *)```(\w+)\n(.*?)^\1```$", re.MULTILINE | re.DOTALL)
PATH_COMMENT = re.compile(r"^# ([\w./-]+\.(?:py|yaml))(: add at the end)?$")
PACKAGE = "mysite_client"
MiB = 1024 * 1024

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Block:
    language: str
    text: str


def blocks() -> list[Block]:
    """The page's fenced code blocks, in order, de-indented (blocks inside list items)."""
    found = []
    for match in FENCE.finditer(PAGE.read_text(encoding="utf-8")):
        indent = len(match.group(1))
        lines = [line[indent:] for line in match.group(3).splitlines()]
        found.append(Block(match.group(2), "\n".join(lines) + "\n"))
    return found


def commands(prefix: str) -> list[str]:
    """The lines of the page's ``bash`` blocks that start with ``prefix``."""
    return [
        line.strip()
        for block in blocks()
        if block.language == "bash"
        for line in block.text.splitlines()
        if line.strip().startswith(prefix)
    ]


def write_files(folder: Path) -> list[str]:
    """Write (or append) every block that names its file; return the paths, in order."""
    written = []
    for block in blocks():
        first, _, rest = block.text.partition("\n")
        match = PATH_COMMENT.match(first)
        if match is None:
            continue
        path = folder / match.group(1)
        if match.group(2):
            path.write_text(path.read_text() + "\n" + rest)
        else:
            path.write_text(rest)
        written.append(match.group(1))
    return written


@dataclass
class Project:
    folder: Path
    python: Path
    bin: Path
    env: dict[str, str]

    def run(self, command: str, timeout: float = 120) -> str:
        """A command from the docs, with ``python``/``django-admin`` of the project's venv."""
        words = shlex.split(command)
        if words[0] == "python":
            words[0] = str(self.python)
        elif words[0] == "django-admin":
            words[:1] = [str(self.python), "-m", "django"]
        else:
            words[0] = str(self.bin / words[0])
        result = subprocess.run(
            words,
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout


def project_venv(folder: Path, wheel: Path) -> Path:
    """A venv holding the wheel; the suite's site-packages provide the dependencies."""
    venv.EnvBuilder(with_pip=False).create(folder)
    python = folder / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Appended after the venv's own site-packages: the wheel's chunked_uploads comes first, and
    # the suite's editable install (a .pth file there) is not processed from this path.
    Path(site, "suite-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True)
    return python


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    if not (ROOT / "chunked_uploads").is_dir():
        pytest.skip("no source tree to build the wheel from (the wheel's own test run)")
    work = tmp_path_factory.mktemp("user-project")
    dist = work / "dist"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)]
    subprocess.run(build, check=True, capture_output=True, timeout=300)
    (wheel,) = dist.glob("chunked_uploads-*.whl")
    python = project_venv(work / "venv", wheel)
    folder = work / "mysite"
    folder.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "DATABASE_URL")
    }
    env.update(
        DJANGO_SUPERUSER_PASSWORD="alice-password",
        XDG_CACHE_HOME=str(work / "cache"),
        PYTHONUNBUFFERED="1",
    )
    site = Project(folder, python, python.parent, env)
    where = site.run("python -c 'import chunked_uploads; print(chunked_uploads.__file__)'")
    assert where.startswith(str(work / "venv")), where  # the wheel's copy, not the checkout
    for command in commands("django-admin") + commands("python manage.py startapp"):
        site.run(command)
    written = write_files(folder)
    assert written == [
        "mysite/settings.py",
        "documents/models.py",
        "documents/receivers.py",
        "documents/apps.py",
        "documents/views.py",
        "mysite/urls.py",
        "client-config.yaml",
    ]
    with (folder / "mysite" / "settings.py").open("a") as settings:
        settings.write('\nDEBUG = False\nALLOWED_HOSTS = ["127.0.0.1"]\n')  # as in production
    for command in commands("python manage.py"):
        if "startapp" in command:
            continue
        if "createsuperuser" in command:
            command += " --noinput"  # the password comes from DJANGO_SUPERUSER_PASSWORD
        output = site.run(command)
        if "drf_create_token" in command:
            site.env["TOKEN"] = output.split()[2]  # "Generated token <key> for user alice"
    return site


@pytest.fixture(scope="module")
def server(project: Project) -> Iterator[str]:
    with servers._listening_socket() as listener:
        fd = listener.fileno()
        command = [
            str(project.python), "-m", "gunicorn", "mysite.wsgi", "--bind", f"fd://{fd}",
            "--workers", "2", "--log-level", "warning",
        ]  # fmt: skip
        process = subprocess.Popen(command, cwd=project.folder, env=project.env, pass_fds=[fd])
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        try:
            wait_until_serving(process, url)
            yield url
        finally:
            servers._stop(process)


def wait_until_serving(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + servers.BOOT_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, f"gunicorn exited with {process.returncode}"
        try:
            httpx.get(url + "/api/", timeout=5)
            return
        except httpx.TransportError:
            time.sleep(0.05)  # waiting on another process: there is no clock to fake
    raise TimeoutError("gunicorn did not start serving")


def api(project: Project, server: str) -> httpx.Client:
    headers = {"Authorization": f"Token {project.env['TOKEN']}"}
    return httpx.Client(base_url=server, headers=headers, timeout=60)


def document_bytes(project: Project, http: httpx.Client, upload_id: str) -> bytes:
    """The bytes of the ``Document`` made from an upload, read where its ``FileField`` keeps them."""
    documents = http.get("/api/documents/").json()
    (document,) = [d for d in documents if d["upload_id"] == upload_id]
    name = document["file"].split("/media/", 1)[1]
    return (project.folder / "media" / name).read_bytes()


def test_the_api_root_schema_and_docs(project: Project, server: str) -> None:
    with api(project, server) as http:
        root = http.get("/api/").json()
        assert root == {
            "uploads": f"{server}/api/uploads/",
            "documents": f"{server}/api/documents/",
        }
        schema = http.get("/api/schema/", params={"format": "json"})
        assert schema.status_code == 200, schema.text
        operations = {
            operation["operationId"]
            for path in schema.json()["paths"].values()
            for operation in path.values()
        }
        assert {"uploads_create", "uploads_append", "uploads_complete"} <= operations
        assert "documents_list" in operations
        redoc = http.get("/api/redoc/")
        assert redoc.status_code == 200
        assert "fonts.googleapis" not in redoc.text  # the package's offline template was found
        assert "/static/drf_spectacular_sidecar/redoc/" in redoc.text


def test_the_cli_uploads_and_the_document_gets_the_bytes(
    project: Project, server: str, tmp_path: Path
) -> None:
    video = tmp_path / "video.mp4"
    payload = os.urandom(3 * MiB + 12345)
    video.write_bytes(payload)
    (command,) = commands("chunked-uploads upload")
    command = command.replace("video.mp4", str(video)).replace("http://127.0.0.1:8000", server)
    command = command.replace('"$TOKEN"', project.env["TOKEN"])
    output = project.run(command + " --chunk-size 1MiB --multipart")
    upload = json.loads(output)
    assert upload["status"] == "complete"
    with api(project, server) as http:
        assert document_bytes(project, http, upload["id"]) == payload
        # The upload's record goes; the document's bytes stay.
        assert http.delete(upload["url"]).status_code == 204
        assert document_bytes(project, http, upload["id"]) == payload
    assert not list((project.folder / "media" / "chunked_uploads").rglob("*.*"))


def test_a_generated_client_uploads_in_chunks(
    project: Project, server: str, tmp_path: Path
) -> None:
    pytest.importorskip("openapi_python_client", reason="openapi-python-client is not installed")
    with api(project, server) as http:
        (project.folder / "schema.yaml").write_text(http.get("/api/schema/").text)
    (generate,) = commands("openapi-python-client generate")
    words = shlex.split(generate)
    words[:1] = [sys.executable, "-m", "openapi_python_client"]
    subprocess.run(words, cwd=project.folder, check=True, capture_output=True, timeout=180)
    sys.path.insert(0, str(project.folder))
    try:
        uploaded = upload_with_generated_client(project, server)
    finally:
        sys.path.remove(str(project.folder))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]
    upload_id, payload = uploaded
    with api(project, server) as http:
        assert document_bytes(project, http, upload_id) == payload


def upload_with_generated_client(project: Project, server: str) -> tuple[str, bytes]:
    package: Any = importlib.import_module(PACKAGE)
    models: Any = importlib.import_module(f"{PACKAGE}.models")
    types: Any = importlib.import_module(f"{PACKAGE}.types")
    calls = {
        name: importlib.import_module(f"{PACKAGE}.api.uploads.uploads_{name}")
        for name in ("create", "append", "complete")
    }
    client = package.AuthenticatedClient(
        base_url=server, token=project.env["TOKEN"], prefix="Token"
    )
    payload = os.urandom(2 * MiB + 777)
    chunk, total = MiB, len(payload)

    def form(start: int) -> tuple[Any, str]:
        data = payload[start : start + chunk]
        body = models.ChunkRequest(file=types.File(payload=io.BytesIO(data), file_name="scan.pdf"))
        return body, f"bytes {start}-{start + len(data) - 1}/{total}"

    body, content_range = form(0)
    upload = calls["create"].sync(client=client, body=body, content_range=content_range)
    assert upload.checksum_algorithm == "md5", upload
    for start in range(chunk, total, chunk):  # multipart PUTs on the upload's URL
        body, content_range = form(start)
        step = calls["append"].sync(
            upload.id, client=client, body=body, content_range=content_range
        )
        assert step.offset == min(start + chunk, total), step
    checksum = hashlib.new(upload.checksum_algorithm, payload).hexdigest()
    done = calls["complete"].sync(
        upload.id, client=client, body=models.CompletionRequest.from_dict({"md5": checksum})
    )
    assert done.status.value == "complete", done
    return str(upload.id), payload
