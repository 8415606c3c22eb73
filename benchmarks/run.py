"""Benchmark chunked_uploads against drf-chunked-upload 0.6.0 and a bare WSGI ceiling, in one run.

Starts four gunicorn servers (2 sync workers each, SQLite files and media in a temp dir), then for
every case (file size x chunk size x parallel clients) uploads the same pre-generated random file
to each of them in turn, the order rotating from case to case so that the machine's noise spreads
over all of them. Prints the results table and the issue's targets as ratios. See README.md.

    .venv/bin/python benchmarks/run.py            # the full run (64 MiB and 1 GiB)
    .venv/bin/python benchmarks/run.py --quick    # 64 MiB only, for development
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys
import tempfile
import time
from itertools import product
from pathlib import Path

import moto_s3
import report
import servers
from measure import Case, Measurement, MiB, Variant, clear_media, measure

CACHE = Path(__file__).resolve().parent / ".cache"
STORE_KEYS = {"local": "ours", "s3": "ours-s3", "storage-s3": "ours-storage-s3"}
VARIANTS = (
    Variant("bare", "raw"),
    Variant("bare-socket", "raw"),
    *(Variant(key, body) for key in STORE_KEYS.values() for body in ("raw", "multipart")),
    *(Variant("ours-socket", body) for body in ("raw", "multipart")),
    Variant("seed", "multipart"),  # the seed reads chunks from multipart bodies only
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="64 MiB files only")
    parser.add_argument("--sizes", type=int, nargs="+", help="file sizes in MiB (default 64 1024)")
    parser.add_argument("--chunks", type=int, nargs="+", help="chunk sizes in MiB (default 1 8)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4], help="parallel clients")
    parser.add_argument(
        "--big-chunk",
        type=int,
        default=64,
        help="extra chunk size in MiB for the largest file, 1 client (0: none)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds over all cases (medians reported)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["bare", "bare-socket", "ours", "ours-socket", "seed"],
        help="servers to run",
    )
    parser.add_argument(
        "--stores",
        nargs="+",
        choices=list(STORE_KEYS),
        default=["local"],
        help="stores of chunked_uploads: s3 and storage-s3 on a moto S3 server (default local)",
    )
    parser.add_argument(
        "--bodies",
        nargs="+",
        choices=["raw", "multipart"],
        default=["raw", "multipart"],
        help="chunked_uploads' request bodies (default both)",
    )
    parser.add_argument("--json", type=Path, help="write the raw measurements here")
    parser.add_argument("--markdown", type=Path, help="write the table and targets here")
    parser.add_argument(
        "--tuned-sqlite",
        action="store_true",
        help="experiment: persistent connections and synchronous=NORMAL, for both Django servers",
    )
    parser.add_argument("--profile", type=Path, help="py-spy every worker; collapsed stacks here")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, databases)")
    return parser.parse_args(argv)


def cases(args: argparse.Namespace) -> list[Case]:
    sizes = [s * MiB for s in (args.sizes or ([64] if args.quick else [64, 1024]))]
    chunks = [c * MiB for c in (args.chunks or [1, 8])]
    result = [Case(s, c, n) for s, c, n in product(sizes, chunks, args.clients) if c <= s]
    if args.big_chunk:
        result.append(Case(max(sizes), min(args.big_chunk * MiB, max(sizes)), 1))
    return list(dict.fromkeys(result))


def make_source(directory: Path, size: int) -> tuple[Path, str]:
    """A file of random bytes (incompressible, no accidental multipart boundary) and its md5."""
    path = directory / f"source-{size // MiB}M.bin"
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("wb") as file:
        for offset in range(0, size, 8 * MiB):
            block = os.urandom(min(8 * MiB, size - offset))
            file.write(block)
            digest.update(block)
    return path, digest.hexdigest()


def start_servers(
    workdir: Path,
    only: list[str] | None,
    tuned: bool,
    stores: list[str],
    moto: moto_s3.Moto | None,
) -> dict[str, servers.Server]:
    wanted = only or ["bare", "bare-socket", "ours", "seed"]
    started: dict[str, servers.Server] = {}
    starters = {
        "bare": lambda: servers.start_bare(workdir),
        "bare-socket": lambda: servers.start_bare(workdir, socket_reads=True),
        "seed": lambda: servers.start_seed(workdir, CACHE, tuned),
        "ours-socket": lambda: servers.start_ours(workdir, tuned, socket_reads=True),
    }
    for store in stores:  # one chunked_uploads server per store
        starters[STORE_KEYS[store]] = lambda s=store: servers.start_ours(workdir, tuned, s, moto)
    stored = set(STORE_KEYS.values())
    keys = [k for k in starters if k in wanted or (k in stored and "ours" in wanted)]
    try:
        for key in keys:
            started[key] = starters[key]()
    except BaseException:
        for server in started.values():
            server.stop()
        raise
    return started


def run_all(
    all_cases: list[Case],
    running: dict[str, servers.Server],
    workdir: Path,
    repeat: int,
    profile: Path | None = None,
    bodies: tuple[str, ...] = ("raw", "multipart"),
) -> list[Measurement]:
    variants = [
        v
        for v in VARIANTS
        if v.server in running and (v.server in ("bare", "bare-socket", "seed") or v.body in bodies)
    ]
    sources = {size: make_source(workdir, size) for size in {c.size for c in all_cases}}
    warm_up(variants, running, make_source(workdir, 8 * MiB))
    measurements = []
    turn = 0
    for round_ in range(repeat):
        for case in all_cases:
            turn += 1
            shift = turn % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                server = running[variant.server]
                path, md5 = sources[case.size]
                print(
                    f"[{round_ + 1}/{repeat}] {case.label()}: {variant.label(running)} ...",
                    end=" ",
                    flush=True,
                )
                m = measure(variant.server, server, variant.body, case, path, md5, profile)
                print(
                    f"{m.mib_per_s:.0f} MiB/s, completion {m.completion_ms or 0:.1f} ms, RSS {m.peak_rss_mib:.0f} MiB"
                )
                measurements.append(m)
                clear_media(server)
    return measurements


def warm_up(
    variants: list[Variant], running: dict[str, servers.Server], source: tuple[Path, str]
) -> None:
    """Upload a small file to every variant first: workers import lazily on their first requests."""
    case = Case(8 * MiB, MiB, 2)
    for variant in variants:
        server = running[variant.server]
        measure(variant.server, server, variant.body, case, *source)
        clear_media(server)


def machine_note() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, Python {sys.version.split()[0]}"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so that SIGTERM also stops the servers (in main's ``finally``)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    all_cases = cases(args)
    CACHE.mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="chunked-uploads-bench-"))
    print(f"work dir {workdir}; {machine_note()}")
    # moto keeps the S3 stores' objects; one upload at a time, emptied between measurements.
    moto = moto_s3.start_moto(workdir) if set(args.stores) - {"local"} else None
    try:
        running = start_servers(workdir, args.only, args.tuned_sqlite, args.stores, moto)
    except BaseException:
        if moto is not None:
            moto.stop()
        raise
    began = time.time()
    try:
        measurements = run_all(
            all_cases, running, workdir, args.repeat, args.profile, tuple(args.bodies)
        )
    finally:
        for server in running.values():
            server.stop()
        if moto is not None:
            moto.stop()
        for source in workdir.glob("source-*.bin"):
            source.unlink()
    results = report.reduce(measurements)
    text = report.table(results) + "\n\n" + "\n".join(report.targets(results))
    print("\n" + text)
    print(f"\n{len(measurements)} measurements in {time.time() - began:.0f} s; {machine_note()}")
    if args.json:
        args.json.write_text(json.dumps([m.as_dict() for m in measurements], indent=1))
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if not args.keep:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
