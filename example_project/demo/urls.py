"""URLs of the example project: the upload API at ``api/uploads/``, the admin, DRF's login and,
with drf-spectacular installed, the OpenAPI schema at ``api/schema/`` with Swagger UI at
``api/docs/`` and Redoc at ``api/redoc/`` (served offline from drf-spectacular-sidecar) and, with
prometheus_client installed, Prometheus metrics at ``metrics/`` (keep it from the public in
production: see docs/metrics-and-logs.md)."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from chunked_uploads.routers import ChunkedUploadRouter
from chunked_uploads.views import ChunkedUploadViewSet
from demo.views import uploader

router = ChunkedUploadRouter()
router.register("api/uploads", ChunkedUploadViewSet)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api-auth/", include("rest_framework.urls")),
    path("upload/", uploader, name="uploader"),
    *router.urls,
]

if settings.HAS_SPECTACULAR:
    from drf_spectacular.views import (
        SpectacularAPIView,
        SpectacularRedocView,
        SpectacularSwaggerView,
    )

    urlpatterns += [
        path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
        path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
        path(
            "api/redoc/",
            SpectacularRedocView.as_view(
                url_name="schema", template_name="chunked_uploads/redoc_offline.html"
            ),
            name="redoc",
        ),
    ]

if settings.HAS_PROMETHEUS:
    from chunked_uploads.metrics import metrics_view

    urlpatterns += [path("metrics/", metrics_view, name="metrics")]
