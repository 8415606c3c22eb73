"""The results table and the issue's targets, as ratios between measurements of the same run.

Repeated measurements of one (server, body, case) are reduced to their median, metric by metric.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable

from measure import Measurement, MiB, ResumePoint

NAMES = {
    "ours": "chunked_uploads",
    "ours-socket": "chunked_uploads (socket reads)",
    "ours-s3": "chunked_uploads [s3 multipart]",
    "ours-storage-s3": "chunked_uploads [storage store, S3Storage]",
    "seed": "drf-chunked-upload 0.6.0",
    "bare": "bare WSGI",
    "bare-socket": "bare WSGI (socket reads)",
    "bare-pinned": "bare WSGI (pinned malloc)",
    "ours-pinned": "chunked_uploads (pinned malloc)",
    "tus-node": "@tus/server 2.4.5 (Node)",
    "drf-tus": "drf-tus 2.0.3",
}
Key = tuple[int, int, int, str, str]  # size, chunk, clients, server, body
SERVER_ORDER = {
    "bare": 0,
    "bare-socket": 1,
    "bare-pinned": 2,
    "ours": 3,
    "ours-socket": 4,
    "ours-pinned": 5,
    "ours-s3": 6,
    "ours-storage-s3": 7,
    "seed": 8,
    "tus-node": 9,
    "drf-tus": 10,
}


def _size(value: int) -> str:
    return f"{value // (1024 * MiB)} GiB" if value >= 1024 * MiB else f"{value // MiB} MiB"


def reduce(measurements: Iterable[Measurement]) -> dict[Key, Measurement]:
    """The median of each metric over the repeats of each (case, server, body)."""
    groups: dict[Key, list[Measurement]] = defaultdict(list)
    for m in measurements:
        groups[(m.size, m.chunk, m.clients, m.server, m.body)].append(m)
    reduced = {}
    for key, group in groups.items():
        first = group[0]
        values = {
            name: statistics.median(getattr(m, name) for m in group)
            for name in ("mib_per_s", "end_to_end_mib_per_s", "chunk_median_ms", "chunk_p95_ms")
        }
        values |= {
            name: statistics.median(getattr(m, name) for m in group)
            for name in ("peak_rss_mib", "sampled_rss_mib", "cpu_s_per_gib", "faults_per_gib")
        }
        completions = [m.completion_ms for m in group if m.completion_ms is not None]
        reduced[key] = Measurement(
            server=first.server,
            body=first.body,
            size=first.size,
            chunk=first.chunk,
            clients=first.clients,
            completion_ms=statistics.median(completions) if completions else None,
            **values,
        )
    return reduced


def table(results: dict[Key, Measurement]) -> str:
    """A Markdown table, one row per (case, server, body)."""
    header = (
        "| file | chunk | clients | server | body | chunk phase MiB/s | vs bare | chunk median ms "
        "| chunk p95 ms | completion ms | end-to-end MiB/s | peak RSS MiB | server CPU s/GiB "
        "| page faults k/GiB |"
    )
    lines = [header, _rule(header)]
    ordered = sorted(results, key=lambda k: (k[0], k[1], k[2], SERVER_ORDER[k[3]], k[4]))
    for key in ordered:
        m = results[key]
        reference = "bare-pinned" if m.server.endswith("-pinned") else "bare"
        bare = results.get((m.size, m.chunk, m.clients, reference, "raw"))
        versus = f"{m.mib_per_s / bare.mib_per_s:.0%}" if bare else "-"
        completion = f"{m.completion_ms:.1f}" if m.completion_ms is not None else "-"
        lines.append(
            f"| {_size(m.size)} | {_size(m.chunk)} | {m.clients} | {NAMES[m.server]} | {m.body} "
            f"| {m.mib_per_s:.0f} | {versus} | {m.chunk_median_ms:.1f} | {m.chunk_p95_ms:.1f} "
            f"| {completion} | {m.end_to_end_mib_per_s:.0f} | {m.peak_rss_mib:.0f} "
            f"| {m.cpu_s_per_gib:.2f} | {m.faults_per_gib / 1000:.0f} |"
        )
    return "\n".join(lines)


def _rule(header: str) -> str:
    return "|" + "---|" * (header.count("|") - 1)


def _get(
    results: dict[Key, Measurement], size: int, chunk: int, clients: int, server: str, body: str
) -> Measurement | None:
    return results.get((size, chunk, clients, server, body))


def targets(results: dict[Key, Measurement]) -> list[str]:
    """One line per target of the issue: the measured ratio and whether it is met."""
    sizes = sorted({k[0] for k in results})
    big, small = sizes[-1], sizes[0]
    lines = []
    lines += _completion_target(results, small, big)
    lines += _ratio_target(
        results, big, "raw body vs bare WSGI ceiling", ("ours", "raw"), ("bare", "raw"), 0.9, 1
    )
    lines += _ratio_target(
        results,
        big,
        "raw body vs bare WSGI reading the socket as we do",
        ("ours", "raw"),
        ("bare-socket", "raw"),
        0.9,
        1,
        info=True,
    )
    lines += _ratio_target(
        results,
        big,
        "raw body, wsgi.input (default) vs the optional socket reads",
        ("ours", "raw"),
        ("ours-socket", "raw"),
        0.9,
        1,
        info=True,
    )
    lines += _ratio_target(
        results,
        big,
        "multipart vs drf-chunked-upload",
        ("ours", "multipart"),
        ("seed", "multipart"),
        2.0,
        1,
        chunks=(8 * MiB,),
    )
    lines += _ratio_target(
        results,
        big,
        "4 parallel, multipart vs drf-chunked-upload",
        ("ours", "multipart"),
        ("seed", "multipart"),
        2.0,
        4,
    )
    lines += _ratio_target(
        results,
        big,
        "4 parallel, raw vs drf-chunked-upload (multipart)",
        ("ours", "raw"),
        ("seed", "multipart"),
        2.0,
        4,
    )
    lines += _rss_target(results)
    lines += _info(results, big)
    return lines


def _info(results: dict[Key, Measurement], size: int) -> list[str]:
    """Less noisy companions of the targets: end-to-end rates and server CPU per GiB."""
    lines = []
    for chunk in sorted({k[1] for k in results if k[0] == size}):
        for clients in sorted({k[2] for k in results if k[0] == size and k[1] == chunk}):
            ours = _get(results, size, chunk, clients, "ours", "multipart")
            seed = _get(results, size, chunk, clients, "seed", "multipart")
            if ours is None or seed is None:
                continue
            lines.append(
                f"[info] {_size(size)} in {_size(chunk)} chunks, {clients} client(s), multipart vs "
                f"drf-chunked-upload: end-to-end (chunks + completion) "
                f"{ours.end_to_end_mib_per_s / seed.end_to_end_mib_per_s:.2f}x, server CPU per GiB "
                f"{ours.cpu_s_per_gib:.2f} / {seed.cpu_s_per_gib:.2f} s "
                f"({seed.cpu_s_per_gib / ours.cpu_s_per_gib:.2f}x less)"
            )
    return lines


def _completion_target(results: dict[Key, Measurement], small: int, big: int) -> list[str]:
    lines = []
    for body in ("raw", "multipart"):
        for chunk in sorted({k[1] for k in results if k[0] == big}):
            m_big = _get(results, big, chunk, 1, "ours", body)
            m_small = _get(results, small, chunk, 1, "ours", body)
            if m_big is None or m_big.completion_ms is None:
                continue
            met = m_big.completion_ms <= 20
            line = f"completion, {_size(big)} in {_size(chunk)} chunks ({body}): {m_big.completion_ms:.1f} ms (target <= 20 ms)"
            if m_small is not None and m_small.completion_ms is not None and small != big:
                flat = m_big.completion_ms <= max(
                    2 * m_small.completion_ms, m_small.completion_ms + 5
                )
                met = met and flat
                line += f"; {_size(small)}: {m_small.completion_ms:.1f} ms ({'flat' if flat else 'NOT flat'})"
            seed = _get(results, big, chunk, 1, "seed", "multipart")
            if seed is not None and seed.completion_ms is not None:
                line += f"; drf-chunked-upload: {seed.completion_ms:.0f} ms"
            lines.append(f"[{'met' if met else 'NOT MET'}] {line}")
    return lines


def _ratio_target(
    results: dict[Key, Measurement],
    size: int,
    title: str,
    ours: tuple[str, str],
    other: tuple[str, str],
    target: float,
    clients: int,
    chunks: tuple[int, ...] | None = None,
    info: bool = False,
) -> list[str]:
    """``info``: a comparison the issue sets no target for; the ratio is printed, not judged."""
    lines = []
    for chunk in chunks or sorted({k[1] for k in results if k[0] == size}):
        a = _get(results, size, chunk, clients, *ours)
        b = _get(results, size, chunk, clients, *other)
        if a is None or b is None:
            continue
        ratio = a.mib_per_s / b.mib_per_s
        status = "info" if info else "met" if ratio >= target else "NOT MET"
        lines.append(
            f"[{status}] {title}, {_size(size)} in {_size(chunk)} chunks, {clients} client(s): "
            f"{a.mib_per_s:.0f} / {b.mib_per_s:.0f} MiB/s = {ratio:.2f}x"
            + ("" if info else f" (target >= {target:.2f}x)")
            + (_ceilings(results, size, chunk, clients, b) if other[0] == "seed" else "")
        )
    return lines


def _ceilings(
    results: dict[Key, Measurement], size: int, chunk: int, clients: int, seed: Measurement
) -> str:
    """How far above the seed the bare apps (which also md5 every byte as it arrives) got in the
    same case: a ratio no server that hashes during the chunk phase can be expected to pass."""
    parts = []
    for server in ("bare", "bare-socket"):
        ceiling = _get(results, size, chunk, clients, server, "raw")
        if ceiling is not None:
            parts.append(f"{NAMES[server]} {ceiling.mib_per_s / seed.mib_per_s:.2f}x")
    return f"; the ceilings here: {', '.join(parts)}" if parts else ""


def _rss_target(results: dict[Key, Measurement]) -> list[str]:
    lines = []
    for body in ("raw", "multipart"):
        single = [m for k, m in results.items() if k[3] == "ours" and k[4] == body and k[2] == 1]
        if not single:
            continue
        low = min(single, key=lambda m: m.peak_rss_mib)
        high = max(single, key=lambda m: m.peak_rss_mib)
        # "Flat": within a quarter, or 16 MiB (two 1 MiB buffers per worker and allocator noise).
        flat = high.peak_rss_mib <= max(low.peak_rss_mib * 1.25, low.peak_rss_mib + 16)
        lines.append(
            f"[{'met' if flat else 'NOT MET'}] peak RSS, chunked_uploads ({body}, 1 client, 2 workers): "
            f"{low.peak_rss_mib:.0f} MiB ({_size(low.size)}/{_size(low.chunk)}) to "
            f"{high.peak_rss_mib:.0f} MiB ({_size(high.size)}/{_size(high.chunk)})"
        )
    seed = [m for k, m in results.items() if k[3] == "seed" and k[2] == 1]
    if seed:
        lo, hi = min(m.peak_rss_mib for m in seed), max(m.peak_rss_mib for m in seed)
        lines.append(f"[info] peak RSS, drf-chunked-upload (1 client): {lo:.0f} to {hi:.0f} MiB")
    return lines


# -- tus (``run.py --protocol tus``) ------------------------------------------------------------

TUS_SERVERS = (
    "ours",
    "ours-socket",
    "ours-pinned",
    "ours-s3",
    "ours-storage-s3",
    "tus-node",
    "drf-tus",
)


def _chunk_label(size: int, chunk: int) -> str:
    return "one whole-file PATCH" if chunk >= size else f"{_size(chunk)} PATCHes"


def round_ratios(
    measurements: Iterable[Measurement], size: int, chunk: int, server: str, reference: str
) -> list[float]:
    """``server``'s rate over ``reference``'s, round by round (the n-th measurement of each in the
    case): the two ran minutes apart at most, so a ratio sees less of the machine's load than
    the ratio of two medians."""
    rates: dict[str, list[float]] = defaultdict(list)
    for m in measurements:
        if (m.size, m.chunk, m.clients) == (size, chunk, 1) and m.server in (server, reference):
            rates[m.server].append(m.mib_per_s)
    return [a / b for a, b in zip(rates[server], rates[reference], strict=False)]


def tus_targets(
    results: dict[Key, Measurement],
    resumes: list[ResumePoint],
    measurements: Iterable[Measurement] = (),
) -> list[str]:
    """The tus targets: throughput vs the bare app, the offset kept by a cut-off ``PATCH``,
    peak RSS flat in file and chunk size; the peers' figures next to ours, for the record.
    With the raw ``measurements``, each ratio line also gives the ratios round by round."""
    measurements = list(measurements)
    lines = []
    big = max(k[0] for k in results)
    for chunk in sorted({k[1] for k in results if k[0] == big}):
        for server in TUS_SERVERS:
            # The pinned server against the pinned bare app: the same allocator on both sides.
            reference = "bare-pinned" if server.endswith("-pinned") else "bare"
            bare = _get(results, big, chunk, 1, reference, "raw")
            m = _get(results, big, chunk, 1, server, "tus")
            if m is None or bare is None:
                continue
            ratio = m.mib_per_s / bare.mib_per_s
            status = "info" if server != "ours" else "met" if ratio >= 0.95 else "NOT MET"
            lines.append(
                f"[{status}] tus, {_size(big)} in {_chunk_label(big, chunk)}, {NAMES[server]} vs "
                f"{NAMES[reference]}: {m.mib_per_s:.0f} / {bare.mib_per_s:.0f} MiB/s = {ratio:.2f}x"
                + (" (target >= 0.95x)" if server == "ours" else "")
                + f"; server CPU {m.cpu_s_per_gib:.2f} s/GiB (bare {bare.cpu_s_per_gib:.2f}), "
                f"page faults {m.faults_per_gib / 1000:.0f}k/GiB (bare {bare.faults_per_gib / 1000:.0f}k)"
                + _rounds(round_ratios(measurements, big, chunk, server, reference))
            )
    lines += _resume_lines(resumes)
    lines += _tus_rss_lines(results)
    return lines


def _rounds(ratios: list[float]) -> str:
    if len(ratios) < 2:
        return ""
    each = ", ".join(f"{r:.2f}" for r in ratios)
    return f"; round by round {each}x (median {statistics.median(ratios):.2f}x)"


def _resume_lines(resumes: list[ResumePoint]) -> list[str]:
    groups: dict[str, list[ResumePoint]] = defaultdict(list)
    for point in resumes:
        groups[point.server].append(point)
    lines = []
    for server in sorted(groups, key=lambda s: SERVER_ORDER[s]):
        points = groups[server]
        kept = statistics.median(p.offset / p.size for p in points)
        sent = statistics.median(p.sent / p.size for p in points)
        all_kept = ", ".join(f"{p.offset / p.size:.1%}" for p in points)
        status = "info" if server != "ours" else "met" if kept >= 0.55 else "NOT MET"
        lines.append(
            f"[{status}] tus, a whole-file PATCH of {_size(points[0].size)} cut after {sent:.0%}, "
            f"{NAMES[server]}: HEAD says {kept:.1%} (median of {all_kept})"
            + (" (target >= 55%)" if server == "ours" else "")
        )
    return lines


def _tus_rss_lines(results: dict[Key, Measurement]) -> list[str]:
    lines = []
    for server in TUS_SERVERS:
        single = [m for k, m in results.items() if k[3] == server and k[4] == "tus" and k[2] == 1]
        if not single:
            continue
        low = min(single, key=lambda m: m.peak_rss_mib)
        high = max(single, key=lambda m: m.peak_rss_mib)
        flat = high.peak_rss_mib <= max(low.peak_rss_mib * 1.25, low.peak_rss_mib + 16)
        status = "info" if server != "ours" else "met" if flat else "NOT MET"
        lines.append(
            f"[{status}] tus, peak RSS of {NAMES[server]}: {low.peak_rss_mib:.0f} MiB "
            f"({_size(low.size)}, {_chunk_label(low.size, low.chunk)}) to "
            f"{high.peak_rss_mib:.0f} MiB ({_size(high.size)}, {_chunk_label(high.size, high.chunk)})"
            + ("" if server != "ours" else f" ({'flat' if flat else 'NOT flat'})")
        )
    return lines
