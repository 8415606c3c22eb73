"""``UploadPagination``: the upload list in pages, unless the project chose its own pagination.

An unpaginated list answered 2,000 uploads with 666 KB in one response (issue 13). The list action
pages with ``UploadPagination`` (100 uploads a page, ``?page_size=`` up to 1000), or with the
project's ``REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"]`` when it sets one; a view subclass that
sets ``pagination_class`` (``None`` included) decides for itself.
"""

from __future__ import annotations

from typing import Any, cast

from rest_framework.exceptions import NotFound
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.settings import api_settings


class UploadPagination(PageNumberPagination):
    """DRF's page-number pagination with a page size a client may choose, up to 1000.

    A ``page_size`` that is not a positive integer is refused like a bad ``page`` (DRF's ``404
    Invalid page.``) rather than silently replaced by the default: the client asked for something
    the server does not give. So is an empty ``page=``, which DRF would read as the first page.
    """

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        if request.query_params.get(self.page_query_param) == "":
            raise NotFound(self.invalid_page_message.format(message="That page number is empty"))
        return super().get_page_number(request, paginator)

    def get_page_size(self, request: Request) -> int | None:
        value = request.query_params.get(self.page_size_query_param)
        if value is None:
            return self.page_size
        try:
            size = int(value)
        except ValueError:
            size = 0
        if size < 1:
            raise NotFound("Invalid page size.")
        return min(size, self.max_page_size)


class ProjectOrUploadPagination:
    """A ``pagination_class`` that is the project's default pagination if it has one, read on
    each access (``override_settings`` works), else ``UploadPagination``."""

    def __get__(self, instance: Any, owner: Any = None) -> type[BasePagination]:
        # ``api_settings`` imports the dotted path it holds (the stubs type it as that string).
        project: Any = api_settings.DEFAULT_PAGINATION_CLASS
        return cast("type[BasePagination]", project or UploadPagination)
