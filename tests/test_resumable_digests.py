"""Tests for chunked_uploads.resumable_digests: resumable digests must equal hashlib's."""

from __future__ import annotations

import array
import hashlib
import itertools
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chunked_uploads import resumable_digests
from chunked_uploads.resumable_digests import (
    RESUMABLE_ALGORITHMS,
    DigestStateError,
    ResumableDigest,
    StreamingDigest,
    digest_mode,
    is_resumable,
    new_digest,
)

ALGORITHMS = sorted(RESUMABLE_ALGORITHMS)
STREAMING_ONLY = ["blake2b", "sha3_256"]
# Sizes around the 64- and 128-byte block boundaries, plus multi-block inputs.
SIZES = [0, 1, 55, 56, 63, 64, 65, 111, 112, 127, 128, 129, 1000, 65_537]


def resumable(algorithm: str) -> object:
    reason = f"{algorithm} digests cannot be saved on this platform (libcrypto)"
    mark = pytest.mark.skipif(not is_resumable(algorithm), reason=reason)
    return pytest.param(algorithm, marks=mark, id=algorithm)


RESUMABLE = [resumable(a) for a in ALGORITHMS]


def expected(algorithm: str, data: bytes) -> str:
    return hashlib.new(algorithm, data).hexdigest()


def hash_in_pieces(algorithm: str, data: bytes, cuts: list[int]) -> str:
    """Hash `data` split at `cuts`, through a fresh object per piece."""
    state = None
    bounds = [0, *sorted(cuts), len(data)]
    for start, end in itertools.pairwise(bounds):
        digest = ResumableDigest(algorithm, state)
        digest.update(data[start:end])
        state = digest.state()
    return ResumableDigest(algorithm, state).hexdigest()


@pytest.fixture
def fresh_backends() -> Iterator[None]:
    """Forget verified backends, before and after a test that breaks them."""
    resumable_digests._backend.cache_clear()
    yield
    resumable_digests._backend.cache_clear()


def test_common_algorithms_are_resumable_here() -> None:
    assert {"md5", "sha1", "sha256", "sha512"} <= RESUMABLE_ALGORITHMS
    if not sys.platform.startswith("linux"):
        pytest.skip("resumability is only required on Linux; elsewhere streaming is fine")
    # Guards against a broken load-time check silently skipping every test above.
    assert all(is_resumable(a) for a in ALGORITHMS)


@pytest.mark.parametrize("algorithm", RESUMABLE)
@pytest.mark.parametrize("size", SIZES)
def test_random_splits_with_save_and_restore(algorithm: str, size: int) -> None:
    rng = random.Random(f"{algorithm}-{size}")
    data = rng.randbytes(size)
    for _ in range(5):
        cuts = [rng.randint(0, size) for _ in range(rng.randint(0, 6))]
        assert hash_in_pieces(algorithm, data, cuts) == expected(algorithm, data)


@pytest.mark.parametrize("algorithm", RESUMABLE)
@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=700), cuts=st.lists(st.integers(0, 700), max_size=8))
def test_any_split_matches_hashlib(algorithm: str, data: bytes, cuts: list[int]) -> None:
    cuts = [min(cut, len(data)) for cut in cuts]
    assert hash_in_pieces(algorithm, data, cuts) == expected(algorithm, data)


@pytest.mark.parametrize("algorithm", RESUMABLE)
def test_one_mebibyte_buffers(algorithm: str) -> None:
    data = random.Random(1).randbytes(3 * 2**20 + 7)
    digest = ResumableDigest(algorithm)
    for start in range(0, len(data), 2**20):
        digest.update(data[start : start + 2**20])
    assert digest.hexdigest() == expected(algorithm, data)


@pytest.mark.parametrize("algorithm", RESUMABLE)
def test_hexdigest_is_not_destructive(algorithm: str) -> None:
    digest = ResumableDigest(algorithm)
    digest.update(b"first part ")
    assert digest.hexdigest() == expected(algorithm, b"first part ")
    assert digest.hexdigest() == expected(algorithm, b"first part ")
    digest.update(b"second part")
    assert digest.hexdigest() == expected(algorithm, b"first part second part")


@pytest.mark.parametrize("algorithm", RESUMABLE)
def test_empty_input(algorithm: str) -> None:
    digest = ResumableDigest(algorithm)
    digest.update(b"")
    digest.update(bytearray())
    digest.update(memoryview(b"abc")[3:])
    restored = ResumableDigest(algorithm, digest.state())
    assert digest.hexdigest() == restored.hexdigest() == expected(algorithm, b"")


@pytest.mark.parametrize("algorithm", RESUMABLE)
def test_copy_is_independent(algorithm: str) -> None:
    original = ResumableDigest(algorithm)
    original.update(b"shared ")
    clone = original.copy()
    clone.update(b"clone")
    original.update(b"original")
    assert clone.algorithm == algorithm
    assert clone.hexdigest() == expected(algorithm, b"shared clone")
    assert original.hexdigest() == expected(algorithm, b"shared original")


@pytest.mark.parametrize("algorithm", RESUMABLE)
def test_state_is_small_and_accepts_any_bytes_type(algorithm: str) -> None:
    digest = ResumableDigest(algorithm)
    digest.update(b"x" * 1000)
    state = digest.state()
    assert isinstance(state, bytes) and len(state) <= 250
    for stored in (bytearray(state), memoryview(state)):  # e.g. Postgres BinaryField
        assert ResumableDigest(algorithm, stored).hexdigest() == digest.hexdigest()


@pytest.mark.parametrize("algorithm", RESUMABLE)
def test_state_continues_in_another_process(algorithm: str) -> None:
    digest = ResumableDigest(algorithm)
    digest.update(b"written by one worker, ")
    script = (
        "import sys; from chunked_uploads.resumable_digests import ResumableDigest as R; "
        "d = R(sys.argv[1], bytes.fromhex(sys.argv[2])); "
        "d.update(b'finished by another'); print(d.hexdigest())"
    )
    command = [sys.executable, "-c", script, algorithm, digest.state().hex()]
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, check=True)
    whole = b"written by one worker, finished by another"
    assert result.stdout.strip() == expected(algorithm, whole)


@pytest.mark.parametrize(("saved", "loaded"), list(itertools.permutations(ALGORITHMS, 2)))
def test_state_of_another_algorithm_is_refused(saved: str, loaded: str) -> None:
    if not (is_resumable(saved) and is_resumable(loaded)):
        pytest.skip("needs both algorithms resumable on this platform")
    state = ResumableDigest(saved).state()
    with pytest.raises(DigestStateError, match=f"for {saved}, not {loaded}"):
        ResumableDigest(loaded, state)


def damaged_states(algorithm: str, state: bytes) -> dict[str, bytes]:
    num_at = 5 + resumable_digests._SPECS[algorithm].layout.num.offset  # after the 5-byte header
    return {
        "empty": b"",
        "header only": state[:5],
        "truncated": state[:-1],
        "extended": state + b"\0",
        "garbage": random.Random(0).randbytes(len(state)),
        "other magic": b"XX" + state[2:],
        "other version": state[:2] + b"\x63" + state[3:],
        "unknown algorithm id": state[:3] + b"\x63" + state[4:],
        "other byte order": state[:4] + bytes([state[4] ^ 1]) + state[5:],
        # Out-of-range `num` (and `md_len`) must never reach OpenSSL's Update.
        "bad counters": state[:-8] + b"\xff" * 8,
        "num out of step with length": (
            state[:num_at] + (1).to_bytes(4, sys.byteorder) + state[num_at + 4 :]
        ),
    }


@pytest.mark.parametrize("algorithm", RESUMABLE)
@pytest.mark.parametrize("damage", list(damaged_states("md5", b"x" * 100)))
def test_damaged_state_is_refused(algorithm: str, damage: str) -> None:
    digest = ResumableDigest(algorithm)
    digest.update(b"y" * 3)
    state = digest.state()
    assert ResumableDigest(algorithm, state).hexdigest() == expected(algorithm, b"yyy")
    with pytest.raises(DigestStateError):
        ResumableDigest(algorithm, damaged_states(algorithm, state)[damage])


def test_state_must_be_binary() -> None:
    with pytest.raises(TypeError):
        ResumableDigest("md5", "not bytes")  # type: ignore[arg-type]
    assert issubclass(DigestStateError, ValueError)


@pytest.mark.parametrize("algorithm", ["nonsense", "", "md4x"])
def test_unknown_algorithm(algorithm: str) -> None:
    assert not is_resumable(algorithm)
    factories: list[Callable[[str], object]] = [
        new_digest,
        ResumableDigest,
        StreamingDigest,
        digest_mode,
    ]
    for factory in factories:
        with pytest.raises(ValueError):
            factory(algorithm)


def test_variable_length_digests_are_refused() -> None:
    with pytest.raises(ValueError):
        new_digest("shake_128")


@pytest.mark.parametrize("algorithm", STREAMING_ONLY)
def test_algorithms_outside_the_resumable_set_stream(algorithm: str) -> None:
    assert algorithm not in RESUMABLE_ALGORITHMS
    assert not is_resumable(algorithm)
    assert digest_mode(algorithm) == "streaming"
    with pytest.raises(ValueError):
        ResumableDigest(algorithm)
    digest = new_digest(algorithm, b"any stale state is ignored")
    assert isinstance(digest, StreamingDigest)
    assert digest.state() == b""


@pytest.mark.parametrize("algorithm", [*ALGORITHMS, *STREAMING_ONLY])
def test_streaming_digest_matches_hashlib(algorithm: str) -> None:
    digest = StreamingDigest(algorithm.upper(), state=b"ignored")
    digest.update(b"abc")
    assert digest.hexdigest() == expected(algorithm, b"abc")
    clone = digest.copy()
    clone.update(b"def")
    assert digest.hexdigest() == expected(algorithm, b"abc")
    assert clone.hexdigest() == expected(algorithm, b"abcdef")
    assert digest.algorithm == algorithm and digest.state() == b""


@pytest.mark.parametrize("algorithm", RESUMABLE)
def test_names_are_case_insensitive(algorithm: str) -> None:
    assert is_resumable(algorithm.upper())
    assert digest_mode(algorithm.upper()) == "resumable"
    digest = new_digest(algorithm.upper())
    assert isinstance(digest, ResumableDigest) and digest.algorithm == algorithm


def test_forced_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resumable_digests, "is_resumable", lambda algorithm: False)
    assert digest_mode("md5") == "streaming"
    digest = new_digest("md5", b"state from a resumable worker")
    assert isinstance(digest, StreamingDigest)
    digest.update(b"abc")
    assert digest.hexdigest() == expected("md5", b"abc")


def buffers(data: bytes) -> dict[str, object]:
    padded = b"<<" + data + b">>"
    return {
        "bytes": data,
        "bytearray": bytearray(data),
        "memoryview of bytes": memoryview(data),
        "memoryview slice of bytes": memoryview(padded)[2:-2],
        "memoryview slice of bytearray": memoryview(bytearray(padded))[2:-2],
        "read-only memoryview of bytearray": memoryview(bytearray(data)).toreadonly(),
        "memoryview with a wide format": memoryview(array.array("B", data)).cast("H"),
    }


@pytest.mark.parametrize("algorithm", ["md5", "sha512", "blake2b"])
@pytest.mark.parametrize("kind", list(buffers(b"")))
def test_update_accepts_buffers(algorithm: str, kind: str) -> None:
    data = random.Random(kind).randbytes(1000)
    digest = new_digest(algorithm)
    digest.update(buffers(data)[kind])  # type: ignore[arg-type]
    assert digest.hexdigest() == expected(algorithm, data)


@pytest.mark.parametrize("algorithm", ["md5", "blake2b"])
def test_update_rejects_what_hashlib_rejects(algorithm: str) -> None:
    digest = new_digest(algorithm)
    with pytest.raises(TypeError):
        digest.update("text")  # type: ignore[arg-type]
    with pytest.raises(BufferError):
        digest.update(memoryview(b"abcdef")[::2])


def test_update_does_not_keep_the_callers_buffer_locked() -> None:
    buffer = bytearray(b"abc")
    new_digest("sha256").update(buffer)
    buffer.extend(b"def")  # BufferError if an export were still alive
    del buffer[:]


def test_missing_library_means_streaming(
    monkeypatch: pytest.MonkeyPatch, fresh_backends: None
) -> None:
    monkeypatch.setattr(resumable_digests, "_library", lambda source: None)
    assert not any(is_resumable(a) for a in ALGORITHMS)
    assert digest_mode("sha256") == "streaming"
    assert isinstance(new_digest("sha256"), StreamingDigest)


def test_system_library_is_a_fallback(
    monkeypatch: pytest.MonkeyPatch, fresh_backends: None
) -> None:
    real = resumable_digests._library
    monkeypatch.setattr(
        resumable_digests, "_library", lambda s: None if s == "hashlib" else real(s)
    )
    if real("system") is None:
        pytest.skip("no libcrypto visible to ctypes.util.find_library")
    assert hash_in_pieces("sha1", b"abcdef", [2]) == expected("sha1", b"abcdef")


@pytest.mark.parametrize(
    "broken",
    [
        {"prefix": "NO_SUCH"},  # missing symbols
        {"layout": resumable_digests._ShaCtx},  # struct mirror of the wrong size
        {"digest_size": 20, "name": "sha1"},  # disagrees with hashlib
    ],
)
def test_failed_load_checks_mean_streaming(
    monkeypatch: pytest.MonkeyPatch, fresh_backends: None, broken: dict[str, Any]
) -> None:
    monkeypatch.setitem(
        resumable_digests._SPECS, "md5", replace(resumable_digests._SPECS["md5"], **broken)
    )
    assert not is_resumable("md5")
    assert digest_mode("md5") == "streaming"
    assert isinstance(new_digest("md5"), StreamingDigest)
