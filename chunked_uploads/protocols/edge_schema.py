"""What the header protocols' ``AutoSchema``s share: operation naming and header parameters.

The tus and IETF edges describe their operations with the same rules: an action named in the
edge's table gets the id ``<prefix>_<name>``, the tag ``<prefix>`` and the table's summary, where
``<prefix>`` is the view's ``schema_operation_prefix`` (the edge's default otherwise); any other
action is left to drf-spectacular. Every operation reads the edge's version header, those on an
upload its id, and each the headers of the edge's ``action_parameters`` table; the bodies of
``optional_body_actions`` may be empty. ``header()`` and ``response_header()`` build the header
parameters both describe their operations with. What each operation reads and answers stays in the
edge's own ``schema.py``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, ClassVar

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from .native.schema import upload_id_parameter

UPLOAD_ACTIONS = ("retrieve", "partial_update", "destroy")  # the actions on an upload's URL


class EdgeActionSchema(AutoSchema):
    """``AutoSchema`` naming an edge's actions from its tables (set by each subclass)."""

    default_prefix: ClassVar[str]
    operation_names: ClassVar[Mapping[str, str]]  # action -> the operation id's second half
    summaries: ClassVar[Mapping[str, str]]  # action -> summary
    version_header: ClassVar[OpenApiParameter]  # the protocol version every request names
    action_parameters: ClassVar[Mapping[str, Sequence[OpenApiParameter]]]  # action -> headers
    optional_body_actions: ClassVar[Collection[str]] = ()  # actions whose body may be empty

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

    def get_override_parameters(self) -> list[Any]:
        parameters = [*super().get_override_parameters(), self.version_header]
        if self.action in UPLOAD_ACTIONS:
            parameters.append(upload_id_parameter("id"))
        return parameters + list(self.action_parameters.get(self.action, ()))

    def _get_request_body(self, direction: str = "request") -> Any:
        body = super()._get_request_body(direction)  # type: ignore[no-untyped-call]
        if body is not None and self.action in self.optional_body_actions:
            body["required"] = False
        return body


def header(name: str, description: str, *, required: bool = False, **schema: Any) -> Any:
    """A request header an operation reads."""
    return OpenApiParameter(
        name,
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=required,
        description=description,
        **schema,
    )


def response_header(name: str, codes: list[int], description: str) -> OpenApiParameter:
    """A header the operation's answers with these status codes carry."""
    return OpenApiParameter(
        name, OpenApiTypes.STR, OpenApiParameter.HEADER, response=codes, description=description
    )
