"""Per-user limits on unfinished uploads, checked when an upload is created, before its body is read.

``MAX_UNFINISHED_UPLOADS`` bounds how many uploads one user may have started and neither completed
nor aborted (expired ones do not count: they can no longer take a byte), and
``MAX_UNFINISHED_BYTES`` the sum of the totals those uploads declared, the new one included. The
new upload's total is its ``Content-Range`` total, or for a single shot the request's
``Content-Length`` (an upper bound of the file's size). ``chunks.receive()`` runs the check first,
before the protocol's other checks and before any body byte is read.

An upload whose length is not known yet (tus ``Upload-Defer-Length``, an IETF upload created
without ``Upload-Length``) counts the bytes it holds, and each append to it is checked by
``check_growth()`` from its headers, so that it cannot grow past the quota one request at a time.

Partial uploads (tus concatenation) count until a final upload takes them; from then on the final
upload counts for their bytes, and the records a completed one leaves (``concatenation.py``) count
for nothing.

Anonymous uploads are not limited here: the view's permissions and DRF's throttling decide who may
upload at all.

The count is read, not locked: requests that create uploads at the same moment may together pass
a limit by their number, which bounds nothing an attacker can grow.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import exceptions
from .conf import conf
from .models import AbstractChunkedUpload, taken_partials, unfinished_uploads
from .ranges import ContentRange


def check_new_upload(
    model: type[AbstractChunkedUpload], user_field: str, user: Any, declared_bytes: int
) -> None:
    """Refuse (``TooManyUnfinishedUploads``, ``UnfinishedBytesQuotaExceeded``) a new upload of
    ``declared_bytes`` that ``user`` may not start."""
    max_uploads, max_bytes = conf.max_unfinished_uploads, conf.max_unfinished_bytes
    if (max_uploads is None and max_bytes is None) or not getattr(user, "is_authenticated", False):
        return
    if not _has_field(model, user_field):
        return  # uploads without an owner: nobody to count them against
    unfinished = _unfinished(model, user_field, user)
    if max_uploads is not None and unfinished.count() >= max_uploads:
        raise exceptions.TooManyUnfinishedUploads(max_uploads)
    if max_bytes is not None:
        declared = _declared_bytes(unfinished) + declared_bytes
        if declared > max_bytes:
            raise exceptions.UnfinishedBytesQuotaExceeded(max_bytes, declared)


def check_growth(upload: AbstractChunkedUpload, user_field: str, byte_range: ContentRange) -> None:
    """Refuse (``UnfinishedBytesQuotaExceeded``) an append of ``byte_range`` that would take
    ``upload``, whose length is not known yet, past its owner's ``MAX_UNFINISHED_BYTES`` (by
    where the range ends, or the length it now declares)."""
    max_bytes = conf.max_unfinished_bytes
    if max_bytes is None or upload.size is not None or not _has_field(type(upload), user_field):
        return
    user = getattr(upload, user_field, None)
    if user is None:
        return
    others = _unfinished(type(upload), user_field, user).exclude(pk=upload.pk)
    declared = _declared_bytes(others) + _declared_end(byte_range)
    if declared > max_bytes:
        raise exceptions.UnfinishedBytesQuotaExceeded(max_bytes, declared)


def declared_total(byte_range: ContentRange | None, body_length: int | None) -> int:
    """The total a new upload declares: its range's total, else where its range ends (a length
    not known yet), else its body's length (a single shot's), else 0 (a malformed range counts as
    nothing here: the protocol's checks refuse it next)."""
    if byte_range is not None:
        return _declared_end(byte_range)
    return body_length or 0


def _declared_end(byte_range: ContentRange) -> int:
    """The range's total; for an upload whose length is not known yet (tus deferred, IETF without
    ``Upload-Length``), where the range ends: a first request and an append count alike."""
    return byte_range.total if byte_range.total is not None else byte_range.end + 1


def _declared_bytes(unfinished: Any) -> int:
    """What ``unfinished`` uploads declared: their totals, or the bytes held by those whose
    length is not known yet."""
    total = unfinished.aggregate(total=Sum(Coalesce("size", "offset")))["total"]
    return int(total or 0)


def _has_field(model: type[AbstractChunkedUpload], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def _unfinished(model: type[AbstractChunkedUpload], user_field: str, user: Any) -> Any:
    alive_since = timezone.now() - conf.expiration_delta
    return model._default_manager.filter(
        unfinished_uploads(), **{user_field: user}, created_at__gt=alive_since
    ).exclude(taken_partials())
