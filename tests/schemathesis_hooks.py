"""schemathesis hooks, for ``st run`` (its config's ``hooks``) and ``test_schema_fuzz.py``: tus's
raw ``application/offset+octet-stream`` and the IETF draft's ``application/partial-upload`` bodies
as real random bytes, sent as they are."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.core.parameters import ParameterLocation

OFFSET_STREAM = "application/offset+octet-stream"
PARTIAL_UPLOAD = "application/partial-upload"
MAX_CHUNK = 4096

schemathesis.openapi.media_type(OFFSET_STREAM, st.binary(max_size=MAX_CHUNK))
schemathesis.openapi.media_type(PARTIAL_UPLOAD, st.binary(max_size=MAX_CHUNK))


@schemathesis.serializer(OFFSET_STREAM, PARTIAL_UPLOAD)
def offset_stream(ctx: Any, value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


@schemathesis.hook
def filter_failure(ctx: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but one the draft requires: in interop version 8 a malformed ``Upload-*``
    field is ignored as if absent (draft -11, section 4.1), so a request whose only schema violation
    is such a field may rightly succeed. Any other accepted violation still fails the run."""
    return not ignored_in_interop_8(failure, case)


def ignored_in_interop_8(failure: Any, case: Any) -> bool:
    if not isinstance(failure, AcceptedNegativeData) or case.meta is None:
        return False
    headers = {name.lower(): value for name, value in (case.headers or {}).items()}
    if headers.get("upload-draft-interop-version") != "8":
        return False
    mutated = case.meta.phase.data
    name = (getattr(mutated, "parameter", None) or "").lower()
    in_header = getattr(mutated, "parameter_location", None) == ParameterLocation.HEADER
    return in_header and name.startswith("upload-") and name != "upload-draft-interop-version"
