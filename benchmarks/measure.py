"""One measurement: N parallel clients upload the same file to one server while /proc is read.

Peak RSS is the sum over the gunicorn workers of each one's ``VmHWM`` (reset at the start of the
measurement), and also sampled every 10 ms as the sum of ``VmRSS`` (a lower bound that needs no
``clear_refs``). Server CPU time is the workers' user + system time during the measurement; their
minor page faults are counted over the same span.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from client import Body, TusUploader, Uploader, UploadResult
from servers import Server, cpu_seconds, minor_faults, read_status_kib, reset_peak_rss

MiB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    size: int
    chunk: int
    clients: int

    def label(self) -> str:
        return f"{_size(self.size)} in {_size(self.chunk)} chunks, {self.clients} client(s)"


@dataclass(frozen=True)
class Variant:
    # key into the servers dict: "ours", "ours-s3", "ours-storage-s3", "seed", "bare", "bare-socket",
    # and the tus peers "tus-node", "drf-tus"
    server: str
    body: Body  # "tus": the server's tus endpoint

    def label(self, servers: dict[str, Server]) -> str:
        return f"{servers[self.server].name} ({self.body})"


@dataclass
class Measurement:
    server: str
    body: str
    size: int
    chunk: int
    clients: int
    mib_per_s: float  # chunk phase, all clients together
    end_to_end_mib_per_s: float  # first chunk to last completion, all clients together
    chunk_median_ms: float
    chunk_p95_ms: float
    completion_ms: float | None  # median over clients
    peak_rss_mib: float  # sum of the workers' VmHWM
    sampled_rss_mib: float  # highest sampled sum of VmRSS
    cpu_s_per_gib: float  # server CPU time per GiB uploaded
    faults_per_gib: float = 0.0  # the workers' minor page faults per GiB uploaded

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _size(value: int) -> str:
    return f"{value // (1024 * MiB)} GiB" if value >= 1024 * MiB else f"{value // MiB} MiB"


class RssSampler(threading.Thread):
    """Samples the sum of the workers' ``VmRSS`` until stopped."""

    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.peak_kib = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.01):
            total = 0
            for pid in self.server.worker_pids():
                with contextlib.suppress(OSError):
                    total += read_status_kib(pid, "VmRSS")
            self.peak_kib = max(self.peak_kib, total)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak_kib


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass
class ResumePoint:
    """A whole-file tus ``PATCH`` cut off part-way, and where a ``HEAD`` says the upload is then."""

    server: str
    size: int
    sent: int  # bytes the client sent before closing the connection
    offset: int  # the offset the server reports once it has settled

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def make_uploader(server_key: str, server: Server, body: Body) -> Uploader | TusUploader:
    if body == "tus":
        assert server.tus_prefix is not None, f"{server.name} has no tus endpoint"
        return TusUploader(server.port, server.token, server.tus_prefix)
    protocol = "bare" if server_key.startswith("bare") else "chunked"
    return Uploader(server.port, server.token, server.prefix, body, protocol)


def measure_resume(
    server_key: str, server: Server, source: Path, size: int, fraction: float
) -> ResumePoint:
    """Cut a whole-file tus ``PATCH`` after ``fraction`` of ``source``; read the offset left."""
    uploader = make_uploader(server_key, server, "tus")
    assert isinstance(uploader, TusUploader)
    with source.open("rb") as file:
        url, sent = uploader.interrupted(file, size, fraction)
    # A server that reads the whole body before it writes (drf-tus) keeps the offset still
    # while it writes; wait until its processes stop working before asking where it stands.
    wait_idle(server)
    return ResumePoint(server_key, size, sent, uploader.settled_offset(url))


def wait_idle(
    server: Server, window: float = 0.5, threshold: float = 0.05, timeout: float = 120.0
) -> None:
    """Wait until the server's processes used less than ``threshold`` s of CPU in ``window``."""
    deadline = time.monotonic() + timeout
    last = cpu_seconds(server.worker_pids())
    while time.monotonic() < deadline:
        time.sleep(window)
        now = cpu_seconds(server.worker_pids())
        if now - last < threshold:
            return
        last = now


def _run_clients(
    uploader: Uploader | TusUploader, source: Path, case: Case, md5: str
) -> list[UploadResult]:
    results: list[UploadResult | BaseException] = [RuntimeError("not run")] * case.clients
    barrier = threading.Barrier(case.clients)

    def one(index: int) -> None:
        try:
            with source.open("rb") as file:
                barrier.wait()
                results[index] = uploader.upload(file, case.size, case.chunk, md5)
        except BaseException as error:  # re-raised below, in the main thread
            barrier.abort()
            results[index] = error

    # Daemon threads, joined with a timeout: Ctrl-C still reaches the main thread.
    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(case.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]


def measure(
    server_key: str,
    server: Server,
    body: Body,
    case: Case,
    source: Path,
    md5: str,
    profile_dir: Path | None = None,
) -> Measurement:
    uploader = make_uploader(server_key, server, body)
    pids = server.worker_pids()
    hwm_ok = reset_peak_rss(pids)
    cpu_before = cpu_seconds(pids)
    faults_before = minor_faults(pids)
    sampler = RssSampler(server)
    sampler.start()
    name = f"{server_key}-{body}-{case.size // MiB}M-{case.chunk // MiB}M-{case.clients}c"
    profilers = start_profilers(pids, profile_dir / name) if profile_dir else []
    try:
        results = _run_clients(uploader, source, case, md5)
    finally:
        sampled_kib = sampler.stop()
        stop_profilers(profilers)
    pids_after = server.worker_pids()
    cpu = cpu_seconds(pids_after) - cpu_before
    faults = minor_faults(pids_after) - faults_before
    hwm_kib = sum(read_status_kib(pid, "VmHWM") for pid in pids_after) if hwm_ok else sampled_kib
    chunks = [s for r in results for s in r.chunk_seconds]
    span = max(r.finished for r in results) - min(r.started for r in results)
    completions = [r.completion_seconds for r in results if r.completion_seconds is not None]
    total = case.size * case.clients
    return Measurement(
        server=server_key,
        body=body,
        size=case.size,
        chunk=case.chunk,
        clients=case.clients,
        mib_per_s=total / MiB / span,
        end_to_end_mib_per_s=total
        / MiB
        / (max(r.completed for r in results) - min(r.started for r in results)),
        chunk_median_ms=statistics.median(chunks) * 1000,
        chunk_p95_ms=percentile(chunks, 0.95) * 1000,
        completion_ms=statistics.median(completions) * 1000 if completions else None,
        peak_rss_mib=hwm_kib / 1024,
        sampled_rss_mib=sampled_kib / 1024,
        cpu_s_per_gib=cpu / (total / (1024 * MiB)),
        faults_per_gib=faults / (total / (1024 * MiB)),
    )


def start_profilers(pids: list[int], prefix: Path) -> list[subprocess.Popen[bytes]]:
    """``py-spy record`` on each worker: collapsed stacks of on-CPU samples."""
    py_spy = Path(sys.executable).parent / "py-spy"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    profilers = []
    for pid in pids:
        command = [str(py_spy), "record", "--pid", str(pid), "--rate", "250", "--format", "raw"]
        command += ["--output", f"{prefix}-{pid}.txt"]  # on-CPU samples only
        profilers.append(
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
    time.sleep(1)  # let py-spy attach before the first request
    return profilers


def stop_profilers(profilers: list[subprocess.Popen[bytes]]) -> None:
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)
    for profiler in profilers:
        profiler.wait(timeout=60)


def clear_media(server: Server) -> None:
    """Drop what the last measurement stored (and its dirty pages), so runs do not interfere."""
    for entry in server.media_root.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    if server.clear_store is not None:
        server.clear_store()
    os.sync()
    time.sleep(0.2)
