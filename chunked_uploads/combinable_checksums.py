"""A combinable whole-file checksum: CRC-32C (Castagnoli), the one S3 computes for multipart uploads.

A CRC of two concatenated pieces follows from the pieces' CRCs and the second piece's length alone:
``crc(A + B) = crc(A) * x^(8 * len(B)) mod P  xor  crc(B)`` over GF(2). So the chunks of a parallel
upload each keep the CRC of their own bytes (computed as they stream, at memory speed), and
completion combines them in file order without reading a byte: a few microseconds per chunk. The
combination is zlib's ``crc32_combine`` (``multmodp``/``x2nmodp``, zlib 1.2.12), written here for
the CRC-32C polynomial. The hex form is the CRC as a big-endian 32-bit number (``e3069283`` for
``b"123456789"``); S3's ``ChecksumCRC32C`` is the base64 of the same four bytes.

Computing a chunk's CRC needs the ``crc32c`` package (hardware CRC32 instructions where the CPU has
them); without it ``crc32c`` is not an available checksum (system check ``E001`` says so).
"""

from __future__ import annotations

from collections.abc import Iterable

try:
    import crc32c as _crc32c
except ImportError:  # pragma: no cover - exercised only without the package
    _crc32c = None  # type: ignore[assignment]

__all__ = ["COMBINABLE_ALGORITHMS", "Crc32cDigest", "combine", "combine_all", "is_combinable"]

COMBINABLE_ALGORITHMS = frozenset({"crc32c"})
_POLY = 0x82F63B78  # CRC-32C, reflected, x^32 implied
_TOP = 1 << 31  # x^0 in the reflected representation


def is_combinable(algorithm: str) -> bool:
    """Whether ``algorithm`` is a combinable checksum that this installation can compute."""
    return algorithm in COMBINABLE_ALGORITHMS and _crc32c is not None


def _multmodp(a: int, b: int) -> int:
    """``a * b mod P`` (reflected polynomials)."""
    product, mask = 0, _TOP
    while True:
        if a & mask:
            product ^= b
            if not a & (mask - 1):
                return product
        mask >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _powers() -> list[int]:
    """``x^(2^k) mod P`` for k in 0..31."""
    table, power = [], _TOP >> 1  # x^1
    for _ in range(32):
        table.append(power)
        power = _multmodp(power, power)
    return table


_X2N = _powers()


def _x8nmodp(length: int) -> int:
    """``x^(8 * length) mod P``."""
    power, k = _TOP, 3
    while length:
        if length & 1:
            power = _multmodp(_X2N[k & 31], power)
        length >>= 1
        k += 1
    return power


def combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32C of ``A + B`` from ``crc(A)``, ``crc(B)`` and ``len(B)``."""
    return _multmodp(_x8nmodp(length2), crc1) ^ crc2


def combine_all(pieces: Iterable[tuple[int, int]]) -> int:
    """The CRC-32C of the pieces ``(crc, length)`` concatenated in order."""
    total = 0
    for crc, length in pieces:
        total = combine(total, crc, length)
    return total


class Crc32cDigest:
    """A running CRC-32C with the interface of ``resumable_digests``' digests; its saved state is
    the CRC itself (four bytes)."""

    name = "crc32c"

    def __init__(self, state: bytes | bytearray | memoryview | None = None) -> None:
        if _crc32c is None:
            raise ValueError("the crc32c checksum needs the crc32c package: pip install crc32c")
        self.value = int.from_bytes(bytes(state), "big") if state else 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        assert _crc32c is not None
        self.value = _crc32c.crc32c(data, self.value)

    def hexdigest(self) -> str:
        return f"{self.value:08x}"

    def state(self) -> bytes:
        return self.value.to_bytes(4, "big")

    def copy(self) -> Crc32cDigest:
        return Crc32cDigest(self.state())
