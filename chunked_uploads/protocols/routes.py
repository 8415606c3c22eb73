"""The two routes every protocol edge mounts: a list (creation) URL and an upload's URL.

Each edge's router is a DRF "custom router" whose ``routes`` differ only in the methods mapped on
each URL; this builds them, so the URL shapes and names stay the same across protocols.
"""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework.routers import DynamicRoute, Route


def protocol_routes(
    list_actions: Mapping[str, str], detail_actions: Mapping[str, str]
) -> list[Route | DynamicRoute]:
    """``{basename}-list`` at ``{prefix}/`` and ``{basename}-detail`` at ``{prefix}/{lookup}/``."""
    return [
        Route(
            url=r"^{prefix}{trailing_slash}$",
            mapping=dict(list_actions),
            name="{basename}-list",
            detail=False,
            initkwargs={"suffix": "List"},
        ),
        Route(
            url=r"^{prefix}/{lookup}{trailing_slash}$",
            mapping=dict(detail_actions),
            name="{basename}-detail",
            detail=True,
            initkwargs={"suffix": "Instance"},
        ),
    ]
