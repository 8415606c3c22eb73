"""A test URLconf mounting ``ChunkedUploadViewSet`` on DRF's ``DefaultRouter``, as most projects'
``urls.py`` already has one (``@pytest.mark.urls("tests.urls_default_router")``)."""

from __future__ import annotations

from rest_framework.routers import DefaultRouter

from chunked_uploads.views import ChunkedUploadViewSet

router = DefaultRouter()
router.register("api/uploads", ChunkedUploadViewSet, basename="chunkedupload")

urlpatterns = router.urls
