"""schemathesis hooks, for ``st run`` (its config's ``hooks``) and ``test_schema_fuzz.py``: tus's
raw ``application/offset+octet-stream`` and the IETF draft's ``application/partial-upload`` bodies
as real random bytes, sent as they are."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import strategies as st

OFFSET_STREAM = "application/offset+octet-stream"
PARTIAL_UPLOAD = "application/partial-upload"
MAX_CHUNK = 4096

schemathesis.openapi.media_type(OFFSET_STREAM, st.binary(max_size=MAX_CHUNK))
schemathesis.openapi.media_type(PARTIAL_UPLOAD, st.binary(max_size=MAX_CHUNK))


@schemathesis.serializer(OFFSET_STREAM, PARTIAL_UPLOAD)
def offset_stream(ctx: Any, value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()
