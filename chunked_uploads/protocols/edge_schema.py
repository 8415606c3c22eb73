"""The naming half of a header protocol's ``AutoSchema``: operation ids, tags and summaries.

The tus and IETF edges describe their operations with the same rules: an action named in the
edge's table gets the id ``<prefix>_<name>``, the tag ``<prefix>`` and the table's summary, where
``<prefix>`` is the view's ``schema_operation_prefix`` (the edge's default otherwise); any other
action is left to drf-spectacular. What each operation reads and answers stays in the edge's own
``schema.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from drf_spectacular.openapi import AutoSchema


class EdgeActionSchema(AutoSchema):
    """``AutoSchema`` naming an edge's actions from its tables (set by each subclass)."""

    default_prefix: ClassVar[str]
    operation_names: ClassVar[Mapping[str, str]]  # action -> the operation id's second half
    summaries: ClassVar[Mapping[str, str]]  # action -> summary

    @property
    def action(self) -> str:
        return str(getattr(self.view, "action", ""))

    def _prefix(self) -> str:
        return str(getattr(self.view, "schema_operation_prefix", self.default_prefix))

    def get_operation_id(self) -> str:
        name = self.operation_names.get(self.action)
        if name is None:
            return str(super().get_operation_id())
        return f"{self._prefix()}_{name}"

    def get_tags(self) -> list[str]:
        if self.action in self.operation_names:
            return [self._prefix()]
        return list(super().get_tags())

    def get_summary(self) -> str | None:
        return self.summaries.get(self.action) or super().get_summary()
