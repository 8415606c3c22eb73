"""The upload list in pages (``pagination.py``): 100 a page, ``page_size`` up to 1000, or the
project's ``DEFAULT_PAGINATION_CLASS``."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from rest_framework.pagination import LimitOffsetPagination

from chunked_uploads.models import ChunkedUpload
from chunked_uploads.protocols.native.pagination import UploadPagination
from chunked_uploads.views import ChunkedUploadViewSet

from .helpers import LIST_URL


def make_uploads(user: Any, count: int) -> None:
    ChunkedUpload.objects.bulk_create(
        ChunkedUpload(user=user, filename=f"f{i}", size=10) for i in range(count)
    )


def test_list_pages_by_100(api: Any, user: Any) -> None:
    make_uploads(user, 1005)
    first = api.get(LIST_URL).json()
    assert first["count"] == 1005
    assert len(first["results"]) == 100
    assert first["previous"] is None
    assert "page=2" in first["next"]
    last = api.get(LIST_URL, {"page": 11}).json()
    assert len(last["results"]) == 5 and last["next"] is None


def test_page_size_is_capped_at_1000(api: Any, user: Any) -> None:
    make_uploads(user, 1005)
    assert len(api.get(LIST_URL, {"page_size": 10}).json()["results"]) == 10
    assert len(api.get(LIST_URL, {"page_size": 5000}).json()["results"]) == 1000


def test_a_page_past_the_end_is_a_json_404(api: Any, user: Any) -> None:
    make_uploads(user, 3)
    response = api.get(LIST_URL, {"page": 9})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("value", ["0", "x", ""])
def test_a_bad_page_is_a_json_404(api: Any, user: Any, value: str) -> None:
    """Found by the schema fuzzing: an empty ``page=`` was read as the first page (200)."""
    make_uploads(user, 3)
    response = api.get(LIST_URL, {"page": value})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("value", ["0", "-1", "x", "null", "1.5", ""])
def test_a_bad_page_size_is_a_json_404(api: Any, user: Any, value: str) -> None:
    make_uploads(user, 3)
    response = api.get(LIST_URL, {"page_size": value})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page size.", "code": "not_found"}


def test_the_projects_default_pagination_wins(api: Any, user: Any) -> None:
    make_uploads(user, 3)
    rest_framework = {"DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination"}
    with override_settings(REST_FRAMEWORK=rest_framework):
        assert ChunkedUploadViewSet.pagination_class is LimitOffsetPagination
        body = api.get(LIST_URL, {"limit": 2}).json()
        assert body["count"] == 3 and len(body["results"]) == 2
        assert "limit=2" in body["next"]
    assert ChunkedUploadViewSet.pagination_class is UploadPagination
