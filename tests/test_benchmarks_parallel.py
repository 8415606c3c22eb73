"""The parallel-uploads benchmark (``benchmarks/parallel.py``) in miniature, so that it cannot rot.

The same code path as the real run, as a user runs it (the script, in a subprocess): two real
gunicorn servers (md5 and crc32c), the project's client over the user-space wide-area link and
over the loopback, then a parallel upload's completion, with 8 MiB and 16 MiB files and two
connections instead of 256 MiB, 1 GiB and four. Only the report's shape is checked here; its
figures are for a quiet machine.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"

pytestmark = pytest.mark.skipif(
    not (BENCH / "parallel.py").exists(), reason="benchmarks/ is not in this tree"
)


def test_parallel_benchmark_in_miniature() -> None:
    pytest.importorskip("gunicorn")
    command = [sys.executable, "parallel.py", "--wan-mib", "8", "--big-mib", "16"]
    result = subprocess.run(
        [*command, "--connections", "2"], cwd=BENCH, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4, result.stdout
    assert re.fullmatch(
        r"WAN .*, 8 MiB: 1 connection [\d.]+ s, 2 connections [\d.]+ s, .*", lines[0]
    )
    assert lines[1].startswith("Loopback, 8 MiB (best of 2, interleaved): 1 connection")
    assert re.fullmatch(
        r"16 MiB over 2 connections, md5: upload .* completion [\d.]+ ms .*", lines[2]
    )
    assert lines[3].startswith("16 MiB over 2 connections, crc32c: upload")
