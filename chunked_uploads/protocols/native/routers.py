"""``ChunkedUploadRouter``: maps the protocol's methods onto ``ChunkedUploadViewSet`` actions.

A DRF "custom router" (a ``SimpleRouter`` with its own ``routes``): ``PUT``/``POST`` mean different
things on the list and the detail route than in a plain ``ModelViewSet``. URL names are
``{basename}-list`` and ``{basename}-detail``; the default basename is the model's name in lower
case (``chunkedupload``), so the detail route is drf-chunked-upload's ``chunkedupload-detail``.
"""

from __future__ import annotations

from typing import Any

from rest_framework.routers import SimpleRouter

from ..routes import protocol_routes

# The protocol's methods on each route. ``ChunkedUploadViewSet.as_view()`` applies them whatever
# router mounts it, so the ViewSet speaks the protocol on DRF's ``DefaultRouter`` too.
LIST_ACTIONS = {"get": "list", "put": "create", "post": "create_complete"}
DETAIL_ACTIONS = {
    "get": "retrieve",
    "put": "partial_update",
    "post": "complete",
    "delete": "destroy",
}


class ChunkedUploadRouter(SimpleRouter):
    routes = protocol_routes(LIST_ACTIONS, DETAIL_ACTIONS)

    def get_default_basename(self, viewset: Any) -> str:
        queryset = getattr(viewset, "queryset", None)
        model = queryset.model if queryset is not None else getattr(viewset, "model", None)
        if model is None:
            return super().get_default_basename(viewset)
        return str(model._meta.object_name).lower()
