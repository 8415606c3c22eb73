"""Resumable message digests whose running state can be stored between requests.

A chunked upload arrives over many HTTP requests, possibly served by different
worker processes. To check the whole file's checksum at completion without
re-reading it, the running digest has to survive between requests, e.g. as
bytes in a database row. ``hashlib`` objects cannot be serialized, but
OpenSSL's low-level ``MD5_CTX`` / ``SHA_CTX`` / ``SHA256_CTX`` / ``SHA512_CTX``
structs are plain memory without pointers, so this module drives them through
``ctypes`` (using the libcrypto that Python's own ``_hashlib`` links to) and
saves their bytes behind a small header.

Each algorithm is verified against ``hashlib`` on first use. If anything is
missing or wrong it is simply reported as not resumable, and callers fall back
to :class:`StreamingDigest`, which means re-reading the file at completion.

A saved state is only valid on hosts with the same byte order (checked) and
the same OpenSSL struct layout (unchanged since OpenSSL 0.9.8).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
import importlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .combinable_checksums import Crc32cDigest, is_combinable

__all__ = [
    "RESUMABLE_ALGORITHMS",
    "DigestStateError",
    "ResumableDigest",
    "StreamingDigest",
    "digest_mode",
    "is_resumable",
    "new_digest",
]

logger = logging.getLogger(__name__)

Buffer = bytes | bytearray | memoryview
_Ctx = ctypes.Array[ctypes.c_char]

_U32 = ctypes.c_uint  # MD5_LONG and SHA_LONG are `unsigned int`
_U64 = ctypes.c_ulonglong  # SHA_LONG64


# Mirrors of the public struct layouts in <openssl/md5.h> and <openssl/sha.h>;
# ctypes applies the platform ABI, so sizes and offsets follow the C compiler.
_MD32_TAIL: list[tuple[str, Any]] = [("Nl", _U32), ("Nh", _U32), ("data", _U32 * 16), ("num", _U32)]


class _Md5Ctx(ctypes.Structure):
    _fields_ = [("h", _U32 * 4), *_MD32_TAIL]


class _ShaCtx(ctypes.Structure):
    _fields_ = [("h", _U32 * 5), *_MD32_TAIL]


class _Sha256Ctx(ctypes.Structure):
    _fields_ = [("h", _U32 * 8), *_MD32_TAIL, ("md_len", _U32)]


class _Sha512Ctx(ctypes.Structure):
    _fields_ = [("h", _U64 * 8), ("Nl", _U64), ("Nh", _U64), ("u", _U64 * 16)]
    _fields_ += [("num", _U32), ("md_len", _U32)]


@dataclass(frozen=True)
class _Spec:
    name: str
    alg_id: int  # persisted in saved states: never renumber
    prefix: str  # OpenSSL function prefix, e.g. "SHA256" for SHA256_Init
    layout: type[ctypes.Structure]
    block_size: int
    digest_size: int
    has_md_len: bool


_SPECS = {
    spec.name: spec
    for spec in (
        _Spec("md5", 1, "MD5", _Md5Ctx, 64, 16, False),
        _Spec("sha1", 2, "SHA1", _ShaCtx, 64, 20, False),
        _Spec("sha224", 3, "SHA224", _Sha256Ctx, 64, 28, True),
        _Spec("sha256", 4, "SHA256", _Sha256Ctx, 64, 32, True),
        _Spec("sha384", 5, "SHA384", _Sha512Ctx, 128, 48, True),
        _Spec("sha512", 6, "SHA512", _Sha512Ctx, 128, 64, True),
    )
}
_NAMES_BY_ID = {spec.alg_id: spec.name for spec in _SPECS.values()}

RESUMABLE_ALGORITHMS: frozenset[str] = frozenset(_SPECS)

# OpenSSL only ever touches sizeof(struct) bytes, but if a build's struct were
# larger than our mirror, a tight buffer would be overrun; the load-time check
# rejects such builds, and the slack makes the check itself safe.
_CTX_BUFFER = 1024
_SENTINEL = 0xA5
_MAGIC = b"RD"
_VERSION = 1
_BYTEORDER = 0 if sys.byteorder == "little" else 1
_HEADER_SIZE = len(_MAGIC) + 3
# Several 64- and 128-byte blocks, ending mid-block.
_PROBE = bytes(range(256)) * 5 + b"tail"


class DigestStateError(ValueError):
    """A saved state is corrupt, for another algorithm, or from another format."""


@dataclass(frozen=True)
class _Backend:
    spec: _Spec
    init: Callable[..., int]
    update: Callable[..., int]
    final: Callable[..., int]


@functools.cache
def _library(source: str) -> ctypes.CDLL | None:
    """libcrypto as found through Python's ``_hashlib`` or the system linker."""
    try:
        if source == "hashlib":
            # dlsym() on the extension's handle also searches its dependencies,
            # which finds the very libcrypto Python itself uses.
            path = getattr(importlib.import_module("_hashlib"), "__file__", None)
        else:
            path = ctypes.util.find_library("crypto")
        return ctypes.CDLL(path) if path else None
    except (ImportError, OSError):
        return None


def _bind(spec: _Spec) -> _Backend | None:
    names = [f"{spec.prefix}_{op}" for op in ("Init", "Update", "Final")]
    for source in ("hashlib", "system"):
        library = _library(source)
        if library is None or not all(hasattr(library, n) for n in names):
            continue
        init, update, final = (getattr(library, n) for n in names)
        init.argtypes = [ctypes.c_void_p]
        update.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        final.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        for function in (init, update, final):
            function.restype = ctypes.c_int
        return _Backend(spec, init, update, final)
    return None


def _blank(fill: int) -> _Ctx:
    return (ctypes.c_char * _CTX_BUFFER).from_buffer_copy(bytes([fill]) * _CTX_BUFFER)


def _copy(ctx: _Ctx) -> _Ctx:
    return (ctypes.c_char * _CTX_BUFFER).from_buffer_copy(ctx)


def _initialized(backend: _Backend, fill: int = 0) -> _Ctx:
    ctx = _blank(fill)
    if backend.init(ctx) != 1:
        raise RuntimeError(f"{backend.spec.prefix}_Init failed")
    return ctx


def _feed(backend: _Backend, ctx: _Ctx, data: Buffer) -> None:
    # bytes go straight through: ctypes passes a pointer to their own storage.
    pointer, size = (data, len(data)) if isinstance(data, bytes) else _borrow(data)
    if size and backend.update(ctx, pointer, size) != 1:
        raise RuntimeError(f"{backend.spec.prefix}_Update failed")


def _borrow(data: Buffer) -> tuple[object, int]:
    """Return something ctypes can pass as a pointer to `data`, and its size."""
    view = memoryview(data)
    if not view.c_contiguous:
        raise BufferError("digest input must be a C-contiguous buffer")
    size = view.nbytes
    if size == 0:
        return b"", 0
    if not view.readonly:
        # Zero-copy; the export on `data` ends when the array is dropped.
        return (ctypes.c_char * size).from_buffer(view), size
    if isinstance(view.obj, bytes) and size == len(view.obj):
        return view.obj, size
    # A read-only slice: ctypes offers no pointer into it, so copy (once).
    return view.tobytes(), size


def _finish(backend: _Backend, ctx: _Ctx) -> str:
    """Finalize `ctx` in place (which spoils it) and return the hex digest."""
    out = ctypes.create_string_buffer(64)
    if backend.final(out, ctx) != 1:
        raise RuntimeError(f"{backend.spec.prefix}_Final failed")
    return out.raw[: backend.spec.digest_size].hex()


def _serialize(backend: _Backend, ctx: _Ctx) -> bytes:
    spec = backend.spec
    header = _MAGIC + bytes((_VERSION, spec.alg_id, _BYTEORDER))
    return header + ctx.raw[: ctypes.sizeof(spec.layout)]


def _restore(backend: _Backend, state: Buffer, fill: int = 0) -> _Ctx:
    payload = _parse_state(backend.spec, state)
    ctx = _blank(fill)
    ctypes.memmove(ctx, payload, len(payload))
    return ctx


def _parse_state(spec: _Spec, state: Buffer) -> bytes:
    if not isinstance(state, (bytes, bytearray, memoryview)):
        raise TypeError(f"digest state must be bytes, not {type(state).__name__}")
    raw = bytes(state)  # Postgres hands BinaryField values back as memoryview
    if len(raw) < _HEADER_SIZE or raw[: len(_MAGIC)] != _MAGIC:
        raise DigestStateError("not a saved digest state")
    version, alg_id, byteorder = raw[len(_MAGIC) : _HEADER_SIZE]
    if version != _VERSION:
        raise DigestStateError(f"unsupported digest state version {version}")
    if alg_id != spec.alg_id:
        other = _NAMES_BY_ID.get(alg_id, f"unknown algorithm #{alg_id}")
        raise DigestStateError(f"digest state is for {other}, not {spec.name}")
    if byteorder != _BYTEORDER:
        raise DigestStateError("digest state was saved on a host of other byte order")
    payload = raw[_HEADER_SIZE:]
    if len(payload) != ctypes.sizeof(spec.layout):
        raise DigestStateError(f"{spec.name} digest state has the wrong length")
    _check_counters(spec, payload)
    return payload


def _check_counters(spec: _Spec, payload: bytes) -> None:
    # OpenSSL trusts `num` as an index into its block buffer: an out-of-range
    # value would make *_Update write out of bounds, so it must be refused.
    fields = spec.layout.from_buffer_copy(payload)
    num, bit_count = int(fields.num), int(fields.Nl)
    if num >= spec.block_size or (bit_count >> 3) % spec.block_size != num:
        raise DigestStateError(f"{spec.name} digest state is corrupt")
    if spec.has_md_len and int(fields.md_len) != spec.digest_size:
        raise DigestStateError(f"{spec.name} digest state is corrupt")


def _layout_matches(backend: _Backend) -> bool:
    """Check that *_Init writes exactly the bytes of our struct mirror."""
    layout = backend.spec.layout
    extent = 0
    for fill in (0x00, 0xFF):  # every byte written differs from one of them
        raw = _initialized(backend, fill).raw
        extent = max(extent, len(raw.rstrip(bytes([fill]))))
    size = ctypes.sizeof(layout)
    return size - ctypes.alignment(layout) < extent <= size


def _self_test(backend: _Backend) -> bool:
    """Hash _PROBE with a save/restore in the middle and compare with hashlib."""
    expected = hashlib.new(backend.spec.name, _PROBE, usedforsecurity=False)
    size = ctypes.sizeof(backend.spec.layout)
    for split in (0, 200, 700):
        ctx = _initialized(backend)
        _feed(backend, ctx, _PROBE[:split])
        # Restore over garbage: any byte missing from the state would show.
        restored = _restore(backend, _serialize(backend, ctx), fill=_SENTINEL)
        _feed(backend, restored, memoryview(bytearray(_PROBE[split:])))
        if _finish(backend, restored) != expected.hexdigest():
            return False
        if restored.raw[size:] != bytes([_SENTINEL]) * (_CTX_BUFFER - size):
            return False
    return True


@functools.cache
def _backend(name: str) -> _Backend | None:
    """The verified backend for a lower-case name in _SPECS, or None."""
    try:
        backend = _bind(_SPECS[name])
        if backend is not None and _layout_matches(backend) and _self_test(backend):
            return backend
        logger.debug("%s digests are not resumable: check failed", name)
    except Exception:  # any platform quirk just means "use the fallback"
        logger.debug("%s digests are not resumable", name, exc_info=True)
    return None


def _lookup(algorithm: str) -> _Backend | None:
    name = algorithm.lower()
    return _backend(name) if name in _SPECS else None


def is_resumable(algorithm: str) -> bool:
    """Whether this platform can save and restore `algorithm` digests."""
    return is_combinable(algorithm) or _lookup(algorithm) is not None


def digest_mode(algorithm: str) -> Literal["resumable", "streaming"]:
    """How `algorithm` digests run here; ValueError if hashlib lacks it."""
    if is_resumable(algorithm):
        return "resumable"
    StreamingDigest(algorithm)  # validates the name
    return "streaming"


class ResumableDigest:
    """A running digest whose state() can be stored and resumed elsewhere."""

    __slots__ = ("_backend", "_ctx", "algorithm")

    def __init__(self, algorithm: str, state: Buffer | None = None) -> None:
        backend = _lookup(algorithm)
        if backend is None:
            raise ValueError(f"{algorithm!r} digests are not resumable here")
        self.algorithm = backend.spec.name
        self._backend = backend
        self._ctx = _initialized(backend) if state is None else _restore(backend, state)

    def update(self, data: Buffer) -> None:
        _feed(self._backend, self._ctx, data)

    def hexdigest(self) -> str:
        # Final spoils the context, so finalize a copy and keep going.
        return _finish(self._backend, _copy(self._ctx))

    def state(self) -> bytes:
        return _serialize(self._backend, self._ctx)

    def copy(self) -> ResumableDigest:
        return ResumableDigest(self.algorithm, self.state())


class StreamingDigest:
    """The fallback: a plain hashlib digest, whose state cannot be saved."""

    __slots__ = ("_hash", "algorithm")

    def __init__(self, algorithm: str, state: Buffer | None = None) -> None:
        del state  # nothing to restore: the file is re-read at completion
        name = algorithm.lower()
        self._hash = hashlib.new(name, usedforsecurity=False)
        if self._hash.digest_size == 0:
            raise ValueError(f"{algorithm!r} has no fixed digest size")
        self.algorithm = name

    def update(self, data: Buffer) -> None:
        self._hash.update(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def state(self) -> bytes:
        return b""

    def copy(self) -> StreamingDigest:
        clone = StreamingDigest(self.algorithm)
        clone._hash = self._hash.copy()
        return clone


def new_digest(
    algorithm: str, state: Buffer | None = None
) -> ResumableDigest | StreamingDigest | Crc32cDigest:
    """A resumable digest if possible, else a fresh streaming one."""
    if is_combinable(algorithm):
        return Crc32cDigest(state)
    if is_resumable(algorithm):
        return ResumableDigest(algorithm, state)
    return StreamingDigest(algorithm)
