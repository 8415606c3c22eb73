"""The serializer of the native protocol's answers: the upload as the protocol returns it."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from rest_framework import serializers
from rest_framework.reverse import reverse

from ...conf import conf
from ...models import ChunkedUpload
from ...parts import stored_spans


class ChunkedUploadSerializer(serializers.ModelSerializer[ChunkedUpload]):
    """``{id, url, filename, offset, size, status, created_at, completed_at, expires,
    checksum_algorithm}``."""

    url = serializers.SerializerMethodField(help_text="Absolute URL of this upload.")
    expires = serializers.DateTimeField(
        source="expires_at", read_only=True, help_text="When an incomplete upload expires."
    )
    checksum_algorithm = serializers.SerializerMethodField(
        help_text="The hashlib name of the checksum completion expects, which is also the name of"
        " its field (`md5` by default); `null` when the server checks none."
    )

    ranges = serializers.SerializerMethodField(
        help_text="The stored bytes as `[start, end]` pairs (inclusive, in order, adjacent ranges"
        " merged). A parallel upload is complete when they cover `[0, size - 1]`."
    )

    class Meta:
        model = ChunkedUpload
        fields = (
            "id",
            "url",
            "filename",
            "offset",
            "size",
            "status",
            "created_at",
            "completed_at",
            "expires",
            "checksum_algorithm",
            "parallel",
            "ranges",
        )
        read_only_fields = fields
        extra_kwargs = {
            "parallel": {
                "help_text": "Whether the upload takes chunks at any offset, in any order"
                " (asked for with `Upload-Mode: parallel` on its first chunk)."
            }
        }

    # The fields ModelSerializer builds from the model, per serializer class: building them
    # introspects the model on every response (see docs/benchmarks.md for what that costs).
    _built_fields: ClassVar[dict[type, dict[str, serializers.Field[Any, Any, Any, Any]]]] = {}

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        """``ModelSerializer``'s fields, built once per class and copied for each instance."""
        built = self._built_fields.get(type(self))
        if built is None:
            built = self._built_fields[type(self)] = super().get_fields()
        return copy.deepcopy(built)

    def get_url(self, obj: Any) -> str:
        # DRF_CHUNKED_UPLOAD_NAMED_URL when the project sets it, else the detail route of the view
        # answering (a subclass mounted under its own prefix, or in a URL namespace, points at
        # itself), else the default name. (A docstring here would reorder the OpenAPI schema.)
        request = self.context.get("request")
        name = (
            conf.explicit_named_url
            or _detail_route(self.context.get("view"), request)
            or conf.named_url
        )
        return reverse(name, kwargs={"pk": obj.pk}, request=request)

    def get_ranges(self, obj: Any) -> list[list[int]]:
        return [[start, end] for start, end in stored_spans(obj)]

    def get_checksum_algorithm(self, obj: Any) -> str | None:
        # The answering view's: a view with ``do_checksum_check = False`` expects none.
        view = self.context.get("view")
        return conf.checksum if getattr(view, "do_checksum_check", True) else None


def _detail_route(view: Any, request: Any) -> str | None:
    """``[namespace:]{basename}-detail`` of a view a router mounted, as DRF's
    ``reverse_action()`` names it; ``None`` for a view without a router basename."""
    basename = getattr(view, "basename", None)
    if not basename:
        return None
    match = getattr(request, "resolver_match", None)
    namespace = getattr(match, "namespace", "")
    return f"{namespace}:{basename}-detail" if namespace else f"{basename}-detail"
