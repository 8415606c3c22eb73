"""The native protocol's ViewSet, where the documentation has always shown it.

It lives in ``chunked_uploads.protocols.native.views``; this module re-exports it.
"""

from __future__ import annotations

from .protocols.native.views import ChunkedUploadViewSet, CompletionHook

__all__ = ["ChunkedUploadViewSet", "CompletionHook"]
