"""Summarize py-spy's collapsed stacks (``--format raw``): where the workers' time went.

    .venv/bin/python benchmarks/stacks.py benchmarks/results/profile/ours-raw-64M-1M-1c-*.txt

Prints the share of samples per function, self time and inclusive time, idle samples excluded
(a sync worker waiting in ``accept`` or ``select`` between requests is not doing work).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

BUSY = "SyncWorker.handle ("  # a sync worker serving a request; everything else is waiting for one


def load(paths: list[Path]) -> list[tuple[list[str], int]]:
    stacks = []
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if stack:
                stacks.append((stack.split(";"), int(count)))
    return stacks


def is_idle(frames: list[str]) -> bool:
    return not any(frame.startswith(BUSY) for frame in frames)


def summarize(stacks: list[tuple[list[str], int]], top: int) -> str:
    busy = [(frames, n) for frames, n in stacks if not is_idle(frames)]
    total = sum(n for _, n in busy) or 1
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, n in busy:
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    lines = [
        f"{total} busy samples (idle excluded: {sum(n for _, n in stacks) - total})",
        "",
        "self:",
    ]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    lines += ["", "inclusive:"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    print(summarize(load(args.files), args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
