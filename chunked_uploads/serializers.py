"""The native protocol's serializers, where the documentation has always shown them.

They live in ``chunked_uploads.protocols.native.serializers``; this module re-exports them.
"""

from __future__ import annotations

from .protocols.native.serializers import ChunkedUploadSerializer

__all__ = ["ChunkedUploadSerializer"]
