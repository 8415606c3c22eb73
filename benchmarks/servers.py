"""The four servers under test, each under gunicorn with 2 sync workers, and their /proc readings.

- ``chunked_uploads``: the example project (``demo.settings``), SQLite file and media in a temp dir;
- ``seed``: drf-chunked-upload 0.6.0 in its own virtualenv (``seed_project.py``);
- ``bare``: ``bare_wsgi.py``, the ceiling; ``bare-socket``: the same reading gunicorn's socket
  directly, as chunked_uploads does;
- ``bare-pinned`` and ``ours-pinned``: the bare app and chunked_uploads with glibc's heap
  thresholds pinned (``PINNED_MALLOC``), so that their workers never give freed heap back to the
  kernel and fault it in again (see ``docs/benchmarks.md``, "Page faults").

``chunked_uploads`` may also run once per S3 store (``--stores``), against a moto S3 server
(``moto_s3.py``), each from a settings module generated on top of ``demo.settings``. Its tus
endpoint (``/api/tus/``) is ``Server.tus_prefix``; the tus peers of ``--protocol tus`` are started
by ``tus_peers.py`` with the helpers here.

Each server gets a listening socket bound to port 0 by this process and inherited by gunicorn
(``--bind fd://N``), so ports never collide with other engineers' servers. Memory is read from
``/proc``: each case resets the workers' peak RSS (``clear_refs`` 5) and reads ``VmHWM`` at its
end, so a spike between two samples cannot be missed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import moto_s3
import seed_project

REPO = Path(__file__).resolve().parent.parent
# The environment running the benchmark (``.venv/bin/python benchmarks/run.py``) serves it too.
VENV_BIN = Path(sys.executable).parent
EXAMPLE = REPO / "example_project"
BENCH_DIR = Path(__file__).resolve().parent
WORKERS = 2
# glibc's malloc, left alone, moves its mmap threshold up to the largest block freed and trims the
# heap's top whenever more than twice that is free: gunicorn's 1 MiB body buffers then make a
# worker hand its heap back and fault it in again, page by page, for every block of some requests
# and not others. Fixed thresholds (4 MiB blocks from the heap, up to 32 MiB kept free) end that.
PINNED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "4194304", "MALLOC_TRIM_THRESHOLD_": "33554432"}


@dataclass
class Server:
    """A running gunicorn master and what a client needs to talk to it."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    media_root: Path
    token: str | None = None
    prefix: str = "/"
    log: Path | None = None
    workers: list[int] = field(default_factory=list)
    clear_store: Callable[[], None] | None = None  # empties an object store between measurements
    worker_count: int = WORKERS
    tus_prefix: str | None = None  # the tus endpoint's creation URL, if the server speaks tus
    single_process: bool = False  # a server without workers (Node): its own process serves

    def worker_pids(self) -> list[int]:
        """The master's live children (re-read: gunicorn replaces a worker that dies)."""
        if self.single_process:
            return [self.process.pid] if self.process.poll() is None else []
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and _parent(int(entry)) == self.process.pid:
                pids.append(int(entry))
        return pids

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def reset_peak_rss(pids: list[int]) -> bool:
    """Reset each process's ``VmHWM``; False where the kernel does not allow it."""
    ok = True
    for pid in pids:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            ok = False
    return ok


def read_status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _stat_fields(pid: int) -> list[str] | None:
    """``/proc/PID/stat`` from its third field (state) on, or ``None`` for a process gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        if (fields := _stat_fields(pid)) is not None:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def minor_faults(pids: list[int]) -> int:
    """Minor page faults of the processes so far (``minflt``): mostly anonymous memory touched
    for the first time, e.g. heap the allocator had given back to the kernel."""
    return sum(int(fields[7]) for pid in pids if (fields := _stat_fields(pid)) is not None)


def listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def start_gunicorn(
    name: str,
    gunicorn: Path,
    app: str,
    cwd: Path,
    env: dict[str, str],
    workdir: Path,
    workers: int = WORKERS,
    wrapper: tuple[str, ...] = (),
) -> tuple[subprocess.Popen[bytes], int, Path]:
    """gunicorn serving ``app``; ``wrapper``: a command it runs under (``instructions.py``:
    valgrind), whose process is then the master."""
    sock = listen()
    fd = sock.fileno()
    log = workdir / f"{name}.log"
    command = [
        *wrapper,
        str(gunicorn),
        app,
        f"--bind=fd://{fd}",
        f"--workers={workers}",
        "--worker-class=sync",
    ]
    command += ["--timeout=900", "--log-level=warning"]
    with log.open("ab") as output:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env={**os.environ, **env},
            pass_fds=(fd,),
            stdout=output,
            stderr=output,
        )
    port = sock.getsockname()[1]
    sock.close()  # gunicorn holds its own copy of the listening socket
    return process, port, log


def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + 60
    workers = 1 if server.single_process else server.worker_count
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited; see {server.log}")
        if len(server.worker_pids()) == workers:
            try:
                socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
                return
            except OSError:
                pass
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not start; see {server.log}")


OVERRIDES = """\"\"\"demo.settings with benchmark overrides (see README.md).\"\"\"
from demo.settings import *  # noqa: F403

# The example throttles each user to 600 requests a minute; a benchmark sends far more.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}  # noqa: F405
"""
TUNED = """
DATABASES["default"]["CONN_MAX_AGE"] = None  # noqa: F405
DATABASES["default"]["OPTIONS"]["init_command"] += "PRAGMA synchronous=NORMAL;"  # noqa: F405
"""


STORE_LABELS = {"s3": "s3 multipart", "storage-s3": "storage store, S3Storage"}


def start_ours(
    workdir: Path,
    tuned: bool = False,
    store: str = "local",
    moto: moto_s3.Moto | None = None,
    socket_reads: bool = False,
    pinned_malloc: bool = False,
    workers: int = WORKERS,
    wrapper: tuple[str, ...] = (),
) -> Server:
    """The example project: migrate a fresh SQLite file, create the demo token, serve.

    ``tuned``: an experiment, persistent connections and ``synchronous=NORMAL`` on top of
    ``demo.settings``. ``store``: ``local`` (the default store on local media), ``s3`` (the S3
    multipart store) or ``storage-s3`` (the generic storage store on django-storages'
    ``S3Storage``), the last two in a bucket of their own on ``moto``. ``socket_reads``: the
    optional gunicorn integration (``DRF_CHUNKED_UPLOAD_SOCKET_READS = True``) on the local store.
    ``pinned_malloc``: the local store, its workers with ``PINNED_MALLOC``. ``workers`` and
    ``wrapper``: see ``start_gunicorn``.
    """
    key = "ours" if store == "local" else f"ours-{store}"
    if socket_reads:
        key = "ours-socket"
    if pinned_malloc:
        key = "ours-pinned"
    media = workdir / f"{key}-media"
    media.mkdir()
    overrides = OVERRIDES + (TUNED if tuned else "")
    bucket = f"bench-{store}"
    if store != "local":
        assert moto is not None
        moto.create_bucket(bucket)
        overrides += moto_s3.settings_lines(store, moto.endpoint, bucket)
    if socket_reads:
        overrides += "DRF_CHUNKED_UPLOAD_SOCKET_READS = True\n"
    settings = f"bench_settings_{key.replace('-', '_')}"
    (workdir / f"{settings}.py").write_text(overrides)
    env = {
        "PYTHONPATH": str(workdir),
        "DJANGO_SETTINGS_MODULE": settings,
        "DATABASE_URL": f"sqlite:///{workdir / (key + '.sqlite3')}",
        "DJANGO_MEDIA_ROOT": str(media),
        "DJANGO_DEBUG": "0",
        **(PINNED_MALLOC if pinned_malloc else {}),
    }
    full_env = {**os.environ, **env}
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=EXAMPLE, env=full_env, check=True)
    token = subprocess.run(
        [*manage, "create_demo_user", "--quiet"],
        cwd=EXAMPLE,
        env=full_env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    process, port, log = start_gunicorn(
        key, VENV_BIN / "gunicorn", "demo.wsgi", EXAMPLE, env, workdir, workers, wrapper
    )
    name = "chunked_uploads" if store == "local" else f"chunked_uploads [{STORE_LABELS[store]}]"
    if socket_reads:
        name = "chunked_uploads (socket reads)"
    if pinned_malloc:
        name = "chunked_uploads (pinned malloc)"
    server = Server(name, process, port, media, token, "/api/uploads/", log, tus_prefix="/api/tus/")
    server.worker_count = workers
    if moto is not None and store != "local":
        server.clear_store = lambda: moto.empty_bucket(bucket)
    wait_ready(server)
    return server


def start_seed(workdir: Path, cache: Path, tuned: bool = False) -> Server:
    """drf-chunked-upload 0.6.0 from its cached virtualenv, behind the generated project."""
    python = seed_project.ensure_venv(cache / "seed-venv")
    project = seed_project.write_seed_project(workdir / "seed-project")
    env = {"SEED_TUNED_SQLITE": "1" if tuned else ""}
    label = "drf-chunked-upload"
    return start_project("seed", label, python, project, "seedproj", workdir, "/uploads/", env)


def start_project(
    name: str,
    label: str,
    python: Path,
    project: Path,
    package: str,
    workdir: Path,
    prefix: str,
    env: dict[str, str] | None = None,
) -> Server:
    """A generated project (``seed_project.py``) served by its virtualenv's ``python``: migrate a
    fresh SQLite file, create the benchmark user's token, serve under gunicorn."""
    media = workdir / f"{name}-media"
    media.mkdir()
    env = {
        "DJANGO_SETTINGS_MODULE": f"{package}.settings",
        "PROJECT_DB_PATH": str(workdir / f"{name}.sqlite3"),
        "PROJECT_MEDIA_ROOT": str(media),
        **(env or {}),
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
    ).stdout.split()[-1]  # Django 5.2's shell may print a line about auto-imports first
    gunicorn = python.parent / "gunicorn"
    wsgi = f"{package}.wsgi"
    process, port, log = start_gunicorn(name, gunicorn, wsgi, project, env, workdir)
    server = Server(label, process, port, media, token, prefix, log)
    wait_ready(server)
    return server


def start_bare(
    workdir: Path,
    socket_reads: bool = False,
    pinned_malloc: bool = False,
    workers: int = WORKERS,
    wrapper: tuple[str, ...] = (),
) -> Server:
    key = "bare-socket" if socket_reads else "bare-pinned" if pinned_malloc else "bare"
    media = workdir / f"{key}-media"
    media.mkdir()
    env = {"BARE_MEDIA_ROOT": str(media), "BARE_SOCKET_READS": "1" if socket_reads else ""}
    if pinned_malloc:
        env |= PINNED_MALLOC
    process, port, log = start_gunicorn(
        key, VENV_BIN / "gunicorn", "bare_wsgi", BENCH_DIR, env, workdir, workers, wrapper
    )
    label = "bare WSGI (socket reads)" if socket_reads else "bare WSGI"
    if pinned_malloc:
        label = "bare WSGI (pinned malloc)"
    server = Server(label, process, port, media, None, "/", log, worker_count=workers)
    wait_ready(server)
    return server
