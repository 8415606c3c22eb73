"""A real multi-worker server for end-to-end tests: the example project under gunicorn.

``live_server()`` starts ``demo.wsgi`` under gunicorn with N sync workers on a free port, against a
database of its own (a SQLite file in a temporary folder by default; on PostgreSQL or MariaDB when
the suite's ``DATABASE_URL`` points there, in a database created for the server and dropped after)
and a temporary ``DJANGO_MEDIA_ROOT``. It runs ``migrate`` and ``create_demo_user --quiet`` for an
API token, and yields a ``LiveServer``: its ``url``, auth ``headers``, ``media_root``, and the worker
processes, which tests may ``kill_worker()`` (SIGKILL; gunicorn's master forks a replacement).
``worker_class="gthread"`` serves keep-alive connections (the sync worker closes each one), with
``threads`` threads per worker.

    with live_server(workers=2, settings={"DRF_CHUNKED_UPLOAD_LEASE_SECONDS": 2.0}) as server:
        httpx.get(server.url + "/api/uploads/", headers=server.headers)

``settings`` are extra Django settings, written into a settings module that star-imports the example
project's; ``environment`` adds variables to the server's environment (and to ``server.manage()``,
which runs a ``manage.py`` command against the server's database). The listening socket is bound
here (port 0) and handed to gunicorn as ``fd://N``, so two servers never race for a port.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example_project"
BOOT_TIMEOUT = 60.0


@dataclass
class LiveServer:
    """A running gunicorn master and its workers, as seen by a test."""

    url: str
    token: str
    media_root: Path
    database_url: str
    workers: int
    process: subprocess.Popen[bytes]
    port: int
    environment: dict[str, str] = field(default_factory=dict)
    killed: list[int] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}

    def worker_pids(self) -> list[int]:
        """The master's live children (gunicorn's workers), from ``/proc``."""
        return _children(self.process.pid)

    def wait_for_workers(self, timeout: float = BOOT_TIMEOUT) -> list[int]:
        """Wait until the master runs its full count of workers, none of them killed ones."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = [pid for pid in self.worker_pids() if pid not in self.killed]
            if len(pids) == self.workers and len(self.worker_pids()) == self.workers:
                return pids
            _nap()
        raise TimeoutError(f"gunicorn did not get back to {self.workers} workers")

    def worker_for(self, client: socket.socket, timeout: float = 10.0) -> int:
        """The pid of the worker that accepted ``client``'s connection (matched by socket inode)."""
        client_port = client.getsockname()[1]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            inode = _server_side_inode(self.port, client_port)
            if inode:
                for pid in self.worker_pids():
                    if _holds_socket(pid, inode):
                        return pid
            _nap()
        raise TimeoutError("no worker accepted the connection")

    def kill_worker(self, pid: int) -> None:
        """SIGKILL one worker, as the OOM killer or a crash would, and wait for its replacement."""
        self.killed.append(pid)
        os.kill(pid, signal.SIGKILL)
        self.wait_for_workers()

    def manage(self, *args: str) -> str:
        """Run ``manage.py`` with the server's settings, database and environment; its stdout."""
        return _manage(self.environment, *args)

    def stored_files(self, upload_id: str) -> list[Path]:
        """The files an upload's bytes live in under the media root (``.part`` or ``.done``)."""
        return sorted(self.media_root.rglob(f"{upload_id}.*"))

    def stored_bytes(self, upload_id: str) -> bytes:
        (path,) = self.stored_files(upload_id)
        return path.read_bytes()


@contextmanager
def live_server(
    workers: int = 2,
    settings: Mapping[str, Any] | None = None,
    worker_class: str = "sync",
    environment: Mapping[str, str] | None = None,
    threads: int = 1,
) -> Iterator[LiveServer]:
    """Start the example project under gunicorn; stop it and remove its database on exit."""
    with tempfile.TemporaryDirectory(prefix="chunked-uploads-server-") as tmp:
        folder = Path(tmp)
        with server_database(os.environ.get("DATABASE_URL", ""), folder) as database_url:
            env = {**_environment(folder, database_url, settings or {}), **(environment or {})}
            _manage(env, "migrate", "--noinput")
            token = _manage(env, "create_demo_user", "--quiet").strip().splitlines()[-1]
            with _listening_socket() as listener:
                server = _start(
                    env, listener, workers, token, folder / "media", database_url, worker_class,
                    threads,
                )  # fmt: skip
                server.environment = env
                try:
                    _wait_until_serving(server)
                    yield server
                finally:
                    _stop(server.process)


@contextmanager
def server_database(suite_url: str, folder: Path) -> Iterator[str]:
    """A database for one server: a SQLite file in ``folder``, or a fresh PostgreSQL/MariaDB one."""
    scheme = urlsplit(suite_url).scheme.split("+")[0] if suite_url else "sqlite"
    if scheme == "sqlite":
        yield f"sqlite:///{folder / 'server.sqlite3'}"
        return
    prefix = os.environ.get("TEST_DATABASE_NAME") or "chunked_uploads"
    name = f"{prefix}_srv_{uuid.uuid4().hex[:8]}"
    admin = _PostgresAdmin(suite_url) if scheme.startswith("postgres") else _MySQLAdmin(suite_url)
    admin.run(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(urlsplit(suite_url)._replace(path="/" + name))
    finally:
        admin.run(f"DROP DATABASE {name}" + admin.force)


class _PostgresAdmin:
    force = " WITH (FORCE)"  # workers killed mid-request may leave sessions behind

    def __init__(self, url: str) -> None:
        self.parts = urlsplit(url)

    def run(self, statement: str) -> None:
        import psycopg

        parts = self.parts
        with psycopg.connect(
            host=parts.hostname,
            port=parts.port or 5432,
            user=parts.username or "",
            password=parts.password or "",
            dbname="postgres",
            autocommit=True,
        ) as connection:
            connection.execute(statement)


class _MySQLAdmin:
    force = ""

    def __init__(self, url: str) -> None:
        self.parts = urlsplit(url)

    def run(self, statement: str) -> None:
        import pymysql  # type: ignore[import-untyped]

        parts = self.parts
        connection = pymysql.connect(
            host=parts.hostname, port=parts.port or 3306, user=parts.username or "root",
            password=parts.password or "",
        )  # fmt: skip
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()


def _environment(folder: Path, database_url: str, settings: Mapping[str, Any]) -> dict[str, str]:
    module = folder / "live_server_settings.py"
    lines = [
        "from demo.settings import *  # noqa: F403",
        "DEBUG = False",
        # The example throttles users and limits unfinished uploads; tests go faster than that.
        'REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}  # noqa: F405',
        "DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_UPLOADS = None",
        "DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_BYTES = None",
    ]
    lines += [f"{name} = {value!r}" for name, value in settings.items()]
    module.write_text("\n".join(lines) + "\n")
    (folder / "media").mkdir()
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="live_server_settings",
        DATABASE_URL=database_url,
        DJANGO_MEDIA_ROOT=str(folder / "media"),
        PYTHONPATH=os.pathsep.join([str(folder), str(EXAMPLE), str(ROOT)]),
        PYTHONUNBUFFERED="1",
    )
    return env


def _manage(env: Mapping[str, str], *args: str) -> str:
    command = [sys.executable, str(EXAMPLE / "manage.py"), *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


@contextmanager
def _listening_socket() -> Iterator[socket.socket]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    try:
        yield listener
    finally:
        listener.close()


def _start(
    env: Mapping[str, str],
    listener: socket.socket,
    workers: int,
    token: str,
    media_root: Path,
    database_url: str,
    worker_class: str = "sync",
    threads: int = 1,
) -> LiveServer:
    fd = listener.fileno()
    command = [
        sys.executable, "-m", "gunicorn", "demo.wsgi:application",
        "--bind", f"fd://{fd}", "--workers", str(workers), "--worker-class", worker_class,
        "--threads", str(threads),
        "--timeout", "120", "--graceful-timeout", "5", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=dict(env), pass_fds=[fd], cwd=EXAMPLE)
    port = listener.getsockname()[1]
    return LiveServer(
        url=f"http://127.0.0.1:{port}",
        token=token,
        media_root=media_root,
        database_url=database_url,
        workers=workers,
        process=process,
        port=port,
    )


def _wait_until_serving(server: LiveServer) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}")
        try:
            response = httpx.get(server.url + "/api/uploads/", headers=server.headers, timeout=5)
            if response.status_code == 200:
                server.wait_for_workers()
                return
        except httpx.TransportError:
            pass
        _nap()
    raise TimeoutError("gunicorn did not start serving")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _children(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name in parentheses may hold spaces: fields start after the last ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == parent and fields[0] != "Z":
            pids.append(int(entry.name))
    return sorted(pids)


def _server_side_inode(server_port: int, client_port: int) -> int:
    """The inode of the accepted socket whose local port is the server's and peer the client's."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        remote_port = int(fields[2].split(":")[1], 16)
        if local_port == server_port and remote_port == client_port:
            return int(fields[9])
    return 0


def _holds_socket(pid: int, inode: int) -> bool:
    target = f"socket:[{inode}]"
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(fd) == target:
                return True
        except OSError:
            continue
    return False


def _nap() -> None:
    # Waiting on another process (gunicorn booting, a worker accepting): there is no clock to fake.
    time.sleep(0.05)
