"""Per-user limits on unfinished uploads, checked when an upload is created, before its body is read.

``MAX_UNFINISHED_UPLOADS`` bounds how many uploads one user may have started and neither completed
nor aborted (expired ones do not count: they can no longer take a byte), and
``MAX_UNFINISHED_BYTES`` the sum of the totals those uploads declared, the new one included. The
new upload's total is its ``Content-Range`` total, or for a single shot the request's
``Content-Length`` (an upper bound of the file's size). Anonymous uploads are not limited here:
the view's permissions and DRF's throttling decide who may upload at all.

The count is read, not locked: requests that create uploads at the same moment may together pass
a limit by their number, which bounds nothing an attacker can grow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Sum
from django.utils import timezone

from . import exceptions
from .conf import conf
from .models import AbstractChunkedUpload, UploadStatus
from .ranges import MalformedRange, RangeExceedsTotal, parse_content_range


def check_new_upload(
    model: type[AbstractChunkedUpload], user_field: str, user: Any, meta: Mapping[str, Any]
) -> None:
    """Raise a 403 if ``user`` may not start another upload of the size ``meta`` declares."""
    max_uploads, max_bytes = conf.max_unfinished_uploads, conf.max_unfinished_bytes
    if (max_uploads is None and max_bytes is None) or not getattr(user, "is_authenticated", False):
        return
    if not _has_field(model, user_field):
        return  # uploads without an owner: nobody to count them against
    unfinished = _unfinished(model, user_field, user)
    if max_uploads is not None and unfinished.count() >= max_uploads:
        raise exceptions.TooManyUnfinishedUploads(max_uploads)
    if max_bytes is not None:
        declared = (unfinished.aggregate(total=Sum("size"))["total"] or 0) + declared_total(meta)
        if declared > max_bytes:
            raise exceptions.UnfinishedBytesQuotaExceeded(max_bytes, declared)


def declared_total(meta: Mapping[str, Any]) -> int:
    """The total a new upload declares: its ``Content-Range`` total, else its body's length.

    A malformed header counts as nothing here: the protocol's checks refuse it next.
    """
    header = meta.get("HTTP_CONTENT_RANGE")
    if header:
        try:
            return parse_content_range(header).total
        except (MalformedRange, RangeExceedsTotal):
            return 0
    try:
        return max(int(meta.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def _has_field(model: type[AbstractChunkedUpload], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def _unfinished(model: type[AbstractChunkedUpload], user_field: str, user: Any) -> Any:
    alive_since = timezone.now() - conf.expiration_delta
    return model._default_manager.filter(
        **{user_field: user}, status=UploadStatus.UPLOADING, created_at__gt=alive_since
    )
