"""Clients generated from ``tests/schema.yaml`` complete real multi-chunk uploads on a live server.

Python: openapi-python-client (pinned in ``tests/clients/python/requirements.txt``) generates a
package into a temporary folder; ``mypy --strict`` checks it, and a test uploads through it against
the example project under gunicorn, with a real interruption (a chunk whose body ends early) and a
resume from the offset that ``retrieve`` reports. TypeScript: @hey-api/openapi-ts with its fetch
client (pinned in ``tests/clients/typescript/package-lock.json``) generates a client; ``tsc --noEmit``
checks it with ``upload.ts``, which then runs under Node against the same server. The TypeScript
tests skip when ``node``/``npm`` are missing. docs/clients.md has the same commands for users.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import pytest

from . import servers

TESTS = Path(__file__).resolve().parent
SCHEMA = TESTS / "schema.yaml"
PYTHON_CONFIG = TESTS / "clients" / "python" / "config.yaml"
TYPESCRIPT = TESTS / "clients" / "typescript"
PACKAGE = "chunked_uploads_client"
CHUNK = 64 * 1024
OPERATIONS = ("create", "append", "complete", "create_complete", "list", "retrieve", "destroy")
FETCH_CLIENT = ("--client", "@hey-api/client-fetch")
NODE_MINIMUM = (20, 19)


def run(args: list[str], cwd: Path, timeout: float = 180, **kwargs: Any) -> str:
    result = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    assert result.returncode == 0, f"{args[0]} failed:\n{result.stdout}\n{result.stderr}"
    output: str = result.stdout
    return output


@pytest.fixture(scope="module")
def server() -> Iterator[servers.LiveServer]:
    with servers.live_server(workers=2) as live:
        yield live


@pytest.fixture(scope="module")
def python_client_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # openapi-python-client 0.29 needs Python >= 3.11; the test extra installs it only there.
    pytest.importorskip("openapi_python_client", reason="openapi-python-client is not installed")
    folder = tmp_path_factory.mktemp("python-client")
    generate = [sys.executable, "-m", "openapi_python_client", "generate", "--meta", "none"]
    options = ["--path", str(SCHEMA), "--config", str(PYTHON_CONFIG)]
    run([*generate, *options, "--output-path", str(folder / PACKAGE)], cwd=folder)
    return folder


@pytest.fixture(scope="module")
def client_package(python_client_dir: Path) -> Iterator[ModuleType]:
    sys.path.insert(0, str(python_client_dir))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(python_client_dir))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def operations() -> SimpleNamespace:
    """The generated modules, one per operation: ``api.uploads_create.sync(...)``."""
    modules = {
        f"uploads_{name}": importlib.import_module(f"{PACKAGE}.api.uploads.uploads_{name}")
        for name in OPERATIONS
    }
    return SimpleNamespace(**modules)


def test_generated_python_client_passes_mypy_strict(python_client_dir: Path) -> None:
    pytest.importorskip("mypy", reason="mypy is not installed")
    cache = python_client_dir / ".mypy_cache"
    output = run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache), PACKAGE],
        cwd=python_client_dir,
    )
    assert "Success: no issues found" in output


def interrupted_chunk(
    server: servers.LiveServer, upload_id: str, data: bytes, start: int, total: int
) -> str:
    """Send a chunk whose body ends halfway (the client died); return the status line."""
    parts = urlsplit(server.url)
    end = start + len(data) - 1
    head = (
        f"PUT /api/uploads/{upload_id}/ HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Token {server.token}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Range: bytes {start}-{end}/{total}\r\nContent-Length: {len(data)}\r\n"
        "Connection: close\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head.encode() + data[: len(data) // 2])
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply.split(b"\r\n", 1)[0].decode()


def test_generated_python_client_uploads_resumes_and_completes(
    server: servers.LiveServer, client_package: ModuleType
) -> None:
    api = operations()
    models = importlib.import_module(PACKAGE + ".models")
    types = importlib.import_module(PACKAGE + ".types")
    client = client_package.AuthenticatedClient(
        base_url=server.url, token=server.token, prefix="Token"
    )
    payload = os.urandom(4 * CHUNK + 1234)
    total = len(payload)

    def chunk(start: int) -> tuple[bytes, str]:
        data = payload[start : start + CHUNK]
        return data, f"bytes {start}-{start + len(data) - 1}/{total}"

    data, content_range = chunk(0)
    form = models.ChunkRequest(file=types.File(payload=io.BytesIO(data), file_name="data.bin"))
    created = api.uploads_create.sync(client=client, body=form, content_range=content_range)
    assert isinstance(created, models.ChunkedUpload), created
    assert (created.offset, created.size, created.filename) == (CHUNK, total, "data.bin")

    data, content_range = chunk(CHUNK)  # the raw octet-stream body this time
    raw = types.File(payload=io.BytesIO(data), mime_type="application/octet-stream")
    appended = api.uploads_append.sync(
        created.id, client=client, body=raw, content_range=content_range
    )
    assert isinstance(appended, models.ChunkedUpload) and appended.offset == 2 * CHUNK

    data, _ = chunk(2 * CHUNK)
    status_line = interrupted_chunk(server, str(created.id), data, 2 * CHUNK, total)
    assert " 400 " in status_line, status_line  # the truncated chunk was refused
    current = api.uploads_retrieve.sync(created.id, client=client)
    assert isinstance(current, models.ChunkedUpload) and current.offset == 2 * CHUNK

    stale, stale_range = chunk(0)
    refused = api.uploads_append.sync_detailed(
        created.id,
        client=client,
        body=types.File(payload=io.BytesIO(stale)),
        content_range=stale_range,
    )
    assert refused.status_code == 400
    assert (refused.parsed.code, refused.parsed.expected_offset) == ("offset_mismatch", 2 * CHUNK)

    offset = current.offset
    while offset < total:
        data, content_range = chunk(offset)
        body = models.ChunkRequest(file=types.File(payload=io.BytesIO(data), file_name="data.bin"))
        step = api.uploads_append.sync(
            created.id, client=client, body=body, content_range=content_range
        )
        assert isinstance(step, models.ChunkedUpload), step
        offset = step.offset

    md5 = hashlib.md5(payload).hexdigest()
    done = api.uploads_complete.sync(
        created.id, client=client, body=models.CompletionRequest(md5=md5)
    )
    assert isinstance(done, models.ChunkedUpload), done
    assert done.status == models.StatusEnum.COMPLETE
    assert server.stored_bytes(str(created.id)) == payload


def test_generated_python_client_single_shot_list_and_destroy(
    server: servers.LiveServer, client_package: ModuleType
) -> None:
    api = operations()
    models = importlib.import_module(PACKAGE + ".models")
    types = importlib.import_module(PACKAGE + ".types")
    client = client_package.AuthenticatedClient(
        base_url=server.url, token=server.token, prefix="Token"
    )
    payload = os.urandom(5000)
    # The checksum is the required query parameter; the form may leave its field out.
    body = models.WholeFileRequest(
        file=types.File(payload=io.BytesIO(payload), file_name="small.bin")
    )
    md5 = hashlib.md5(payload).hexdigest()
    upload = api.uploads_create_complete.sync(client=client, body=body, md5=md5)
    assert isinstance(upload, models.ChunkedUpload) and upload.status == models.StatusEnum.COMPLETE
    assert server.stored_bytes(str(upload.id)) == payload
    listed = api.uploads_list.sync(client=client)
    assert upload.id in [item.id for item in listed.results]

    assert api.uploads_destroy.sync_detailed(upload.id, client=client).status_code == 204
    missing = api.uploads_retrieve.sync(upload.id, client=client)
    assert isinstance(missing, models.UploadError) and missing.code == "not_found"
    anonymous = client_package.Client(base_url=server.url)
    refused = api.uploads_retrieve.sync(UUID(int=0), client=anonymous)
    assert isinstance(refused, models.UploadError) and refused.code == "not_authenticated"


# -- TypeScript ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def typescript_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with upload.ts, its tsconfig and the generated client; node_modules from
    ``npm ci`` in tests/clients/typescript (only when the lock file changed)."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are needed for the TypeScript client")
    version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
    if tuple(int(part) for part in version.strip().lstrip("v").split(".")[:2]) < NODE_MINIMUM:
        pytest.skip(f"@hey-api/openapi-ts 0.95 needs Node >= 20.19, this is {version.strip()}")
    modules = TYPESCRIPT / "node_modules"
    lock, installed = TYPESCRIPT / "package-lock.json", modules / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TYPESCRIPT, timeout=300)
    folder = tmp_path_factory.mktemp("typescript-client")
    for name in ("upload.ts", "tsconfig.json"):
        shutil.copy(TYPESCRIPT / name, folder / name)
    (folder / "node_modules").symlink_to(modules)
    openapi_ts = str(modules / ".bin" / "openapi-ts")
    run(
        [openapi_ts, "--input", str(SCHEMA), "--output", "generated", *FETCH_CLIENT],
        cwd=folder,
    )
    return folder


def test_generated_typescript_client_passes_tsc(typescript_dir: Path) -> None:
    tsc = str(typescript_dir / "node_modules" / ".bin" / "tsc")
    run([tsc, "--noEmit", "-p", "tsconfig.json"], cwd=typescript_dir)
    assert (typescript_dir / "generated" / "sdk.gen.ts").exists()


def test_generated_typescript_client_uploads_resumes_and_completes(
    server: servers.LiveServer, typescript_dir: Path
) -> None:
    tsc = str(typescript_dir / "node_modules" / ".bin" / "tsc")
    # Type-checked by the test above; here only compiled to JavaScript for Node.
    run([tsc, "-p", "tsconfig.json", "--noCheck"], cwd=typescript_dir)
    payload = os.urandom(3 * CHUNK + 777)
    (typescript_dir / "payload.bin").write_bytes(payload)
    env = {
        **os.environ,
        "BASE_URL": server.url,
        "TOKEN": server.token,
        "FILE": str(typescript_dir / "payload.bin"),
        "CHUNK_SIZE": str(CHUNK),
    }
    output = run(["node", "dist/upload.js"], cwd=typescript_dir, env=env, timeout=120)
    done = json.loads(output.strip().splitlines()[-1])
    assert (done["status"], done["offset"], done["size"]) == (
        "complete",
        len(payload),
        len(payload),
    )
    assert server.stored_bytes(done["id"]) == payload
