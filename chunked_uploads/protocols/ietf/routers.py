"""``ResumableUploadRouter``: mounts ``ResumableUploadViewSet`` at a creation URL and its uploads'
URLs below it.

A DRF "custom router", as ``TusRouter``: ``POST`` (and ``OPTIONS``) on the creation URL; ``HEAD``,
``PATCH``, ``DELETE`` (and ``OPTIONS``) on an upload's URL. URL names are ``{basename}-list`` and
``{basename}-detail``; the default basename is ``resumable`` followed by the model's name in lower
case (``resumablechunkedupload``), so the other routers' names stay free.
"""

from __future__ import annotations

from typing import Any

from rest_framework.routers import SimpleRouter

from ..routes import protocol_routes

LIST_ACTIONS = {"post": "create"}
DETAIL_ACTIONS = {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}


class ResumableUploadRouter(SimpleRouter):
    routes = protocol_routes(LIST_ACTIONS, DETAIL_ACTIONS)

    def get_default_basename(self, viewset: Any) -> str:
        model = viewset.queryset.model if viewset.queryset is not None else viewset.model
        return "resumable" + str(model._meta.object_name).lower()
