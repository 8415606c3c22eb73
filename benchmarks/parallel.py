"""Parallel uploads (issue 16): several connections against one, and the cost of completion.

One run, by hand, not in the test suite (the machine is shared and noisy: cases are interleaved and
the report gives ratios). Starts chunked_uploads under gunicorn (sync workers, one more than the
connections, SQLite and the local store in a temp dir), twice: with md5 and with the combinable
``crc32c`` checksum. Then, with the project's own client (``chunked_uploads.client``):

- over the user-space wide-area link (``wan_proxy.py``: 20 ms each way, 8 MiB/s per connection),
  256 MiB in 8 MiB chunks with 4 connections and with 1 (target: 4 at least 2.5x faster);
- on the loopback, the same with N connections and with 1 (target: N no slower);
- the completion request of a 1 GiB parallel upload on the local store, with md5 and with crc32c
  (targets: 1 s and 20 ms).

    .venv/bin/python benchmarks/parallel.py [--wan-mib 256] [--big-mib 1024] [--connections 4]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import servers
from wan_proxy import WanProxy

from chunked_uploads import client

MiB = 1024 * 1024
CHUNK = 8 * MiB


class TimedClient(httpx.Client):
    """Records how long each ``POST`` (the completion) takes, answer included."""

    posts: list[float]

    def post(self, *args: Any, **kwargs: Any) -> httpx.Response:
        started = time.perf_counter()
        response = super().post(*args, **kwargs)
        self.posts.append(time.perf_counter() - started)
        return response


def start(workdir: Path, key: str, checksum: str, workers: int) -> servers.Server:
    """The example project with ``DRF_CHUNKED_UPLOAD_CHECKSUM = checksum``."""
    media = workdir / f"{key}-media"
    media.mkdir()
    settings = f"bench_parallel_{key}"
    (workdir / f"{settings}.py").write_text(
        servers.OVERRIDES + f"DRF_CHUNKED_UPLOAD_CHECKSUM = {checksum!r}\n"
    )
    env = {
        "PYTHONPATH": str(workdir),
        "DJANGO_SETTINGS_MODULE": settings,
        "DATABASE_URL": f"sqlite:///{workdir / (key + '.sqlite3')}",
        "DJANGO_MEDIA_ROOT": str(media),
        "DJANGO_DEBUG": "0",
    }
    manage = [str(servers.VENV_BIN / "python"), "manage.py"]
    full_env = {**os.environ, **env}
    subprocess.run([*manage, "migrate", "-v0"], cwd=servers.EXAMPLE, env=full_env, check=True)
    token = subprocess.run(
        [*manage, "create_demo_user", "--quiet"],
        cwd=servers.EXAMPLE,
        env=full_env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    gunicorn = servers.VENV_BIN / "gunicorn"
    process, port, log = servers.start_gunicorn(
        key, gunicorn, "demo.wsgi", servers.EXAMPLE, env, workdir, workers
    )
    server = servers.Server(key, process, port, media, token, "/api/uploads/", log)
    server.worker_count = workers
    servers.wait_ready(server)
    return server


def upload(server: servers.Server, path: Path, port: int, connections: int) -> tuple[float, float]:
    """Upload ``path`` through ``port``; (seconds for the whole upload, seconds of completion)."""
    http = TimedClient(auth=client.TokenAuth(server.token or ""), timeout=600)
    http.posts = []
    url = f"http://127.0.0.1:{port}/api/uploads/"
    started = time.perf_counter()
    with http:
        result = client.upload(path, url, chunk_size=CHUNK, parallel=connections, http=http)
    elapsed = time.perf_counter() - started
    assert result.status == "complete", result
    for stored in server.media_root.rglob("*.done"):
        stored.unlink()  # keep the disk small between runs
    return elapsed, http.posts[-1]


def random_file(folder: Path, size: int) -> Path:
    path = folder / f"source-{size // MiB}M.bin"
    with path.open("wb") as file:
        for _ in range(size // MiB):
            file.write(os.urandom(MiB))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wan-mib", type=int, default=256)
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args(argv)
    n = args.connections
    lines = []
    with tempfile.TemporaryDirectory(prefix="bench-parallel-") as tmp:
        workdir = Path(tmp)
        md5_server = start(workdir, "md5", "md5", n + 1)
        crc_server = start(workdir, "crc32c", "crc32c", n + 1)
        try:
            wan_file = random_file(workdir, args.wan_mib * MiB)
            with WanProxy(("127.0.0.1", md5_server.port), delay=0.020, rate=8 * MiB) as proxy:
                wan = {c: upload(md5_server, wan_file, proxy.port, c)[0] for c in (1, n)}
            lines.append(
                f"WAN (20 ms each way, 8 MiB/s per connection), {args.wan_mib} MiB:"
                f" 1 connection {wan[1]:.1f} s, {n} connections {wan[n]:.1f} s,"
                f" {wan[1] / wan[n]:.2f}x (target >= 2.5x)"
            )
            loop: dict[int, list[float]] = {1: [], n: []}
            for c in (1, n, n, 1):
                loop[c].append(upload(md5_server, wan_file, md5_server.port, c)[0])
            one, many = min(loop[1]), min(loop[n])
            lines.append(
                f"Loopback, {args.wan_mib} MiB (best of 2, interleaved): 1 connection {one:.2f} s,"
                f" {n} connections {many:.2f} s, {one / many:.2f}x (target >= 1x)"
            )
            wan_file.unlink()
            big = random_file(workdir, args.big_mib * MiB)
            for server, target in ((md5_server, "1 s"), (crc_server, "20 ms")):
                total, completion = upload(server, big, server.port, n)
                lines.append(
                    f"{args.big_mib} MiB over {n} connections, {server.name}: upload {total:.1f} s,"
                    f" completion {completion * 1000:.1f} ms (target <= {target})"
                )
        finally:
            md5_server.stop()
            crc_server.stop()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
