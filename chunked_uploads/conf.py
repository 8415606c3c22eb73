"""The app's settings: one typed property per setting, read from Django's settings on each access.

Names and defaults are drf-chunked-upload's (``DRF_CHUNKED_UPLOAD_*``), so a project moving from it
keeps its configuration. Nothing is frozen at import, so ``override_settings`` works everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings as django_settings
from django.core.files.storage import Storage, default_storage, storages
from django.utils.module_loading import import_string

PREFIX = "DRF_CHUNKED_UPLOAD_"
DEFAULT_PATH = "chunked_uploads/%Y/%m/%d"
UploadTo = Callable[[Any, str], str]


def _get(name: str, default: Any) -> Any:
    return getattr(django_settings, PREFIX + name, default)


class Settings:
    """Typed access to every ``DRF_CHUNKED_UPLOAD_*`` setting."""

    @property
    def expiration_delta(self) -> timedelta:
        value: timedelta = _get("EXPIRATION_DELTA", timedelta(days=1))
        return value

    @property
    def path(self) -> str:
        value: str = _get("PATH", DEFAULT_PATH)
        return value

    @property
    def upload_to(self) -> str | UploadTo | None:
        """``None`` means ``PATH + '/{{ instance.id }}' + INCOMPLETE_EXT``."""
        value: str | UploadTo | None = _get("TO", None)
        return value

    @property
    def checksum(self) -> str:
        value: str = _get("CHECKSUM", "md5")
        return value.lower() if isinstance(value, str) else value

    @property
    def complete_ext(self) -> str:
        value: str = _get("COMPLETE_EXT", ".done")
        return value

    @property
    def incomplete_ext(self) -> str:
        value: str = _get("INCOMPLETE_EXT", ".part")
        return value

    @property
    def storage_class(self) -> Any:
        return _get("STORAGE_CLASS", None)

    @property
    def storage(self) -> Storage:
        """The storage named by ``STORAGE_CLASS``: ``None``, a class, a dotted path or an alias."""
        return resolve_storage(self.storage_class)

    @property
    def store(self) -> Any:
        """``STORE``: ``None`` (picked from the storage), a ``ChunkStore`` class or dotted path, or
        ``{"BACKEND": ..., "OPTIONS": {...}}``."""
        return _get("STORE", None)

    @property
    def user_restricted(self) -> bool:
        # drf-chunked-upload's README spells it USER_RESTRICED; both are honoured.
        fallback = _get("USER_RESTRICED", True)
        return bool(_get("USER_RESTRICTED", fallback))

    @property
    def max_bytes(self) -> int | None:
        value: int | None = _get("MAX_BYTES", None)
        return value

    @property
    def max_unfinished_uploads(self) -> int | None:
        """How many unfinished uploads one user may have; ``None`` means no limit."""
        value: int | None = _get("MAX_UNFINISHED_UPLOADS", None)
        return value

    @property
    def max_unfinished_bytes(self) -> int | None:
        """The most bytes one user's unfinished uploads may declare together; ``None``: no limit."""
        value: int | None = _get("MAX_UNFINISHED_BYTES", None)
        return value

    @property
    def named_url(self) -> str:
        value: str = _get("NAMED_URL", "chunkedupload-detail")
        return value

    @property
    def explicit_named_url(self) -> str | None:
        """``NAMED_URL`` when the project sets it; ``None`` lets responses name the view's route."""
        value: str | None = _get("NAMED_URL", None)
        return value

    @property
    def max_chunk_bytes(self) -> int | None:
        """Largest chunk one request may carry; ``None`` means no limit beyond ``MAX_BYTES``."""
        value: int | None = _get("MAX_CHUNK_BYTES", None)
        return value

    @property
    def fsync(self) -> bool:
        """Flush chunk bytes to stable storage before acknowledging them (survives power loss)."""
        return bool(_get("FSYNC", False))

    @property
    def socket_reads(self) -> bool:
        """Under gunicorn, read chunk bodies from the socket instead of through ``wsgi.input``
        (an optional integration, off by default: ``bodies/gunicorn.py``)."""
        return bool(_get("SOCKET_READS", False))

    @property
    def interim_responses(self) -> Any:
        """Under gunicorn, send the IETF draft's ``104 Upload Resumption Supported`` on the
        connection once an upload exists (an optional integration, off by default:
        ``bodies/interim.py``)."""
        return _get("INTERIM_RESPONSES", False)

    @property
    def lease_seconds(self) -> float:
        """How long a request may hold an upload without showing progress before others may take it."""
        value: float = _get("LEASE_SECONDS", 60.0)
        return value

    @property
    def checkpoint_bytes(self) -> int | None:
        """Within a long request of a protocol that resumes interrupted requests (tus PATCH),
        acknowledge progress every so many bytes; ``None`` turns check-points off."""
        value: int | None = _get("CHECKPOINT_BYTES", 8 * 1024 * 1024)
        return value

    @property
    def max_concat_partials(self) -> int:
        """The most partial uploads one tus final upload may list (``Upload-Concat``)."""
        value: int = _get("MAX_CONCAT_PARTIALS", 100)
        return value

    @property
    def metrics(self) -> bool:
        """Record Prometheus metrics (needs ``prometheus_client``, the ``metrics`` extra)."""
        return bool(_get("METRICS", False))


_storage_cache: dict[Any, Storage] = {}


def resolve_storage(value: Any) -> Storage:
    """Turn a ``STORAGE_CLASS`` value into a storage instance (cached per value)."""
    if value is None:
        return default_storage
    if isinstance(value, Storage):
        return value
    if isinstance(value, str) and value in django_settings.STORAGES:
        return storages[value]
    if value not in _storage_cache:
        cls = import_string(value) if isinstance(value, str) else value
        storage = cls()
        if not isinstance(storage, Storage):
            raise TypeError(f"{PREFIX}STORAGE_CLASS must give a Storage, not {storage!r}")
        _storage_cache[value] = storage
    return _storage_cache[value]


conf = Settings()
