"""The tus benchmark (``benchmarks/run.py --protocol tus``) in miniature, so that it cannot rot.

The same code path as the real run, on real gunicorn servers (the example project's tus endpoint
and the bare WSGI app): a 16 MiB file in 8 MiB ``PATCH``es and in one whole-file ``PATCH``, one
round, then a whole-file ``PATCH`` cut after 60 %. The client checks after each upload that the
server holds every byte and that its ``Repr-Digest`` is the source file's md5. The peers
(@tus/server under Node, drf-tus) are not started here: the benchmark installs them from the
registries into its cache; only their generated project is checked.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
MiB = 1024 * 1024

pytestmark = pytest.mark.skipif(
    not (BENCH / "run.py").exists(), reason="benchmarks/ is not in this tree"
)


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    """``benchmarks/run.py`` imported as the script imports its siblings (flat names), which are
    taken out of ``sys.modules`` again afterwards."""
    pytest.importorskip("gunicorn")
    before = set(sys.modules)
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("run")
    finally:
        sys.path.remove(str(BENCH))
        for name in set(sys.modules) - before:
            origin = getattr(sys.modules[name], "__file__", None) or ""
            if origin.startswith(str(BENCH)):
                del sys.modules[name]


def test_tus_cases(bench: ModuleType) -> None:
    """The tus run's default cases: 256 MiB and 1 GiB, in 8 MiB PATCHes and in one PATCH."""
    args = bench.parse_args(["--protocol", "tus"])
    case = sys.modules["measure"].Case
    assert bench.cases(args) == [
        case(256 * MiB, 8 * MiB, 1),
        case(256 * MiB, 256 * MiB, 1),
        case(1024 * MiB, 8 * MiB, 1),
        case(1024 * MiB, 1024 * MiB, 1),
    ]


def test_tus_run_in_miniature(bench: ModuleType, tmp_path: Path) -> None:
    args = bench.parse_args(["--protocol", "tus", "--sizes", "16", "--only", "bare", "ours"])
    cases = bench.cases(args)
    running = bench.start_servers(tmp_path, args.only, False, ["local"], None, "tus")
    try:
        measurements, cut_offs = bench.run_all(
            cases, running, tmp_path, 1, protocol="tus", interrupt_at=0.6
        )
    finally:
        for server in running.values():
            server.stop()
    measured = {(m.server, m.body, m.chunk) for m in measurements}
    assert measured == {
        ("bare", "raw", 8 * MiB),
        ("bare", "raw", 16 * MiB),
        ("ours", "tus", 8 * MiB),
        ("ours", "tus", 16 * MiB),
    }
    for m in measurements:
        assert m.mib_per_s > 0 and m.cpu_s_per_gib > 0 and m.peak_rss_mib > 0
    # One cut-off, on the tus server: 9.6 MiB sent; the 8 MiB check-point
    # (DRF_CHUNKED_UPLOAD_CHECKPOINT_BYTES' default) is what a HEAD reports afterwards.
    [point] = cut_offs
    assert (point.server, point.size, point.sent) == ("ours", 16 * MiB, int(16 * MiB * 0.6))
    assert point.offset == 8 * MiB

    report = sys.modules["report"]
    lines = report.tus_targets(report.reduce(measurements), cut_offs)
    assert len(lines) == 4  # two throughput ratios, the cut-off, the peak RSS
    assert "16 MiB in 8 MiB PATCHes, chunked_uploads vs bare WSGI" in lines[0]
    assert "16 MiB in one whole-file PATCH, chunked_uploads vs bare WSGI" in lines[1]
    assert "cut after 60%, chunked_uploads: HEAD says 50.0%" in lines[2]
    assert "peak RSS of chunked_uploads" in lines[3]
    assert "| 16 MiB | 8 MiB | 1 | chunked_uploads | tus |" in report.table(
        report.reduce(measurements)
    )


def test_drf_tus_project(bench: ModuleType, tmp_path: Path) -> None:
    """The drf-tus peer's generated project: valid Python, drf-tus's middleware after the
    example project's own (read from its settings past the conditional CORS entry)."""
    tus_peers = importlib.import_module("tus_peers")
    root = tus_peers.write_drf_tus_project(tmp_path)
    for path in root.rglob("*.py"):
        ast.parse(path.read_text(), str(path))
    settings = (root / "tusproj" / "settings.py").read_text()
    assert "'django.middleware.csrf.CsrfViewMiddleware'" in settings
    assert '+ ["rest_framework_tus.middleware.TusMiddleware"]' in settings
    assert "corsheaders" not in settings


def test_pinned_rows_compare_with_the_pinned_bare_app(bench: ModuleType) -> None:
    """A ``-pinned`` server's "vs bare" is against the bare app under the same allocator
    thresholds, and the page faults per GiB are reported next to the CPU."""
    measure, report = sys.modules["measure"], sys.modules["report"]

    def row(server: str, body: str, rate: float, faults: float) -> object:
        return measure.Measurement(
            server, body, 64 * MiB, 64 * MiB, 1, rate, rate, 1.0, 1.0, None, 50.0, 50.0, 2.0,
            faults,
        )  # fmt: skip

    results = report.reduce(
        [
            row("bare", "raw", 100.0, 250_000.0),
            row("bare-pinned", "raw", 200.0, 0.0),
            row("ours", "tus", 90.0, 1_000.0),
            row("ours-pinned", "tus", 190.0, 0.0),
        ]
    )
    table = report.table(results)
    assert "| chunked_uploads (pinned malloc) | tus | 190 | 95% |" in table
    assert "| chunked_uploads | tus | 90 | 90% |" in table
    assert table.splitlines()[2].endswith("| 2.00 | 250 |")  # bare: 250k faults per GiB
    lines = report.tus_targets(results, [])
    assert "chunked_uploads (pinned malloc) vs bare WSGI (pinned malloc): 190 / 200" in lines[1]
    assert "page faults 1k/GiB (bare 250k)" in lines[0]
    assert "round by round" not in lines[0]

    # Two rounds: each ratio is taken within its round, and their median reported.
    rounds = [
        row("bare", "raw", 100.0, 0.0),
        row("ours", "tus", 90.0, 0.0),
        row("bare", "raw", 50.0, 0.0),
        row("ours", "tus", 60.0, 0.0),
    ]
    [line, *_] = report.tus_targets(report.reduce(rounds), [], rounds)
    assert line.endswith("; round by round 0.90, 1.20x (median 1.05x)")


def test_instructions_report(bench: ModuleType) -> None:
    """``instructions.py``'s table: what an upload cost beyond warming up, per GiB, and
    chunked_uploads' excess over the bare app."""
    instructions = importlib.import_module("instructions")
    counter = instructions.Counter
    warm = counter(total=1000, libcrypto=10, libpython=500)
    results = {
        (key, mode): warm + counter(total=cost, libcrypto=cost // 2)
        for key, costs in (("bare", (100_000, 110_000)), ("ours", (105_000, 121_000)))
        for mode, cost in zip(("whole", "8 MiB"), costs, strict=True)
    }
    results |= {("bare", "warm"): warm, ("ours", "warm"): warm}
    text = instructions.report(results, 1024 * MiB)
    assert "excess over the bare app: +5.0%" in text
    assert "excess over the bare app: +10.0%" in text
