"""Tests of ``checks.py``: each check id with a bad value and a good one, and ``manage.py check``."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.files.storage import InMemoryStorage
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from chunked_uploads import checks

Check = Callable[..., list[Any]]


def ids(check: Check) -> list[str]:
    return [message.id for message in check()]


class NotAStorage:
    """A class that constructs fine but is no ``Storage``."""


BAD = [
    (checks.check_checksum, "CHECKSUM", "no-such-hash", "chunked_uploads.E001"),
    (checks.check_checksum, "CHECKSUM", 5, "chunked_uploads.E001"),
    (checks.check_checksum, "CHECKSUM", "shake_128", "chunked_uploads.E001"),
    (checks.check_checksum, "CHECKSUM", "sha3_256", "chunked_uploads.W001"),
    (checks.check_sizes, "MAX_BYTES", -1, "chunked_uploads.E002"),
    (checks.check_sizes, "MAX_BYTES", 0, "chunked_uploads.E002"),
    (checks.check_sizes, "MAX_BYTES", "10", "chunked_uploads.E002"),
    (checks.check_sizes, "MAX_BYTES", True, "chunked_uploads.E002"),
    (checks.check_sizes, "MAX_CHUNK_BYTES", -5, "chunked_uploads.E003"),
    (checks.check_sizes, "MAX_CHUNK_BYTES", 1.5, "chunked_uploads.E003"),
    (checks.check_sizes, "MAX_UNFINISHED_UPLOADS", 0, "chunked_uploads.E012"),
    (checks.check_sizes, "MAX_UNFINISHED_UPLOADS", "5", "chunked_uploads.E012"),
    (checks.check_sizes, "MAX_UNFINISHED_BYTES", -1, "chunked_uploads.E013"),
    (checks.check_sizes, "MAX_UNFINISHED_BYTES", 2.5, "chunked_uploads.E013"),
    (checks.check_expiration, "EXPIRATION_DELTA", timedelta(0), "chunked_uploads.E004"),
    (checks.check_expiration, "EXPIRATION_DELTA", timedelta(days=-1), "chunked_uploads.E004"),
    (checks.check_expiration, "EXPIRATION_DELTA", 3600, "chunked_uploads.E004"),
    (checks.check_names, "PATH", None, "chunked_uploads.E005"),
    (checks.check_names, "COMPLETE_EXT", 1, "chunked_uploads.E005"),
    (checks.check_names, "INCOMPLETE_EXT", b".part", "chunked_uploads.E005"),
    (checks.check_names, "NAMED_URL", None, "chunked_uploads.E005"),
    (checks.check_names, "TO", 42, "chunked_uploads.E005"),
    (checks.check_storage, "STORAGE_CLASS", "no.such.Storage", "chunked_uploads.E006"),
    (checks.check_storage, "STORAGE_CLASS", NotAStorage, "chunked_uploads.E006"),
    (checks.check_store, "STORE", "no.such.Store", "chunked_uploads.E009"),
    (checks.check_store, "STORE", NotAStorage, "chunked_uploads.E009"),
    (
        checks.check_store,
        "STORE",
        {
            "BACKEND": "chunked_uploads.stores.storage.StorageStore",
            "OPTIONS": {"no_such_option": 1},
        },
        "chunked_uploads.E009",
    ),
    (checks.check_lease, "LEASE_SECONDS", 0, "chunked_uploads.E008"),
    (checks.check_lease, "LEASE_SECONDS", -1.0, "chunked_uploads.E008"),
    (checks.check_lease, "LEASE_SECONDS", "60", "chunked_uploads.E008"),
    (checks.check_lease, "LEASE_SECONDS", True, "chunked_uploads.E008"),
    (checks.check_checkpoint_bytes, "CHECKPOINT_BYTES", 0, "chunked_uploads.E014"),
    (checks.check_checkpoint_bytes, "CHECKPOINT_BYTES", 4096, "chunked_uploads.E014"),
    (checks.check_checkpoint_bytes, "CHECKPOINT_BYTES", 8.0 * 2**20, "chunked_uploads.E014"),
    (checks.check_checkpoint_bytes, "CHECKPOINT_BYTES", True, "chunked_uploads.E014"),
    (checks.check_max_concat_partials, "MAX_CONCAT_PARTIALS", 0, "chunked_uploads.E015"),
    (checks.check_max_concat_partials, "MAX_CONCAT_PARTIALS", 10_001, "chunked_uploads.E015"),
    (checks.check_max_concat_partials, "MAX_CONCAT_PARTIALS", None, "chunked_uploads.E015"),
    (checks.check_max_concat_partials, "MAX_CONCAT_PARTIALS", True, "chunked_uploads.E015"),
    (checks.check_interim_responses, "INTERIM_RESPONSES", 1, "chunked_uploads.E016"),
    (checks.check_interim_responses, "INTERIM_RESPONSES", "yes", "chunked_uploads.E016"),
]

GOOD = [
    (checks.check_checksum, "CHECKSUM", "crc32c"),
    (checks.check_checksum, "CHECKSUM", "sha256"),
    (checks.check_checksum, "CHECKSUM", "SHA1"),
    (checks.check_sizes, "MAX_BYTES", 1),
    (checks.check_sizes, "MAX_CHUNK_BYTES", 10 * 1024 * 1024),
    (checks.check_sizes, "MAX_UNFINISHED_UPLOADS", 100),
    (checks.check_sizes, "MAX_UNFINISHED_BYTES", 10 * 1024**3),
    (checks.check_expiration, "EXPIRATION_DELTA", timedelta(minutes=5)),
    (checks.check_names, "PATH", "uploads/%Y"),
    (checks.check_names, "TO", "uploads/{{ instance.id }}.part"),
    (checks.check_names, "TO", lambda instance, filename: "x"),
    (checks.check_storage, "STORAGE_CLASS", "default"),
    (checks.check_storage, "STORAGE_CLASS", "django.core.files.storage.FileSystemStorage"),
    (checks.check_storage, "STORAGE_CLASS", InMemoryStorage()),
    (checks.check_store, "STORE", "chunked_uploads.stores.storage.StorageStore"),
    (checks.check_lease, "LEASE_SECONDS", 0.5),
    (checks.check_checkpoint_bytes, "CHECKPOINT_BYTES", None),
    (checks.check_checkpoint_bytes, "CHECKPOINT_BYTES", 2**20),
    (checks.check_max_concat_partials, "MAX_CONCAT_PARTIALS", 1),
    (checks.check_max_concat_partials, "MAX_CONCAT_PARTIALS", 10_000),
    (checks.check_interim_responses, "INTERIM_RESPONSES", True),  # gunicorn is installed
    (checks.check_interim_responses, "INTERIM_RESPONSES", False),
]


@pytest.mark.parametrize(("check", "setting", "value", "check_id"), BAD)
def test_bad_value_is_reported(check: Check, setting: str, value: Any, check_id: str) -> None:
    with override_settings(**{f"DRF_CHUNKED_UPLOAD_{setting}": value}):
        messages = check()
    assert [message.id for message in messages] == [check_id]
    assert messages[0].hint
    assert f"{value!r}" in messages[0].msg or type(value).__name__ in messages[0].msg


@pytest.mark.parametrize(("check", "setting", "value"), GOOD)
def test_good_value_passes(check: Check, setting: str, value: Any) -> None:
    with override_settings(**{f"DRF_CHUNKED_UPLOAD_{setting}": value}):
        assert ids(check) == []


@pytest.mark.parametrize(
    "check",
    [
        checks.check_checksum,
        checks.check_sizes,
        checks.check_expiration,
        checks.check_names,
        checks.check_storage,
        checks.check_store,
        checks.check_lease,
        checks.check_metrics,
        checks.check_checkpoint_bytes,
        checks.check_interim_responses,
    ],
)
def test_defaults_pass(check: Check) -> None:
    assert ids(check) == []


def test_both_size_settings_reported_together() -> None:
    with override_settings(DRF_CHUNKED_UPLOAD_MAX_BYTES=0, DRF_CHUNKED_UPLOAD_MAX_CHUNK_BYTES=0):
        assert ids(checks.check_sizes) == ["chunked_uploads.E002", "chunked_uploads.E003"]


def test_digest_mode_info_for_resumable_algorithm() -> None:
    assert ids(checks.check_digest_mode) == ["chunked_uploads.I001"]


@pytest.mark.parametrize("algorithm", ["sha3_256", "no-such-hash"])
def test_no_digest_mode_info_when_not_resumable(algorithm: str) -> None:
    with override_settings(DRF_CHUNKED_UPLOAD_CHECKSUM=algorithm):
        assert ids(checks.check_digest_mode) == []


def run_check(*args: str) -> str:
    """``manage.py check``; callers take ``db``: Django 6.1's JSONField check queries SQLite."""
    out, err = StringIO(), StringIO()
    call_command("check", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_manage_check_passes_by_default(db: None) -> None:
    output = run_check()
    assert "chunked_uploads" not in output


@override_settings(DRF_CHUNKED_UPLOAD_MAX_BYTES=-1)
def test_manage_check_fails_on_a_bad_setting(db: None) -> None:
    with pytest.raises(SystemCheckError, match=r"chunked_uploads\.E002"):
        run_check()


@override_settings(DRF_CHUNKED_UPLOAD_CHECKSUM="sha3_256")
def test_manage_check_warns_when_not_resumable(db: None) -> None:
    output = run_check()
    assert "chunked_uploads.W001" in output
    assert "chunked_uploads.I001" not in run_check("--deploy")


def test_manage_check_deploy_shows_the_digest_mode(db: None) -> None:
    assert "chunked_uploads.I001" in run_check("--deploy")
    assert "chunked_uploads.I001" not in run_check()


def test_metrics_on_without_prometheus_client(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None in sys.modules is how Python marks a module as absent: find_spec() returns None.
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with override_settings(DRF_CHUNKED_UPLOAD_METRICS=True):
        messages = checks.check_metrics()
    assert [message.id for message in messages] == ["chunked_uploads.E011"]
    assert "pip install prometheus_client" in (messages[0].hint or "")
    with override_settings(DRF_CHUNKED_UPLOAD_METRICS=False):
        assert ids(checks.check_metrics) == []


def test_metrics_on_with_prometheus_client() -> None:
    with override_settings(DRF_CHUNKED_UPLOAD_METRICS=True):
        assert ids(checks.check_metrics) == []


def test_crc32c_without_its_package_is_e001(settings: Any, monkeypatch: Any) -> None:
    from chunked_uploads import combinable_checksums

    settings.DRF_CHUNKED_UPLOAD_CHECKSUM = "crc32c"
    monkeypatch.setattr(combinable_checksums, "_crc32c", None)  # as on an install without it
    (message,) = checks.check_checksum()
    assert message.id == "chunked_uploads.E001"
    assert "pip install crc32c" in (message.hint or "")


def test_interim_responses_without_gunicorn_warn(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "gunicorn" else real_find_spec(name, *args),
    )
    with override_settings(DRF_CHUNKED_UPLOAD_INTERIM_RESPONSES=True):
        assert ids(checks.check_interim_responses) == ["chunked_uploads.W002"]
