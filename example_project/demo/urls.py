"""URLs of the example project: the upload API at ``api/uploads/``, the admin, DRF's login."""

from django.contrib import admin
from django.urls import include, path

from chunked_uploads.routers import ChunkedUploadRouter
from chunked_uploads.views import ChunkedUploadViewSet

router = ChunkedUploadRouter()
router.register("api/uploads", ChunkedUploadViewSet)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api-auth/", include("rest_framework.urls")),
    *router.urls,
]
