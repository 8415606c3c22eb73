"""Schema fuzzing: schemathesis sends generated requests for every operation of ``tests/schema.yaml``
to the example project under gunicorn; no answer may be a 5xx or stray from the schema.

Chunks are real random bytes (``st.binary``), as raw ``application/octet-stream`` bodies and as the
``format: binary`` part of multipart forms. Half of the requests on the detail route target a real
upload (created with a random first chunk) instead of a random id, so the append and completion
checks run too. The default run is bounded (``FUZZ_EXAMPLES``, 25 examples per operation and
mode); a release check runs more, e.g. ``FUZZ_EXAMPLES=1000 pytest tests/test_schema_fuzz.py``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from . import servers

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

SCHEMA = Path(__file__).with_name("schema.yaml")
UNROUTED = re.compile(r"[/.]")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
MAX_CHUNK = 4096
OPERATIONS = [
    "uploads_create",
    "uploads_append",
    "uploads_complete",
    "uploads_create_complete",
    "uploads_list",
    "uploads_retrieve",
    "uploads_destroy",
]
# Checks that hold for any input; "positive data is accepted" does not: a random Content-Range
# or checksum is rightly refused with a documented 400.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Real random bytes as chunks, whichever way the body is sent.
schemathesis.openapi.media_type("application/octet-stream", st.binary(max_size=MAX_CHUNK))
schemathesis.openapi.format("binary", st.binary(max_size=MAX_CHUNK))


@pytest.fixture(scope="module")
def server() -> Iterator[servers.LiveServer]:
    with servers.live_server(workers=2) as live:
        yield live


def new_upload(server: servers.LiveServer, http: httpx.Client) -> str:
    """An upload with a first chunk of random bytes, to give the detail route a real target."""
    chunk = os.urandom(100)
    response = http.put(
        f"{server.url}/api/uploads/",
        content=chunk,
        headers={"Content-Type": "application/octet-stream", "Content-Range": "bytes 0-99/200"},
    )
    assert response.status_code == 200, response.text
    upload_id: str = response.json()["id"]
    return upload_id


# ``uploads_list`` takes no input, so there is no invalid request to make for it.
CASES = [
    (operation_id, mode)
    for operation_id in OPERATIONS
    for mode in ("positive", "negative")
    if (operation_id, mode) != ("uploads_list", "negative")
]


@pytest.mark.parametrize("operation_id,mode", CASES)
def test_fuzz_operation(server: servers.LiveServer, operation_id: str, mode: str) -> None:
    schema = schemathesis.openapi.from_path(SCHEMA)
    operation = schema.find_operation_by_id(operation_id)
    generation_mode = schemathesis.GenerationMode(mode)
    http = httpx.Client(headers=server.headers, timeout=30)
    seen: set[int] = set()

    @given(case=operation.as_strategy(generation_mode=generation_mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        identifier = (case.path_parameters or {}).get("id")
        if isinstance(identifier, str) and _is_even_uuid(identifier):
            case.path_parameters["id"] = new_upload(server, http)
        # An id with "/" or "." matches no route (DRF's lookup pattern): Django's own HTML 404
        # answers, outside the API, so only "no server error" applies to it.
        routed = not isinstance(identifier, str) or UNROUTED.search(identifier) is None
        response = case.call_and_validate(
            base_url=server.url,
            headers=server.headers,
            checks=CHECKS if routed else [not_a_server_error],
            timeout=30,
        )
        seen.add(response.status_code)

    with http:
        fuzz()
    assert seen, "no request was sent"
    assert max(seen) < 500, seen


def _is_even_uuid(value: str) -> bool:
    try:
        return UUID(value).int % 2 == 0
    except ValueError:
        return False
