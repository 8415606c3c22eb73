"""``ChunkedUploadRouter``: the protocol's method-to-action map, URL names and basenames."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, resolve, reverse
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate

from chunked_uploads.models import ChunkedUpload
from chunked_uploads.routers import ChunkedUploadRouter
from chunked_uploads.views import ChunkedUploadViewSet

from .helpers import LIST_URL, md5, put_chunk, stored_bytes

UPLOAD_ID = "5230ec1f-59d1-485d-9d79-74b853802e31"
LIST_ACTIONS = {"get": "list", "put": "create", "post": "create_complete"}
DETAIL_ACTIONS = {
    "get": "retrieve",
    "put": "partial_update",
    "post": "complete",
    "delete": "destroy",
}


def _patterns(router: ChunkedUploadRouter) -> dict[str, URLPattern]:
    return {pattern.name: pattern for pattern in router.urls if pattern.name}


def test_routes_map_methods_to_protocol_actions() -> None:
    router = ChunkedUploadRouter()
    router.register("api/uploads", ChunkedUploadViewSet)
    patterns = _patterns(router)
    assert set(patterns) == {"chunkedupload-list", "chunkedupload-detail"}
    assert patterns["chunkedupload-list"].callback.actions == LIST_ACTIONS  # type: ignore[attr-defined]
    assert patterns["chunkedupload-detail"].callback.actions == DETAIL_ACTIONS  # type: ignore[attr-defined]
    assert str(patterns["chunkedupload-list"].pattern) == "^api/uploads/$"
    assert str(patterns["chunkedupload-detail"].pattern) == "^api/uploads/(?P<pk>[^/]+)/$"


def test_default_basename_is_the_model_name() -> None:
    router = ChunkedUploadRouter()
    assert router.get_default_basename(ChunkedUploadViewSet) == "chunkedupload"

    class QuerysetViewSet(ChunkedUploadViewSet):
        queryset = ChunkedUpload.objects.filter(status="uploading")

    assert router.get_default_basename(QuerysetViewSet) == "chunkedupload"


def test_custom_basename_names_the_routes() -> None:
    router = ChunkedUploadRouter()
    router.register("files", ChunkedUploadViewSet, basename="myupload")
    assert set(_patterns(router)) == {"myupload-list", "myupload-detail"}


def test_without_trailing_slash() -> None:
    router = ChunkedUploadRouter(trailing_slash=False)
    router.register("files", ChunkedUploadViewSet)
    patterns = _patterns(router)
    assert str(patterns["chunkedupload-list"].pattern) == "^files$"
    assert str(patterns["chunkedupload-detail"].pattern) == "^files/(?P<pk>[^/]+)$"


def test_project_urls_resolve_to_the_viewset() -> None:
    assert reverse("chunkedupload-list") == LIST_URL
    assert reverse("chunkedupload-detail", kwargs={"pk": UPLOAD_ID}) == f"{LIST_URL}{UPLOAD_ID}/"
    match = resolve(f"{LIST_URL}{UPLOAD_ID}/")
    assert match.url_name == "chunkedupload-detail"
    assert match.func.cls is ChunkedUploadViewSet  # type: ignore[attr-defined]
    assert match.kwargs == {"pk": UPLOAD_ID}


@pytest.mark.urls("tests.urls_hooks")
def test_custom_basename_routes_serve_requests(api: APIClient, payload: bytes) -> None:
    assert reverse("named-list") == "/api/named/"
    response = put_chunk(api, reverse("named-list"), payload[:10], 0, 20)
    assert response.status_code == 200, response.content
    url = reverse("named-detail", kwargs={"pk": response.json()["id"]})
    assert url == f"/api/named/{response.json()['id']}/"
    assert put_chunk(api, url, payload[10:20], 10, 20).status_code == 200
    assert api.get(url).json()["offset"] == 20


@pytest.mark.parametrize(
    ("method", "url"),
    [("patch", f"{LIST_URL}{UPLOAD_ID}/"), ("patch", LIST_URL), ("delete", LIST_URL)],
)
def test_methods_outside_the_protocol_are_not_allowed(
    api: APIClient, method: str, url: str
) -> None:
    response = getattr(api, method)(url)
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_options_lists_the_protocol_methods(api: APIClient) -> None:
    response = api.options(f"{LIST_URL}{UPLOAD_ID}/")
    assert response.status_code == 200
    allowed = {method.strip() for method in response["Allow"].split(",")}
    assert allowed == {"GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS"}
    response = api.options(LIST_URL)
    allowed = {method.strip() for method in response["Allow"].split(",")}
    assert allowed == {"GET", "PUT", "POST", "HEAD", "OPTIONS"}


def test_router_works_with_a_viewset_subclass(user: Any) -> None:
    class Renamed(ChunkedUploadViewSet):
        field_name = "blob"

    router = ChunkedUploadRouter()
    router.register("blobs", Renamed)
    patterns = _patterns(router)
    assert patterns["chunkedupload-detail"].callback.cls is Renamed  # type: ignore[attr-defined]


@pytest.mark.urls("tests.urls_default_router")
def test_default_router_serves_the_protocol(api: APIClient, payload: bytes) -> None:
    # On DefaultRouter, PUT on the list route was a 405 and PUT on an upload's URL was
    # ModelViewSet.update: a 200 that stored nothing.
    created = put_chunk(api, LIST_URL, payload[:100_000], 0, len(payload))
    assert created.status_code == 200, created.content
    url = created.json()["url"]
    appended = put_chunk(api, url, payload[100_000:], 100_000, len(payload))
    assert appended.status_code == 200, appended.content
    assert appended.json()["offset"] == len(payload)
    completed = api.post(url, {"md5": md5(payload)}, format="json")
    assert completed.status_code == 200, completed.content
    assert stored_bytes(ChunkedUpload.objects.get()) == payload
    assert api.delete(url).status_code == 204


@pytest.mark.urls("tests.urls_default_router")
def test_default_router_single_shot_and_api_root(api: APIClient, payload: bytes) -> None:
    data = payload[:1000]
    body = {"file": SimpleUploadedFile("small.bin", data), "md5": md5(data)}
    response = api.post(LIST_URL, body, format="multipart")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "complete"
    assert api.get("/").json() == {"api/uploads": "http://testserver/api/uploads/"}
    assert api.patch(response.json()["url"]).status_code == 405


def test_update_outside_a_router_is_refused(api: APIClient, user: Any, payload: bytes) -> None:
    # A hand-written ``as_view({"put": "update"})``: refused loudly, never a 200 storing nothing.
    created = put_chunk(api, LIST_URL, payload[:10], 0, 20)
    view = ChunkedUploadViewSet.as_view({"put": "update"})
    request = APIRequestFactory().put("/", b"x", content_type="application/octet-stream")
    force_authenticate(request, user)
    response = view(request, pk=created.json()["id"])
    assert response.status_code == 405
    assert ChunkedUpload.objects.get().offset == 10


def test_default_router_schema_describes_the_protocol() -> None:
    pytest.importorskip("drf_spectacular")
    from drf_spectacular.generators import SchemaGenerator

    from tests import urls_default_router

    schema = SchemaGenerator(urlconf=urls_default_router).get_schema(request=None, public=True)
    operations = {
        path: {method: operation["operationId"] for method, operation in methods.items()}
        for path, methods in schema["paths"].items()
    }
    assert operations == {
        "/api/uploads/": {
            "get": "uploads_list",
            "put": "uploads_create",
            "post": "uploads_create_complete",
        },
        "/api/uploads/{id}/": {
            "get": "uploads_retrieve",
            "put": "uploads_append",
            "post": "uploads_complete",
            "delete": "uploads_destroy",
        },
    }
