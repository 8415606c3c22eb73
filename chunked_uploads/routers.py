"""The native protocol's router, where the documentation has always shown it.

It lives in ``chunked_uploads.protocols.native.routers``; this module re-exports it.
"""

from __future__ import annotations

from .protocols.native.routers import DETAIL_ACTIONS, LIST_ACTIONS, ChunkedUploadRouter

__all__ = ["DETAIL_ACTIONS", "LIST_ACTIONS", "ChunkedUploadRouter"]
