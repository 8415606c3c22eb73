"""schemathesis hooks, for ``st run`` (its config's ``hooks``) and ``test_schema_fuzz.py``: tus's
raw ``application/offset+octet-stream`` bodies as real random bytes, sent as they are."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import strategies as st

OFFSET_STREAM = "application/offset+octet-stream"
MAX_CHUNK = 4096

schemathesis.openapi.media_type(OFFSET_STREAM, st.binary(max_size=MAX_CHUNK))


@schemathesis.serializer(OFFSET_STREAM)
def offset_stream(ctx: Any, value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()
