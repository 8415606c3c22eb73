"""Compatibility module: the stores moved to the ``chunked_uploads.stores`` package."""

from __future__ import annotations

from .stores import (
    ChunkStore,
    ChunkWriter,
    StoreBusy,
    StoredBytesMissing,
    StoreState,
    completed_name,
    get_store,
    is_local_storage,
)
from .stores.local import LocalFileStore

__all__ = [
    "ChunkStore",
    "ChunkWriter",
    "LocalFileStore",
    "StoreBusy",
    "StoreState",
    "StoredBytesMissing",
    "completed_name",
    "get_store",
    "is_local_storage",
]
