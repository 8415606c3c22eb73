"""Admin for uploads: who uploads what, how far along, until when; deleting removes the bytes too."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .conf import conf
from .models import AbstractChunkedUpload, ChunkedUpload, UploadStatus


class ExpiredFilter(admin.SimpleListFilter):
    title = _("expired")
    parameter_name = "expired"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", str(_("Yes"))), ("no", str(_("No")))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        cutoff = timezone.now() - conf.expiration_delta
        expired = {"status": UploadStatus.UPLOADING, "created_at__lte": cutoff}
        if self.value() == "yes":
            return queryset.filter(**expired)
        if self.value() == "no":
            return queryset.exclude(**expired)
        return queryset


class ChunkedUploadAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "filename",
        "user",
        "status",
        "progress_display",
        "created_at",
        "expires_display",
        "completed_at",
    )
    list_filter = ("status", ExpiredFilter, "created_at")
    search_fields = ("filename", "id")
    date_hierarchy = "created_at"
    readonly_fields = (
        "id",
        "file",
        "filename",
        "user",
        "offset",
        "size",
        "status",
        "created_at",
        "completed_at",
        "checksum_algorithm",
        "checksum",
    )
    exclude = ("digest_state", "lease_token", "lease_expires_at")

    @admin.display(description=_("progress"))
    def progress_display(self, obj: AbstractChunkedUpload) -> str:
        if obj.size is None:
            return f"{obj.offset} bytes"
        percent = 100.0 * (obj.progress or 0.0)
        return f"{obj.offset} / {obj.size} bytes ({percent:.1f} %)"

    @admin.display(description=_("expires"))
    def expires_display(self, obj: AbstractChunkedUpload) -> Any:
        return obj.expires_at if obj.status == UploadStatus.UPLOADING else "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


admin.site.register(ChunkedUpload, ChunkedUploadAdmin)
