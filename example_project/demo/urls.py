"""URLs of the example project: a home page linking to everything at ``/``, the upload API at
``api/uploads/``, tus 1.0 at ``api/tus/``, the IETF resumable-upload draft at ``api/resumable/``, the browser uploader at ``upload/``, the Uppy page (tus)
at ``uppy/``, the admin, DRF's login and, with
drf-spectacular installed, the OpenAPI schema at ``api/schema/`` with Swagger UI at ``api/docs/``
and Redoc at ``api/redoc/`` (served offline from drf-spectacular-sidecar). Any other path under
``api/`` answers the API's JSON 404."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from chunked_uploads.protocols.ietf.routers import ResumableUploadRouter
from chunked_uploads.protocols.ietf.views import ResumableUploadViewSet
from chunked_uploads.protocols.tus.routers import TusRouter
from chunked_uploads.protocols.tus.views import TusUploadViewSet
from chunked_uploads.routers import ChunkedUploadRouter
from chunked_uploads.views import ChunkedUploadViewSet
from demo.views import api_not_found, home, uploader, uppy_page

router = ChunkedUploadRouter()
router.register("api/uploads", ChunkedUploadViewSet)
tus_router = TusRouter()
tus_router.register("api/tus", TusUploadViewSet)
resumable_router = ResumableUploadRouter()
resumable_router.register("api/resumable", ResumableUploadViewSet)

urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    path("api-auth/", include("rest_framework.urls")),
    path("upload/", uploader, name="uploader"),
    path("uppy/", uppy_page, name="uppy"),
    *router.urls,
    *tus_router.urls,
    *resumable_router.urls,
]

if settings.HAS_SPECTACULAR:
    from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

    from demo.redoc import OfflineRedocView, redoc_bundle

    urlpatterns += [
        path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
        path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
        path("api/redoc/", OfflineRedocView.as_view(url_name="schema"), name="redoc"),
        path("api/redoc/redoc.standalone.js", redoc_bundle, name="redoc-bundle"),
    ]

# Last, after every API route. Only paths ending in "/": one without it still gets CommonMiddleware's
# APPEND_SLASH redirect first, as before.
urlpatterns += [re_path(r"^api/(?:.*/)?$", api_not_found, name="api-not-found")]

if settings.HAS_PROMETHEUS:
    from chunked_uploads.metrics import metrics_view

    urlpatterns += [path("metrics/", metrics_view, name="metrics")]
