"""Tests of ``overlap.py``: blocks hashed on a helper thread give the digest hashlib gives.

Tried: blocks on both sides of the hand-over threshold in random order, a mutable buffer reused
(overwritten) right after ``update()`` returns, a failing digest, reading the state while a block
is in flight, and a forked child (a gunicorn worker forked after the pool started in its master).
"""

from __future__ import annotations

import hashlib
import os
import random
import select
import signal
import threading
import warnings
from typing import Any

import pytest

from chunked_uploads.hashing import new_digest
from chunked_uploads.overlap import MIN_OVERLAP_BYTES, OverlappedDigest


def finished(digest: OverlappedDigest, algorithm: str = "md5") -> str:
    return new_digest(algorithm, digest.state()).hexdigest()


@pytest.mark.parametrize("algorithm", ["md5", "sha256"])
def test_blocks_of_every_size_give_hashlibs_digest(algorithm: str) -> None:
    rng = random.Random(7)
    sizes = [1, MIN_OVERLAP_BYTES - 1, MIN_OVERLAP_BYTES, 3 * MIN_OVERLAP_BYTES + 5, 0, 100]
    sizes += [rng.randrange(1, 2 * MIN_OVERLAP_BYTES) for _ in range(20)]
    blocks = [os.urandom(size) for size in sizes]
    digest = OverlappedDigest(new_digest(algorithm))
    for block in blocks:
        digest.update(block)
    assert finished(digest, algorithm) == hashlib.new(algorithm, b"".join(blocks)).hexdigest()


def test_a_reused_buffer_is_hashed_as_it_was_when_given() -> None:
    buffer = bytearray(os.urandom(2 * MIN_OVERLAP_BYTES))
    expected = hashlib.md5(bytes(buffer) * 2)
    digest = OverlappedDigest(new_digest("md5"))
    original = bytes(buffer)
    digest.update(buffer)
    buffer[:] = b"\0" * len(buffer)  # the caller refills its buffer at once
    digest.update(memoryview(original))
    assert finished(digest) == expected.hexdigest()


def test_state_waits_for_the_block_in_flight() -> None:
    started, release = threading.Event(), threading.Event()

    class Slow:
        def __init__(self) -> None:
            self.inner = new_digest("md5")

        def update(self, data: Any) -> None:
            started.set()
            release.wait(5)
            self.inner.update(data)

        def state(self) -> bytes:
            return self.inner.state()

    block = os.urandom(MIN_OVERLAP_BYTES)
    digest = OverlappedDigest(Slow())
    digest.update(block)  # returns while the helper thread is still hashing
    assert started.wait(5)
    threading.Timer(0.2, release.set).start()
    assert new_digest("md5", digest.state()).hexdigest() == hashlib.md5(block).hexdigest()


def test_a_hashing_failure_reaches_the_request() -> None:
    class Broken:
        def update(self, data: Any) -> None:
            raise RuntimeError("MD5_Update failed")

        def state(self) -> bytes:
            return b""

    digest = OverlappedDigest(Broken())
    digest.update(os.urandom(MIN_OVERLAP_BYTES))
    with pytest.raises(RuntimeError, match="MD5_Update failed"):
        digest.state()


def test_a_forked_child_hashes_with_threads_of_its_own() -> None:
    block = os.urandom(MIN_OVERLAP_BYTES * 2)
    warm = OverlappedDigest(new_digest("md5"))
    warm.update(block)  # the pool's threads now exist in this (the parent) process
    warm.wait()
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a process with threads may deadlock: that is the case
        # under test, and the child touches no lock the parent's threads could hold.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        try:
            digest = OverlappedDigest(new_digest("md5"))
            digest.update(block)
            os.write(write_end, finished(digest).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], 10)
    if not ready:  # the child's digest never finished: no thread ran its block
        os.kill(pid, signal.SIGKILL)
    with os.fdopen(read_end) as pipe:
        answer = pipe.read() if ready else ""
    os.waitpid(pid, 0)
    assert answer == hashlib.md5(block).hexdigest()
