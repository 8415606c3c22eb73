"""The whole file's checksum on the client side: a ``hashlib`` algorithm, or ``crc32c`` (the
server's combinable checksum, computed with the ``crc32c`` package when it is installed)."""

from __future__ import annotations

import hashlib
from typing import Any


def is_available(name: str) -> bool:
    if name == "crc32c":
        try:
            import crc32c  # noqa: F401
        except ImportError:
            return False
        return True
    return name in hashlib.algorithms_available


def new_hash(name: str) -> Any:
    """A hash object with ``update()`` and ``hexdigest()`` for the algorithm ``name``."""
    if name == "crc32c":
        import crc32c

        return crc32c.CRC32CHash()
    return hashlib.new(name)
