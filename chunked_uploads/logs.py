"""Structured log lines: one for every upload event and every refused request.

Standard ``logging``; each line is logged under the name of the module whose code the event comes
from, with a readable message and its fields in ``extra=`` (so a JSON formatter picks them up as
attributes of the record):

- ``chunked_uploads.uploads``: ``upload_started``, ``chunk_received``, ``upload_completed``,
  ``upload_aborted`` and ``upload_deleted`` (the record and its bytes are gone, whatever the cause);
- ``chunked_uploads.management.commands.delete_expired_uploads``: ``upload_expired``;
- the protocol edge's module (``chunked_uploads.views`` for the native protocol):
  ``request_refused``, a request answered with a 4xx (``WARNING``) or a 5xx (``ERROR``).

Every line has ``event``, ``protocol``, ``upload_id`` and ``user_id``. Receivers are connected by
``ChunkedUploadsConfig.ready()``; they never raise (``logging`` reports its own failures).
"""

from __future__ import annotations

import logging
from typing import Any

from . import signals, telemetry
from .models import AbstractChunkedUpload

UPLOADS = logging.getLogger("chunked_uploads.uploads")
EXPIRY = logging.getLogger("chunked_uploads.management.commands.delete_expired_uploads")


def upload_fields(upload: AbstractChunkedUpload, event: str) -> dict[str, Any]:
    """The fields every upload event's line carries."""
    owner = getattr(upload, "user_id", None)
    return {
        "event": event,
        "protocol": telemetry.current_protocol(),
        "upload_id": str(upload.pk),
        "user_id": str(owner) if owner is not None else telemetry.current_user_id(),
        "offset": upload.offset,
        "size": upload.size,
    }


def _log(logger: logging.Logger, upload: AbstractChunkedUpload, event: str, text: str) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return  # the common case in production: skip building the fields
    fields = upload_fields(upload, event)
    logger.info(
        "Upload %s %s (user %s, %s protocol, %s of %s bytes)",
        fields["upload_id"], text, fields["user_id"], fields["protocol"],
        fields["offset"], fields["size"],
        extra=fields,
    )  # fmt: skip


def log_started(sender: Any, upload: AbstractChunkedUpload, **kwargs: Any) -> None:
    _log(UPLOADS, upload, "upload_started", "started")


def log_chunk(
    sender: Any, upload: AbstractChunkedUpload, start: int, end: int, **kwargs: Any
) -> None:
    if not UPLOADS.isEnabledFor(logging.INFO):
        return
    fields = {**upload_fields(upload, "chunk_received"), "start": start, "end": end}
    UPLOADS.info(
        "Upload %s: bytes %s-%s acknowledged (user %s, %s protocol, %s of %s bytes)",
        fields["upload_id"], start, end, fields["user_id"], fields["protocol"],
        fields["offset"], fields["size"],
        extra=fields,
    )  # fmt: skip


def log_completed(sender: Any, upload: AbstractChunkedUpload, **kwargs: Any) -> None:
    _log(UPLOADS, upload, "upload_completed", "completed")


def log_aborted(sender: Any, upload: AbstractChunkedUpload, **kwargs: Any) -> None:
    _log(UPLOADS, upload, "upload_aborted", "aborted by the client")


def log_expired(sender: Any, upload: AbstractChunkedUpload, **kwargs: Any) -> None:
    _log(EXPIRY, upload, "upload_expired", "expired")


def log_deleted(sender: Any, instance: AbstractChunkedUpload, **kwargs: Any) -> None:
    """``post_delete`` receiver, connected per upload model."""
    _log(UPLOADS, instance, "upload_deleted", "deleted with its bytes")


def log_refused(
    sender: type[Any],
    request: Any,
    protocol: str,
    action: str | None,
    status: int,
    code: str | None,
    upload_id: str | None,
    user_id: str | None,
    duration: float,
    **kwargs: Any,
) -> None:
    """``request_handled`` receiver: a line for each request answered with an error."""
    level = logging.ERROR if status >= 500 else logging.WARNING
    logger = edge_logger(sender)
    if status < 400 or not logger.isEnabledFor(level):
        return
    fields = {
        "event": "request_refused",
        "protocol": protocol,
        "upload_id": upload_id,
        "user_id": user_id,
        "action": action,
        "method": getattr(request, "method", None),
        "path": getattr(request, "path", None),
        "status": status,
        "code": code,
        "duration": round(duration, 6),
    }
    logger.log(
        level,
        "%s %s refused: %s %s (upload %s, user %s, %s protocol)",
        fields["method"], fields["path"], status, code, upload_id, user_id, protocol,
        extra=fields,
    )  # fmt: skip


def edge_logger(view_class: type[Any]) -> logging.Logger:
    """The view's ``logger_name`` (the native ViewSet keeps ``chunked_uploads.views``, where it
    lived before it moved), else the logger of the app's module that defines the view (a
    project's subclass included)."""
    name = getattr(view_class, "logger_name", None)
    if isinstance(name, str):
        return logging.getLogger(name)
    for cls in view_class.__mro__:
        if cls.__module__.startswith("chunked_uploads."):
            return logging.getLogger(cls.__module__)
    return logging.getLogger(view_class.__module__)


def connect() -> None:
    """Connect the receivers (``dispatch_uid``\\ s make it idempotent)."""
    for signal, receiver in (
        (signals.upload_started, log_started),
        (signals.chunk_received, log_chunk),
        (signals.upload_completed, log_completed),
        (signals.upload_aborted, log_aborted),
        (signals.upload_expired, log_expired),
        (signals.request_handled, log_refused),
    ):
        signal.connect(receiver, dispatch_uid=f"chunked_uploads.logs.{receiver.__name__}")
