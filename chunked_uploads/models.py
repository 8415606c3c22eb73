"""The upload record: ``AbstractChunkedUpload`` to extend, and the concrete ``ChunkedUpload``.

A row holds everything a worker needs to continue an upload: the acknowledged ``offset``, the
declared ``size``, the running digest's saved ``digest_state`` and the lease that serializes writers.
Nothing about an upload lives in process memory between requests.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.files.storage import Storage
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .conf import conf


class UploadStatus(models.TextChoices):
    UPLOADING = "uploading", _("Incomplete")
    COMPLETE = "complete", _("Complete")


class Concatenation(models.TextChoices):
    """An upload's part in tus concatenation (``concatenation.py``)."""

    NONE = "", _("None")
    PARTIAL = "partial", _("Partial")
    FINAL = "final", _("Final")


class ConfiguredStorage(Storage):
    """The storage named by ``DRF_CHUNKED_UPLOAD_STORAGE_CLASS``, looked up on every call.

    A ``FileField`` evaluates its storage once, at import; this proxy keeps the setting live (so
    ``override_settings`` and per-deployment storages work) and keeps migrations free of it.
    """

    def _target(self) -> Storage:
        return conf.storage

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)

    def open(self, name: str, mode: str = "rb") -> Any:
        return self._target().open(name, mode)

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        return self._target().save(name, content, max_length=max_length)

    def generate_filename(self, filename: Any) -> str:
        return self._target().generate_filename(filename)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return self._target().get_available_name(name, max_length=max_length)

    def delete(self, name: str) -> None:
        self._target().delete(name)

    def exists(self, name: str) -> bool:
        return self._target().exists(name)

    def size(self, name: str) -> int:
        return self._target().size(name)

    def url(self, name: str | None) -> str:
        return self._target().url(name)

    def path(self, name: str) -> str:
        return self._target().path(name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        return self._target().listdir(path)


def unfinished_uploads() -> models.Q:
    """The rows ``AbstractChunkedUpload.unfinished`` is true of (they expire): incomplete uploads,
    and partial uploads, complete or not. The quotas leave out the ``taken_partials()``."""
    return models.Q(status=UploadStatus.UPLOADING) | models.Q(concatenation=Concatenation.PARTIAL)


def taken_partials() -> models.Q:
    """Partial uploads a final upload took (``concatenation.py``): the final upload counts for
    their bytes, and once it is complete they are records without bytes, not files."""
    return models.Q(concatenation=Concatenation.PARTIAL, concatenated_into__isnull=False)


def upload_storage() -> Storage:
    """Callable storage for the ``file`` field (keeps the setting out of migrations)."""
    return ConfiguredStorage()


def generate_filename(instance: AbstractChunkedUpload, filename: str) -> str:
    """Where an upload's bytes go; the client's file name is never part of it."""
    upload_to = conf.upload_to
    if callable(upload_to):
        return upload_to(instance, filename)
    if upload_to is None:
        upload_to = conf.path.rstrip("/") + "/{{ instance.id }}" + conf.incomplete_ext
    name = upload_to.replace("{{ instance.id }}", str(instance.id))
    return time.strftime(name)


class AbstractChunkedUpload(models.Model):
    """Inherit from this model to add fields; the upload core only uses the fields below."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    file = models.FileField(
        max_length=255, upload_to=generate_filename, storage=upload_storage, null=True, blank=True
    )
    filename = models.CharField(_("file name"), max_length=255)
    offset = models.BigIntegerField(_("bytes received"), default=0)
    size = models.BigIntegerField(_("total size"), null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=UploadStatus.choices, default=UploadStatus.UPLOADING, db_index=True
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    checksum_algorithm = models.CharField(max_length=32, blank=True, editable=False)
    digest_state = models.BinaryField(null=True, blank=True, editable=False)
    checksum = models.CharField(max_length=128, blank=True, editable=False)
    lease_token = models.UUIDField(null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # What the store remembers between requests (S3 UploadId and part ETags, part objects),
    # recorded with the offset it belongs to; ``None`` for the local store.
    store_state = models.JSONField(null=True, blank=True, editable=False)
    # tus: the ``Upload-Metadata`` header exactly as the client sent it ("" when none).
    tus_metadata = models.TextField(_("tus metadata"), blank=True, default="", editable=False)
    # Parallel mode (``parts.py``): chunks at any offset, in any order, over several connections.
    # ``parts`` holds the stored ranges and the ranges being written; every change to it is one
    # conditional ``UPDATE ... WHERE parts_version = V`` (optimistic, the same on every database).
    parallel = models.BooleanField(_("parallel"), default=False, editable=False)
    parts = models.JSONField(null=True, blank=True, editable=False)
    parts_version = models.BigIntegerField(default=0, editable=False)
    # tus concatenation (``concatenation.py``): a ``partial`` upload is a piece of a file to come,
    # a ``final`` upload the file made of partials; ``concat_partials`` lists a final's partials
    # (their ids, in order) and ``concatenated_into`` names the final that took a partial.
    concatenation = models.CharField(
        _("concatenation"),
        max_length=7,
        choices=Concatenation.choices,
        default=Concatenation.NONE,
        blank=True,
        editable=False,
    )
    concat_partials = models.JSONField(null=True, blank=True, editable=False)
    concatenated_into = models.UUIDField(null=True, blank=True, editable=False)

    # drf-chunked-upload compatibility: ``upload.UPLOADING`` / ``upload.COMPLETE``.
    UPLOADING = UploadStatus.UPLOADING
    COMPLETE = UploadStatus.COMPLETE
    STATUS_CHOICES = UploadStatus.choices

    class Meta:
        abstract = True
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.filename} ({self.id})"

    @property
    def expires_at(self) -> datetime:
        return self.created_at + conf.expiration_delta

    @property
    def unfinished(self) -> bool:
        """Still waiting for something: bytes, or (a partial upload) a final upload to take it."""
        return self.status == UploadStatus.UPLOADING or self.concatenation == Concatenation.PARTIAL

    @property
    def expired(self) -> bool:
        return self.unfinished and self.expires_at <= timezone.now()

    @property
    def progress(self) -> float | None:
        """Fraction of the declared size received, or ``None`` before the size is known."""
        if not self.size:
            return 1.0 if self.size == 0 else None
        return self.offset / self.size


class ChunkedUpload(AbstractChunkedUpload):
    """The concrete model used by ``ChunkedUploadViewSet`` unless a view names another."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        related_name="chunked_uploads",
        editable=False,
        on_delete=models.CASCADE,
    )

    class Meta(AbstractChunkedUpload.Meta):
        verbose_name = _("chunked upload")
        verbose_name_plural = _("chunked uploads")
