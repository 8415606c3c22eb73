"""Tests of ``conf.py``: every setting's default and override, read on use, and ``resolve_storage``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import FileSystemStorage, InMemoryStorage, default_storage
from django.test import override_settings

from chunked_uploads.conf import DEFAULT_PATH, Settings, conf, resolve_storage


def upload_to(instance: Any, filename: str) -> str:
    return f"custom/{instance.pk}"


class LocalStorage(FileSystemStorage):
    """A storage class for the dotted-path and class forms of ``STORAGE_CLASS``."""


class NotAStorage:
    """Constructible, but not a ``Storage``."""


DEFAULTS = [
    ("expiration_delta", timedelta(days=1)),
    ("path", DEFAULT_PATH),
    ("upload_to", None),
    ("checksum", "md5"),
    ("complete_ext", ".done"),
    ("incomplete_ext", ".part"),
    ("storage_class", None),
    ("store", None),
    ("user_restricted", True),
    ("max_bytes", None),
    ("named_url", "chunkedupload-detail"),
    ("explicit_named_url", None),
    ("max_chunk_bytes", None),
    ("max_unfinished_uploads", None),
    ("max_unfinished_bytes", None),
    ("fsync", False),
    ("lease_seconds", 60.0),
    ("checkpoint_bytes", 8 * 1024 * 1024),
    ("socket_reads", False),
    ("max_concat_partials", 100),
    ("interim_responses", False),
]

OVERRIDES = [
    ("EXPIRATION_DELTA", "expiration_delta", timedelta(hours=2), timedelta(hours=2)),
    ("PATH", "path", "files/%Y", "files/%Y"),
    ("TO", "upload_to", "uploads/{{ instance.id }}.tmp", "uploads/{{ instance.id }}.tmp"),
    ("TO", "upload_to", upload_to, upload_to),
    ("CHECKSUM", "checksum", "SHA256", "sha256"),
    ("COMPLETE_EXT", "complete_ext", ".bin", ".bin"),
    ("INCOMPLETE_EXT", "incomplete_ext", ".tmp", ".tmp"),
    ("STORAGE_CLASS", "storage_class", "default", "default"),
    ("STORE", "store", "path.to.Store", "path.to.Store"),
    ("USER_RESTRICTED", "user_restricted", False, False),
    ("MAX_BYTES", "max_bytes", 1000, 1000),
    ("NAMED_URL", "named_url", "uploads-detail", "uploads-detail"),
    ("NAMED_URL", "explicit_named_url", "uploads-detail", "uploads-detail"),
    ("MAX_CHUNK_BYTES", "max_chunk_bytes", 4096, 4096),
    ("MAX_UNFINISHED_UPLOADS", "max_unfinished_uploads", 10, 10),
    ("MAX_UNFINISHED_BYTES", "max_unfinished_bytes", 2**30, 2**30),
    ("FSYNC", "fsync", True, True),
    ("LEASE_SECONDS", "lease_seconds", 5, 5),
    ("CHECKPOINT_BYTES", "checkpoint_bytes", None, None),
    ("SOCKET_READS", "socket_reads", True, True),
    ("MAX_CONCAT_PARTIALS", "max_concat_partials", 8, 8),
]


# Limits the example project sets (and the test settings inherit) over the package's defaults.
EXAMPLE_LIMITS = ("MAX_BYTES", "MAX_UNFINISHED_UPLOADS", "MAX_UNFINISHED_BYTES")


@pytest.mark.parametrize(("attribute", "default"), DEFAULTS)
def test_default(attribute: str, default: Any, settings: Any) -> None:
    for name in EXAMPLE_LIMITS:
        if hasattr(settings, f"DRF_CHUNKED_UPLOAD_{name}"):
            delattr(settings, f"DRF_CHUNKED_UPLOAD_{name}")
    assert getattr(conf, attribute) == default


@pytest.mark.parametrize(("setting", "attribute", "value", "expected"), OVERRIDES)
def test_override_is_read_on_use(setting: str, attribute: str, value: Any, expected: Any) -> None:
    before = getattr(conf, attribute)
    with override_settings(**{f"DRF_CHUNKED_UPLOAD_{setting}": value}):
        assert getattr(conf, attribute) == expected
    assert getattr(conf, attribute) == before


def test_a_new_settings_object_sees_the_same_values() -> None:
    with override_settings(DRF_CHUNKED_UPLOAD_MAX_BYTES=7):
        assert Settings().max_bytes == 7


def test_every_property_is_covered() -> None:
    properties = {name for name, value in vars(Settings).items() if isinstance(value, property)}
    assert properties == {attribute for attribute, _ in DEFAULTS} | {"storage", "metrics"}


def test_metrics_are_off_by_default(settings: Any) -> None:
    del settings.DRF_CHUNKED_UPLOAD_METRICS  # the example project turns them on
    assert conf.metrics is False
    settings.DRF_CHUNKED_UPLOAD_METRICS = True
    assert conf.metrics is True


@override_settings(DRF_CHUNKED_UPLOAD_USER_RESTRICED=False)
def test_misspelled_user_restricted_alias_is_honoured() -> None:
    assert conf.user_restricted is False


@override_settings(DRF_CHUNKED_UPLOAD_USER_RESTRICED=False, DRF_CHUNKED_UPLOAD_USER_RESTRICTED=True)
def test_correct_spelling_wins_over_the_alias() -> None:
    assert conf.user_restricted is True


def test_storage_defaults_to_default_storage() -> None:
    assert conf.storage is default_storage
    assert resolve_storage(None) is default_storage


def test_storage_from_class() -> None:
    storage = resolve_storage(LocalStorage)
    assert type(storage) is LocalStorage
    assert resolve_storage(LocalStorage) is storage  # constructed once, then cached


def test_storage_from_dotted_path() -> None:
    storage = resolve_storage(f"{__name__}.LocalStorage")
    assert type(storage) is LocalStorage


def test_storage_from_storages_alias(tmp_path: Path) -> None:
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        "uploads": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "uploads")},
        },
    }
    with override_settings(STORAGES=storages, DRF_CHUNKED_UPLOAD_STORAGE_CLASS="uploads"):
        storage = conf.storage
        assert isinstance(storage, FileSystemStorage)
        assert storage.location == str(tmp_path / "uploads")


def test_storage_instance_is_used_as_is() -> None:
    storage = InMemoryStorage()
    with override_settings(DRF_CHUNKED_UPLOAD_STORAGE_CLASS=storage):
        assert conf.storage is storage


def test_storage_from_unknown_dotted_path_raises() -> None:
    with pytest.raises(ImportError):
        resolve_storage("no.such.module.Storage")


def test_storage_from_a_class_that_is_not_a_storage_raises() -> None:
    with pytest.raises(TypeError, match="must give a Storage"):
        resolve_storage(NotAStorage)


def test_storage_from_unknown_alias_raises() -> None:
    with pytest.raises(ImportError):
        resolve_storage("no-such-alias")
