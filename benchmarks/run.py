"""Benchmark chunked_uploads against drf-chunked-upload 0.6.0 and a bare WSGI ceiling, in one run.

Starts four gunicorn servers (2 sync workers each, SQLite files and media in a temp dir), then for
every case (file size x chunk size x parallel clients) uploads the same pre-generated random file
to each of them in turn, the order rotating from case to case so that the machine's noise spreads
over all of them. Prints the results table and the issue's targets as ratios. See README.md.

With ``--protocol tus`` the servers are chunked_uploads' tus endpoint, @tus/server 2.4.5 (Node)
and drf-tus 2.0.3 next to the bare WSGI app, the cases 256 MiB and 1 GiB files in 8 MiB ``PATCH``es
and in one whole-file ``PATCH``, and each round also cuts a whole-file ``PATCH`` part-way and
reads the offset each server kept.

    .venv/bin/python benchmarks/run.py            # the full run (64 MiB and 1 GiB)
    .venv/bin/python benchmarks/run.py --quick    # 64 MiB only, for development
    .venv/bin/python benchmarks/run.py --protocol tus --repeat 3   # the tus run
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
import tus_peers
from measure import (
    Case,
    Measurement,
    MiB,
    ResumePoint,
    Variant,
    clear_media,
    measure,
    measure_resume,
)

CACHE = Path(__file__).resolve().parent / ".cache"
STORE_KEYS = {"local": "ours", "s3": "ours-s3", "storage-s3": "ours-storage-s3"}
VARIANTS = (
    Variant("bare", "raw"),
    Variant("bare-socket", "raw"),
    *(Variant(key, body) for key in STORE_KEYS.values() for body in ("raw", "multipart")),
    *(Variant("ours-socket", body) for body in ("raw", "multipart")),
    Variant("bare-pinned", "raw"),
    *(Variant("ours-pinned", body) for body in ("raw", "multipart")),
    Variant("seed", "multipart"),  # the seed reads chunks from multipart bodies only
)
TUS_VARIANTS = (
    Variant("bare", "raw"),  # the ceiling: the same chunks' bytes, appended and md5ed
    *(Variant(key, "tus") for key in STORE_KEYS.values()),
    Variant("ours-socket", "tus"),  # only with --only ... ours-socket
    Variant("bare-pinned", "raw"),  # only with --only ... bare-pinned ours-pinned
    Variant("ours-pinned", "tus"),
    Variant("tus-node", "tus"),
    Variant("drf-tus", "tus"),
)
TUS_PEERS = ("tus-node", "drf-tus")
DEFAULT_SERVERS = {
    "native": ["bare", "bare-socket", "ours", "seed"],
    "tus": ["bare", "ours", *TUS_PEERS],
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--protocol",
        choices=["native", "tus"],
        default="native",
        help="the native protocol (default) or tus, with the tus peers",
    )
    parser.add_argument("--quick", action="store_true", help="64 MiB files only")
    parser.add_argument(
        "--sizes", type=int, nargs="+", help="file sizes in MiB (default 64 1024; tus: 256 1024)"
    )
    parser.add_argument(
        "--chunks",
        type=int,
        nargs="+",
        help="chunk sizes in MiB, 0 for the whole file in one request (default 1 8; tus: 8 0)",
    )
    parser.add_argument(
        "--clients", type=int, nargs="+", help="parallel clients (default 1 4; tus: 1)"
    )
    parser.add_argument(
        "--big-chunk",
        type=int,
        help="extra chunk size in MiB for the largest file, 1 client (0: none; default 64, tus 0)",
    )
    parser.add_argument(
        "--interrupt-at",
        type=float,
        default=0.6,
        help="tus: cut a whole-file PATCH of the largest file after this fraction (0: no cut)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds over all cases (medians reported)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[
            "bare",
            "bare-socket",
            "bare-pinned",
            "ours",
            "ours-socket",
            "ours-pinned",
            "seed",
            *TUS_PEERS,
        ],
        help="servers to run (-pinned: glibc's heap thresholds fixed, see servers.PINNED_MALLOC)",
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
    tus = args.protocol == "tus"
    sizes = [s * MiB for s in (args.sizes or ([64] if args.quick else [256 if tus else 64, 1024]))]
    chunks = [c * MiB for c in (args.chunks or ([8, 0] if tus else [1, 8]))]
    clients = args.clients or ([1] if tus else [1, 4])
    # chunk 0: the whole file in one request (tus clients' default)
    result = [Case(s, c or s, n) for s, c, n in product(sizes, chunks, clients) if c <= s]
    big_chunk = args.big_chunk if args.big_chunk is not None else (0 if tus else 64)
    if big_chunk:
        result.append(Case(max(sizes), min(big_chunk * MiB, max(sizes)), 1))
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
    protocol: str = "native",
) -> dict[str, servers.Server]:
    wanted = only or DEFAULT_SERVERS[protocol]
    started: dict[str, servers.Server] = {}
    starters = {
        "bare": lambda: servers.start_bare(workdir),
        "bare-socket": lambda: servers.start_bare(workdir, socket_reads=True),
        "seed": lambda: servers.start_seed(workdir, CACHE, tuned),
        "ours-socket": lambda: servers.start_ours(workdir, tuned, socket_reads=True),
        "bare-pinned": lambda: servers.start_bare(workdir, pinned_malloc=True),
        "ours-pinned": lambda: servers.start_ours(workdir, tuned, pinned_malloc=True),
        "tus-node": lambda: tus_peers.start_tus_node(workdir, CACHE),
        "drf-tus": lambda: tus_peers.start_drf_tus(workdir, CACHE),
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
    protocol: str = "native",
    interrupt_at: float = 0.0,
) -> tuple[list[Measurement], list[ResumePoint]]:
    """Every case on every variant, ``repeat`` rounds, the order rotating; with ``tus`` and
    ``interrupt_at``, each round ends with a whole-file ``PATCH`` cut off on every tus server."""
    variants = select_variants(running, protocol, bodies)
    sources = {size: make_source(workdir, size) for size in {c.size for c in all_cases}}
    warm_up(variants, running, make_source(workdir, 8 * MiB))
    measurements: list[Measurement] = []
    resumes: list[ResumePoint] = []
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
                    f"{m.mib_per_s:.0f} MiB/s, completion {m.completion_ms or 0:.1f} ms, RSS {m.peak_rss_mib:.0f} MiB, "
                    f"CPU {m.cpu_s_per_gib:.2f} s/GiB, {m.faults_per_gib / 1000:.0f}k faults/GiB"
                )
                measurements.append(m)
                clear_media(server)
        if interrupt_at:
            size = max(sources)
            tus_servers = [v.server for v in variants if v.body == "tus"]
            resumes += cut_offs(tus_servers, running, sources[size][0], size, interrupt_at, round_)
    return measurements, resumes


def select_variants(
    running: dict[str, servers.Server], protocol: str, bodies: tuple[str, ...]
) -> list[Variant]:
    if protocol == "tus":
        return [v for v in TUS_VARIANTS if v.server in running]
    return [
        v
        for v in VARIANTS
        if v.server in running
        and (v.server in ("bare", "bare-socket", "bare-pinned", "seed") or v.body in bodies)
    ]


def cut_offs(
    keys: list[str],
    running: dict[str, servers.Server],
    source: Path,
    size: int,
    fraction: float,
    turn: int,
) -> list[ResumePoint]:
    """A whole-file ``PATCH`` cut after ``fraction`` of the file on each tus server, in turn."""
    points = []
    shift = turn % len(keys) if keys else 0
    for key in keys[shift:] + keys[:shift]:
        server = running[key]
        print(f"cut at {fraction:.0%} of {size // MiB} MiB: {server.name} ...", end=" ", flush=True)
        point = measure_resume(key, server, source, size, fraction)
        print(f"sent {point.sent / size:.1%}, HEAD offset {point.offset / size:.1%}")
        points.append(point)
        clear_media(server)
    return points


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
        running = start_servers(
            workdir, args.only, args.tuned_sqlite, args.stores, moto, args.protocol
        )
    except BaseException:
        if moto is not None:
            moto.stop()
        raise
    began = time.time()
    try:
        interrupt_at = args.interrupt_at if args.protocol == "tus" else 0.0
        measurements, resumes = run_all(
            all_cases,
            running,
            workdir,
            args.repeat,
            args.profile,
            tuple(args.bodies),
            args.protocol,
            interrupt_at,
        )
    finally:
        for server in running.values():
            server.stop()
        if moto is not None:
            moto.stop()
        for source in workdir.glob("source-*.bin"):
            source.unlink()
    results = report.reduce(measurements)
    if args.protocol == "tus":
        targets = report.tus_targets(results, resumes, measurements)
    else:
        targets = report.targets(results)
    text = report.table(results) + "\n\n" + "\n".join(targets)
    print("\n" + text)
    print(f"\n{len(measurements)} measurements in {time.time() - began:.0f} s; {machine_note()}")
    if args.json:
        rows: object = [m.as_dict() for m in measurements]
        if args.protocol == "tus":
            rows = {"measurements": rows, "cut_offs": [p.as_dict() for p in resumes]}
        args.json.write_text(json.dumps(rows, indent=1))
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if not args.keep:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
