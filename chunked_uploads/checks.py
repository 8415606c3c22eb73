"""System checks for the ``DRF_CHUNKED_UPLOAD_*`` settings (ids ``chunked_uploads.E0xx``, never reused).

Registered when the app is ready; ``manage.py check`` runs them, so a typo in a setting is reported
at start-up, not as a 500 in the middle of someone's upload.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.core import checks

from .combinable_checksums import COMBINABLE_ALGORITHMS, is_combinable
from .conf import PREFIX, conf, resolve_storage
from .parts import MAX_PARTS
from .resumable_digests import digest_mode
from .stores import get_store

# Body readers hand out 1 MiB blocks: a smaller interval would check-point after every block.
CHECKPOINT_MINIMUM = 1024 * 1024


def _error(id_: int, msg: str, hint: str) -> checks.Error:
    return checks.Error(msg, hint=hint, id=f"chunked_uploads.E{id_:03d}")


@checks.register
def check_checksum(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    algorithm = conf.checksum
    if algorithm in COMBINABLE_ALGORITHMS:
        if is_combinable(algorithm):
            return []
        return [
            _error(
                1,
                f"{PREFIX}CHECKSUM is {algorithm!r}, which needs the crc32c package.",
                "pip install crc32c, or use a hashlib name such as 'md5' or 'sha256'.",
            )
        ]
    if not isinstance(algorithm, str) or algorithm not in hashlib.algorithms_available:
        return [
            _error(
                1,
                f"{PREFIX}CHECKSUM is {algorithm!r}, which hashlib does not know.",
                "Use a name from hashlib.algorithms_available, such as 'md5' or 'sha256'.",
            )
        ]
    if algorithm.startswith("shake_"):
        return [
            _error(
                1,
                f"{PREFIX}CHECKSUM is {algorithm!r}, whose digest length is variable.",
                "Use a fixed-length digest such as 'md5', 'sha1', 'sha256' or 'sha512'.",
            )
        ]
    if digest_mode(algorithm) == "streaming":
        return [
            checks.Warning(
                f"Checksum {algorithm!r} cannot be saved between requests on this platform: "
                "completion re-reads the whole file to hash it.",
                hint="Use md5, sha1, sha256 or sha512 with an OpenSSL-backed Python for O(1) "
                "completion.",
                id="chunked_uploads.W001",
            )
        ]
    return []


@checks.register(deploy=True)
def check_digest_mode(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Under ``check --deploy``, say that completion is O(1) (W001 says when it is not)."""
    algorithm = conf.checksum
    if check_checksum() or digest_mode(algorithm) != "resumable":
        return []
    return [
        checks.Info(
            f"Checksum {algorithm!r} is resumable: completion compares the saved digest "
            "and does not re-read the file.",
            id="chunked_uploads.I001",
        )
    ]


@checks.register
def check_sizes(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for id_, name, value in (
        (2, "MAX_BYTES", conf.max_bytes),
        (3, "MAX_CHUNK_BYTES", conf.max_chunk_bytes),
        (12, "MAX_UNFINISHED_UPLOADS", conf.max_unfinished_uploads),
        (13, "MAX_UNFINISHED_BYTES", conf.max_unfinished_bytes),
    ):
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            errors.append(
                _error(
                    id_, f"{PREFIX}{name} is {value!r}.", "Use None (no limit) or a positive int."
                )
            )
    return errors


@checks.register
def check_expiration(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    value = conf.expiration_delta
    if not isinstance(value, timedelta) or value <= timedelta(0):
        return [
            _error(
                4,
                f"{PREFIX}EXPIRATION_DELTA is {value!r}.",
                "Use a positive datetime.timedelta, such as timedelta(days=1).",
            )
        ]
    return []


@checks.register
def check_names(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for name, value in (
        ("PATH", conf.path),
        ("COMPLETE_EXT", conf.complete_ext),
        ("INCOMPLETE_EXT", conf.incomplete_ext),
        ("NAMED_URL", conf.named_url),
    ):
        if not isinstance(value, str):
            errors.append(_error(5, f"{PREFIX}{name} is {value!r}.", "Use a string."))
    upload_to = conf.upload_to
    if upload_to is not None and not (isinstance(upload_to, str) or callable(upload_to)):
        errors.append(
            _error(
                5,
                f"{PREFIX}TO is {upload_to!r}.",
                "Use None, a string such as 'uploads/{{ instance.id }}.part' or a callable "
                "(instance, filename) -> str.",
            )
        )
    return errors


@checks.register
def check_storage(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    try:
        resolve_storage(conf.storage_class)
    except Exception as error:  # any import or construction error is the setting's fault
        return [
            _error(
                6,
                f"{PREFIX}STORAGE_CLASS {conf.storage_class!r} cannot be used: {error}",
                "Use None (the default storage), a STORAGES alias, a Storage subclass or its "
                "dotted path.",
            )
        ]
    return []


def _is_resumable(algorithm: Any) -> bool:
    """Whether ``algorithm`` digests are saved between requests; unknown ones are E001's business."""
    try:
        return digest_mode(algorithm) == "resumable"
    except (ValueError, TypeError, AttributeError):
        return True


@checks.register
def check_store(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``STORE`` names a usable ``ChunkStore`` (E009); S3 multipart needs a resumable digest (E010)."""
    if check_storage():
        return []  # the store cannot be built without its storage; E006 says why
    try:
        store = get_store()
    except Exception as error:  # an import, option or construction error is the setting's fault
        return [
            _error(
                9,
                f"{PREFIX}STORE {conf.store!r} cannot be used: {error}",
                "Use None (chosen from the storage), a ChunkStore subclass or its dotted path, or "
                '{"BACKEND": <that>, "OPTIONS": {...}}.',
            )
        ]
    if not store.can_read_in_progress and not _is_resumable(conf.checksum):
        return [
            _error(
                10,
                f"{type(store).__name__} cannot read an upload in progress, and checksum "
                f"{conf.checksum!r} cannot be saved between requests.",
                "Use md5, sha1, sha256 or sha512 (resumable with an OpenSSL-backed Python).",
            )
        ]
    return []


@checks.register
def check_lease(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    value = conf.lease_seconds
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        return [
            _error(
                8,
                f"{PREFIX}LEASE_SECONDS is {value!r}.",
                "Use a positive number of seconds, longer than a slow client takes to send 1 MiB.",
            )
        ]
    return []


@checks.register
def check_metrics(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``METRICS`` is on but ``prometheus_client`` is not installed (E011)."""
    if conf.metrics and importlib.util.find_spec("prometheus_client") is None:
        return [
            _error(
                11,
                f"{PREFIX}METRICS is on, but prometheus_client is not installed.",
                "Install prometheus_client (pip install prometheus_client) or set "
                f"{PREFIX}METRICS = False.",
            )
        ]
    return []


@checks.register
def check_checkpoint_bytes(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``CHECKPOINT_BYTES`` is ``None`` or at least 1 MiB, one block of a body reader (E014)."""
    value = conf.checkpoint_bytes
    if value is None:
        return []
    if not isinstance(value, int) or isinstance(value, bool) or value < CHECKPOINT_MINIMUM:
        return [
            _error(
                14,
                f"{PREFIX}CHECKPOINT_BYTES is {value!r}.",
                f"Use None (no check-points) or an integer of at least {CHECKPOINT_MINIMUM} "
                "bytes (1 MiB); every check-point costs a database write, and a store write on "
                "S3 or a Django storage.",
            )
        ]
    return []


@checks.register
def check_max_concat_partials(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``MAX_CONCAT_PARTIALS`` is an integer from 1 to 10,000, the most parts of an upload (E015)."""
    value = conf.max_concat_partials
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_PARTS:
        return []
    return [
        _error(
            15,
            f"{PREFIX}MAX_CONCAT_PARTIALS is {value!r}.",
            f"Use an integer from 1 to {MAX_PARTS}: a tus final upload's partials become its "
            "stored ranges, of which an upload keeps at most that many.",
        )
    ]


@checks.register
def check_interim_responses(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``INTERIM_RESPONSES`` is a bool (E016); on, it needs gunicorn to send anything (W002)."""
    value = conf.interim_responses
    if not isinstance(value, bool):
        return [
            _error(
                16,
                f"{PREFIX}INTERIM_RESPONSES is {value!r}.",
                "Use True (send 104 interim responses under gunicorn) or False.",
            )
        ]
    if value and importlib.util.find_spec("gunicorn") is None:
        return [
            checks.Warning(
                f"{PREFIX}INTERIM_RESPONSES is on, but gunicorn is not installed: no 104 "
                "interim response can be sent.",
                hint="Serve the project with gunicorn (sync or gthread workers), or set "
                f"{PREFIX}INTERIM_RESPONSES = False; clients then resume only uploads whose "
                "creation they saw answered (see the IETF page of the docs).",
                id="chunked_uploads.W002",
            )
        ]
    return []
