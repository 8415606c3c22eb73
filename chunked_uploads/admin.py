"""Admin for uploads: who uploads what, how far along, until when; deleting removes the bytes too."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import exceptions, uploads
from .conf import conf
from .models import AbstractChunkedUpload, ChunkedUpload, UploadStatus, unfinished_uploads


class ExpiredFilter(admin.SimpleListFilter):
    title = _("expired")
    parameter_name = "expired"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", str(_("Yes"))), ("no", str(_("No")))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        cutoff = timezone.now() - conf.expiration_delta
        expired = unfinished_uploads() & Q(created_at__lte=cutoff)
        if self.value() == "yes":
            return queryset.filter(expired)
        if self.value() == "no":
            return queryset.exclude(expired)
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
    list_filter = ("status", ExpiredFilter, "concatenation", "created_at")
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
        "tus_metadata",
        "concatenation",
        "concatenated_into",
    )
    exclude = ("digest_state", "lease_token", "lease_expires_at")

    actions = ("abort_uploads",)

    @admin.display(description=_("progress"))
    def progress_display(self, obj: AbstractChunkedUpload) -> str | SafeString:
        if obj.size is None:
            return f"{obj.offset} bytes"
        percent = 100.0 * (obj.progress or 0.0)
        return format_html(
            '<progress value="{}" max="{}"></progress> {} / {} bytes ({} %)',
            obj.offset,
            obj.size or 1,
            obj.offset,
            obj.size,
            f"{percent:.1f}",
        )

    @admin.action(
        description=_("Abort selected uploads in progress (removes their bytes)"),
        permissions=["abort"],
    )
    def abort_uploads(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        """Abort as a client's ``DELETE`` would: signal ``upload_aborted``, remove row and bytes."""
        aborted = busy = 0
        for upload in queryset.filter(status=UploadStatus.UPLOADING):
            try:
                uploads.abort(upload)
                aborted += 1
            except exceptions.UploadBusy:
                busy += 1  # a chunk is being written right now: aborting would race it
        message = ngettext("Aborted %d upload.", "Aborted %d uploads.", aborted) % aborted
        self.message_user(request, message, messages.SUCCESS)
        if busy:
            self.message_user(
                request,
                ngettext(
                    "%d upload was busy receiving a chunk; try again.",
                    "%d uploads were busy receiving a chunk; try again.",
                    busy,
                )
                % busy,
                messages.WARNING,
            )

    @admin.display(description=_("expires"))
    def expires_display(self, obj: AbstractChunkedUpload) -> Any:
        return obj.expires_at if obj.unfinished else "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_abort_permission(self, request: HttpRequest) -> bool:
        return self.has_delete_permission(request)


admin.site.register(ChunkedUpload, ChunkedUploadAdmin)
