"""User-space instructions of one upload in a gunicorn worker, counted by valgrind's callgrind.

Throughput and CPU seconds move with whatever else runs on the machine; instruction counts do not.
For each server (the bare WSGI app, chunked_uploads' tus endpoint) this starts gunicorn with one
sync worker under ``valgrind --tool=callgrind`` three times: warmed up only, warmed up and one
upload of the file in one request (a whole-file tus ``PATCH``, a bare ``PUT``), and warmed up and
the file in 8 MiB requests. The worker's count at its exit, less the warmed-up-only count, is what
the upload cost; it is printed per GiB, whole and per object file (libcrypto: md5; libc: copies
and malloc; libpython: the interpreter; libsqlite3), with chunked_uploads' excess over the bare
app. Kernel work (the copies of ``recv`` and ``pwrite``, page faults) is not counted: see
``run.py``'s page fault column for that. Needs valgrind; about 3 minutes for 64 MiB.

    .venv/bin/python benchmarks/instructions.py --size 64
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import servers
from client import TusUploader, Uploader
from measure import MiB

GiB = 1024 * MiB
MODES = {"warm": None, "whole": 0, "8 MiB": 8 * MiB}  # request size, 0: the whole file
OBJECTS = ("libcrypto", "libc.so", "libpython", "libsqlite3")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=64, help="file size in MiB (default 64)")
    parser.add_argument(
        "--pinned-malloc",
        action="store_true",
        help="both servers with glibc's heap thresholds fixed (servers.PINNED_MALLOC)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (callgrind files)")
    return parser.parse_args(argv)


def count(
    server_key: str, mode: str, workdir: Path, source: Path, size: int, pinned: bool
) -> Counter[str]:
    """The worker's instructions, in total and per object file, after warming up (and one
    upload in ``mode``)."""
    run_dir = workdir / f"{server_key}-{mode.replace(' ', '')}"
    run_dir.mkdir()
    wrapper = ("valgrind", "--tool=callgrind", f"--callgrind-out-file={run_dir}/callgrind.%p")
    start = servers.start_bare if server_key == "bare" else servers.start_ours
    server = start(run_dir, pinned_malloc=pinned, workers=1, wrapper=wrapper)
    try:
        [worker] = server.worker_pids()
        upload = uploader(server_key, server)
        warm = run_dir / "warm.bin"
        warm.write_bytes(source.read_bytes()[: 8 * MiB])
        upload(warm, 8 * MiB, 8 * MiB)  # imports, first queries: not part of any upload
        upload(warm, 8 * MiB, 4 * MiB)
        chunk = MODES[mode]
        if chunk is not None:
            upload(source, size, chunk or size)
    finally:
        server.stop()
    return per_object(run_dir / f"callgrind.{worker}")


def uploader(server_key: str, server: servers.Server) -> Callable[[Path, int, int], None]:
    def upload(path: Path, size: int, chunk: int) -> None:
        md5 = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        if server_key == "bare":
            client: Uploader | TusUploader = Uploader(server.port, None, "/", "raw", "bare")
        else:
            assert server.tus_prefix is not None
            client = TusUploader(server.port, server.token, server.tus_prefix)
        with path.open("rb") as file:
            client.upload(file, size, chunk, md5)

    return upload


def per_object(callgrind_file: Path) -> Counter[str]:
    """Self cost per object file, from ``callgrind_annotate``, and the total."""
    text = subprocess.run(
        ["callgrind_annotate", "--threshold=100", str(callgrind_file)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        match = re.match(r"\s*([\d,]+) \([^)]*\)\s+(.*)", line)
        if not match:
            continue
        value, where = int(match.group(1).replace(",", "")), match.group(2)
        if "PROGRAM TOTALS" in where:
            counts["total"] = value
            continue
        name = next((o for o in OBJECTS if o in where.rsplit("[", 1)[-1]), "other")
        counts[name] += value
    return counts


def report(results: dict[tuple[str, str], Counter[str]], size: int) -> str:
    per_gib = GiB / size
    lines = [
        f"user-space instructions per GiB uploaded (callgrind, {size // MiB} MiB file)",
        f"{'':22s} {'total':>8s} " + " ".join(f"{o.split('.')[0]:>10s}" for o in OBJECTS),
    ]
    for mode in ("whole", "8 MiB"):
        for key in ("bare", "ours"):
            cost = results[(key, mode)] - results[(key, "warm")]
            lines.append(
                f"{key:5s} {mode:16s} {cost['total'] * per_gib / 1e9:7.2f}G "
                + " ".join(f"{cost[o] * per_gib / 1e9:9.2f}G" for o in OBJECTS)
            )
        ours = results[("ours", mode)] - results[("ours", "warm")]
        bare = results[("bare", mode)] - results[("bare", "warm")]
        excess = (ours["total"] - bare["total"]) / bare["total"]
        lines.append(f"      chunked_uploads' excess over the bare app: {excess:+.1%}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_annotate") is None:
        print("valgrind (with callgrind_annotate) is not installed", file=sys.stderr)
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="chunked-uploads-instructions-"))
    size = args.size * MiB
    source = workdir / "source.bin"
    with source.open("wb") as file:
        file.write(hashlib.shake_256(b"instructions").digest(size))  # incompressible, repeatable
    try:
        results = {
            (key, mode): count(key, mode, workdir, source, size, args.pinned_malloc)
            for key in ("bare", "ours")
            for mode in MODES
        }
    finally:
        source.unlink()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(report(results, size))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
