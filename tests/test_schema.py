"""The OpenAPI description of ``chunked_uploads/schema.py``: golden file, operations, bodies, errors.

The golden file ``tests/schema.yaml`` is regenerated with (from the repository root):

    .venv/bin/python example_project/manage.py spectacular --validate --fail-on-warn --file tests/schema.yaml
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.settings import patched_settings

from chunked_uploads.routers import ChunkedUploadRouter
from chunked_uploads.views import ChunkedUploadViewSet

GOLDEN = Path(__file__).with_name("schema.yaml")
ROOT = GOLDEN.parent.parent
LIST = "/api/uploads/"
DETAIL = "/api/uploads/{id}/"
OPERATIONS = {
    ("put", LIST): "uploads_create",
    ("put", DETAIL): "uploads_append",
    ("post", DETAIL): "uploads_complete",
    ("post", LIST): "uploads_create_complete",
    ("get", LIST): "uploads_list",
    ("get", DETAIL): "uploads_retrieve",
    ("delete", DETAIL): "uploads_destroy",
}
ERRORS = {
    "uploads_create": {"400", "401", "403", "409", "422"},
    "uploads_append": {"400", "401", "403", "404", "409", "410"},
    "uploads_complete": {"400", "401", "403", "404", "409", "410", "415"},
    "uploads_create_complete": {"400", "401", "403", "409", "422"},
    "uploads_list": {"401", "403", "404"},
    "uploads_retrieve": {"401", "403", "404"},
    "uploads_destroy": {"401", "403", "404", "409"},
}


def generate(viewset: type[Any] = ChunkedUploadViewSet) -> dict[str, Any]:
    router = ChunkedUploadRouter()
    router.register("api/uploads", viewset)
    generator = SchemaGenerator(patterns=router.urls)  # type: ignore[no-untyped-call]
    schema: dict[str, Any] = generator.get_schema(public=True)  # type: ignore[no-untyped-call]
    return schema


def operation(schema: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    found: dict[str, Any] = schema["paths"][path][method]
    return found


def resolve(schema: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    name = ref["$ref"].rsplit("/", 1)[1]
    component: dict[str, Any] = schema["components"]["schemas"][name]
    return component


def test_golden_file_is_current_and_valid(tmp_path: Path) -> None:
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert out.read_text() == GOLDEN.read_text(), (
        "tests/schema.yaml is stale; regenerate it with the command in this module's docstring"
    )


def test_every_action_has_its_stable_operation_id() -> None:
    schema = generate()
    found = {
        (method, path): op["operationId"]
        for path, item in schema["paths"].items()
        for method, op in item.items()
    }
    assert found == OPERATIONS


def test_both_puts_require_a_content_range_header() -> None:
    schema = generate()
    for path in (LIST, DETAIL):
        headers = {
            p["name"]: p
            for p in operation(schema, "put", path)["parameters"]
            if p["in"] == "header"
        }
        assert headers["Content-Range"]["required"] is True
        assert headers["Content-Range"]["schema"]["pattern"] == r"^bytes [0-9]+-[0-9]+/[0-9]+$"
        assert "required" not in headers["Content-Disposition"]


@pytest.mark.parametrize("method,path", [("put", LIST), ("put", DETAIL), ("post", LIST)])
def test_chunk_is_binary_multipart_or_raw_body_and_required(method: str, path: str) -> None:
    schema = generate()
    body = operation(schema, method, path)["requestBody"]
    assert body["required"] is True
    # No url-encoded form beside multipart: openapi-python-client cannot send a file through one.
    assert set(body["content"]) == {"multipart/form-data", "application/octet-stream"}
    assert body["content"]["application/octet-stream"]["schema"] == {
        "type": "string",
        "format": "binary",
    }
    form = resolve(schema, body["content"]["multipart/form-data"]["schema"])
    assert form["properties"]["file"]["format"] == "binary"
    assert "file" in form["required"]
    assert "filename" not in form["required"]


def test_chunk_is_binary_even_without_component_split_request() -> None:
    with patched_settings({"COMPONENT_SPLIT_REQUEST": False}):
        schema = generate()
    body = operation(schema, "put", LIST)["requestBody"]
    form = resolve(schema, body["content"]["multipart/form-data"]["schema"])
    assert form["properties"]["file"] == {
        "type": "string",
        "format": "binary",
        "description": "The chunk's bytes.",
    }


def test_chunk_field_follows_the_views_field_name() -> None:
    class RenamedField(ChunkedUploadViewSet):
        field_name = "the_chunk"

    schema = generate(RenamedField)
    for method, path in (("put", LIST), ("put", DETAIL), ("post", LIST)):
        body = operation(schema, method, path)["requestBody"]
        form = resolve(schema, body["content"]["multipart/form-data"]["schema"])
        assert "the_chunk" in form["required"]
        assert "file" not in form["properties"]


@override_settings(DRF_CHUNKED_UPLOAD_CHECKSUM="sha256")
def test_checksum_field_is_named_after_the_configured_algorithm() -> None:
    schema = generate()
    completion = operation(schema, "post", DETAIL)["requestBody"]
    assert completion["required"] is True
    assert set(completion["content"]) == {"application/json"}
    body = resolve(schema, completion["content"]["application/json"]["schema"])
    assert body["required"] == ["sha256"]
    whole = operation(schema, "post", LIST)
    form = resolve(schema, whole["requestBody"]["content"]["multipart/form-data"]["schema"])
    assert "sha256" in form["properties"] and "md5" not in form["properties"]
    # The query parameter is required, for a raw body and a form alike (OpenAPI cannot tie it
    # to one media type; the view reads it for both): the form field may then be left out.
    (query,) = [p for p in whole["parameters"] if p["in"] == "query"]
    assert (query["name"], query["required"]) == ("sha256", True)
    assert "sha256" not in form["required"]


def test_upload_id_is_a_uuid_in_every_detail_operation() -> None:
    schema = generate()
    for method in ("put", "post", "get", "delete"):
        (identifier,) = [
            p for p in operation(schema, method, DETAIL)["parameters"] if p["in"] == "path"
        ]
        assert identifier["name"] == "id" and identifier["required"] is True
        assert identifier["schema"] == {"type": "string", "format": "uuid"}, method


def test_upload_id_keeps_its_name_when_pk_is_not_coerced(settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "SCHEMA_COERCE_PATH_PK": False}
    schema = generate()
    (identifier,) = [
        p for p in operation(schema, "get", "/api/uploads/{pk}/")["parameters"] if p["in"] == "path"
    ]
    assert (identifier["name"], identifier["schema"]["format"]) == ("pk", "uuid")


def test_no_checksum_body_when_the_view_skips_the_check() -> None:
    class Unchecked(ChunkedUploadViewSet):
        do_checksum_check = False

    schema = generate(Unchecked)
    assert "requestBody" not in operation(schema, "post", DETAIL)
    form_ref = operation(schema, "post", LIST)["requestBody"]["content"]["multipart/form-data"]
    assert "md5" not in resolve(schema, form_ref["schema"])["properties"]


def test_every_protocol_error_is_documented_with_the_error_body() -> None:
    schema = generate()
    for (method, path), operation_id in OPERATIONS.items():
        responses = operation(schema, method, path)["responses"]
        success = "204" if method == "delete" else "200"
        assert set(responses) == {success} | ERRORS[operation_id], operation_id
        for status in ERRORS[operation_id]:
            ref = responses[status]["content"]["application/json"]["schema"]
            assert ref == {"$ref": "#/components/schemas/UploadError"}
    error = schema["components"]["schemas"]["UploadError"]
    assert error["required"] == ["code", "detail"]
    for name in ("expected_offset", "provided_offset", "expected_total", "provided_total"):
        assert error["properties"][name]["type"] == "integer"


def test_upload_body_has_expires_as_date_time_and_list_is_paginated() -> None:
    schema = generate()
    upload = schema["components"]["schemas"]["ChunkedUpload"]
    assert upload["properties"]["expires"] == {
        "type": "string",
        "format": "date-time",
        "readOnly": True,
        "description": "When an incomplete upload expires.",
    }
    assert {"id", "url", "offset", "expires"} <= set(upload["required"])
    listed = operation(schema, "get", LIST)["responses"]["200"]["content"]["application/json"]
    assert listed["schema"] == {"$ref": "#/components/schemas/PaginatedChunkedUploadList"}
    page = schema["components"]["schemas"]["PaginatedChunkedUploadList"]
    assert page["properties"]["results"]["items"] == {"$ref": "#/components/schemas/ChunkedUpload"}
    parameters = {p["name"] for p in operation(schema, "get", LIST)["parameters"]}
    assert parameters == {"page", "page_size"}


def test_operation_prefix_is_a_view_attribute() -> None:
    class Avatars(ChunkedUploadViewSet):
        schema_operation_prefix = "avatars"

    schema = generate(Avatars)
    assert operation(schema, "put", DETAIL)["operationId"] == "avatars_append"
    assert operation(schema, "put", DETAIL)["tags"] == ["avatars"]


@pytest.mark.django_db
def test_example_project_serves_the_schema(client: Any) -> None:
    response = client.get("/api/schema/")
    assert response.status_code == 200
    served = yaml.safe_load(response.content)
    assert served == yaml.safe_load(GOLDEN.read_text())


def test_app_works_without_drf_spectacular() -> None:
    # ``sys.modules[name] = None`` makes both import and importlib.util.find_spec() miss it.
    script = (
        "import sys; sys.modules['drf_spectacular'] = None\n"
        "import django; django.setup()\n"
        "from django.core.management import call_command; call_command('check')\n"
        "from django.urls import resolve\n"
        "assert 'chunked_uploads.protocols.native.schema' not in sys.modules\n"
        "resolve('/api/uploads/')\n"
        # No schema route: the example project's JSON 404 for unknown API paths answers it.
        "if resolve('/api/schema/').url_name == 'api-not-found':\n    print('inert')\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "example_project")])
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("inert")
