"""Hashing a chunk's blocks on a helper thread while the request reads and writes the next ones.

md5 is the largest cost of taking a chunk (about 40 % of a worker's CPU for 8 MiB chunks), and
OpenSSL releases the GIL while it hashes, as the socket and the file do while they copy. So a block
of 256 KiB or more is handed to a thread of a small per-process pool, and the request goes on
receiving and storing the next block meanwhile: the digest falls behind by at most one block
(memory stays bounded), blocks are hashed strictly in order (the next one waits for the one
before), and the digest is complete whenever its state is read. Smaller blocks are hashed at once,
where a hand-over would cost more than it saves.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

# Below this a block is hashed on the request's thread.
MIN_OVERLAP_BYTES = 256 * 1024
# One block in flight per request: enough threads for a gthread worker's requests.
POOL_THREADS = 4

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


class Digest(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def state(self) -> bytes: ...


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="chunked-uploads-digest")
        return _pool


def _forget_pool() -> None:
    """In a forked child (a gunicorn worker forked from a preloaded master) the parent's threads
    do not exist: start a pool of its own on first use."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


class OverlappedDigest:
    """Wraps a resumable digest: ``update()`` returns before large blocks are hashed."""

    def __init__(self, digest: Digest) -> None:
        self._digest = digest
        self._pending: Future[None] | None = None

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self.wait()
        if len(data) < MIN_OVERLAP_BYTES:
            self._digest.update(data)
            return
        # The caller may reuse a mutable buffer as soon as this returns: hash a copy of it.
        block = data if isinstance(data, bytes) else bytes(data)
        self._pending = _executor().submit(self._digest.update, block)

    def wait(self) -> None:
        """Block until every byte given so far is hashed; re-raise a hashing failure."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def state(self) -> bytes:
        """The saved state of the digest of every byte given so far."""
        self.wait()
        return self._digest.state()
