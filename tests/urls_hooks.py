"""A test URLconf mounting ``ChunkedUploadViewSet`` subclasses that override each documented hook.

Used with ``@pytest.mark.urls("tests.urls_hooks")``. The default route (``api/uploads/``) stays
mounted so the shared helpers keep working; every subclass gets its own prefix and basename.
"""

from __future__ import annotations

from typing import Any

from django.urls import include, path
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import SAFE_METHODS, AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle

from chunked_uploads.models import AbstractChunkedUpload
from chunked_uploads.routers import ChunkedUploadRouter
from chunked_uploads.views import ChunkedUploadViewSet

# Uploads that ``RecordingCompletionViewSet.on_completion`` saw, in order (tests clear it).
completed_uploads: list[AbstractChunkedUpload] = []


class FieldNameViewSet(ChunkedUploadViewSet):
    field_name = "the_file"


class OwnerlessViewSet(ChunkedUploadViewSet):
    # The default model has no such field: the view must then not filter by owner.
    user_field_name = "owner"


class ViewMaxBytesViewSet(ChunkedUploadViewSet):
    max_bytes = 1000


class RequestMaxBytesViewSet(ChunkedUploadViewSet):
    def get_max_bytes(self, request: Request) -> int | None:
        header = request.headers.get("X-Max-Bytes")
        return int(header) if header else None


class NoChecksumViewSet(ChunkedUploadViewSet):
    do_checksum_check = False


class ResponseDataViewSet(ChunkedUploadViewSet):
    def get_response_data(self, upload: AbstractChunkedUpload, request: Request) -> Any:
        return {"name": upload.filename, "received": upload.offset, "method": request.method}


class RecordingCompletionViewSet(ChunkedUploadViewSet):
    def on_completion(self, upload: AbstractChunkedUpload, request: Request) -> Response | None:
        completed_uploads.append(upload)
        if upload.filename.startswith("replace"):
            return Response({"replaced": str(upload.pk), "status": upload.status}, status=201)
        return None


class DenyWritesToLocked(BasePermission):
    """Object permission: an upload named ``locked.bin`` may be read but not written."""

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return request.method in SAFE_METHODS or obj.filename != "locked.bin"


class ObjectPermissionViewSet(ChunkedUploadViewSet):
    permission_classes = [IsAuthenticated, DenyWritesToLocked]


class OnePerMinute(UserRateThrottle):
    scope = "hooks"
    rate = "1/min"


class ThrottledViewSet(ChunkedUploadViewSet):
    throttle_classes = [OnePerMinute]


class PairsPagination(PageNumberPagination):
    page_size = 2


class PaginatedViewSet(ChunkedUploadViewSet):
    pagination_class = PairsPagination


class FilteredViewSet(ChunkedUploadViewSet):
    filter_backends = [SearchFilter, OrderingFilter]
    search_fields = ["filename"]
    ordering_fields = ["filename", "created_at"]


class AnonymousViewSet(ChunkedUploadViewSet):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]


router = ChunkedUploadRouter()
router.register("api/uploads", ChunkedUploadViewSet)
router.register("api/named", ChunkedUploadViewSet, basename="named")
router.register("hooks/field", FieldNameViewSet, basename="field")
router.register("hooks/ownerless", OwnerlessViewSet, basename="ownerless")
router.register("hooks/view-max", ViewMaxBytesViewSet, basename="view-max")
router.register("hooks/request-max", RequestMaxBytesViewSet, basename="request-max")
router.register("hooks/no-checksum", NoChecksumViewSet, basename="no-checksum")
router.register("hooks/response-data", ResponseDataViewSet, basename="response-data")
router.register("hooks/on-completion", RecordingCompletionViewSet, basename="on-completion")
router.register("hooks/object-permission", ObjectPermissionViewSet, basename="object-permission")
router.register("hooks/throttled", ThrottledViewSet, basename="throttled")
router.register("hooks/paginated", PaginatedViewSet, basename="paginated")
router.register("hooks/filtered", FilteredViewSet, basename="filtered")
router.register("hooks/anonymous", AnonymousViewSet, basename="anonymous")

# The default registration again, inside a URL namespace (``v2:chunkedupload-detail``).
namespaced = ChunkedUploadRouter()
namespaced.register("uploads", ChunkedUploadViewSet)

urlpatterns = [*router.urls, path("v2/", include((namespaced.urls, "v2")))]
