"""Prometheus metrics of uploads and upload requests, and a view that exposes them.

Needs ``prometheus_client`` (the ``metrics`` extra): ``ChunkedUploadsConfig.ready()`` imports this
module only when it is installed, and its receivers record only while
``DRF_CHUNKED_UPLOAD_METRICS`` is on. Counters and the histogram are labelled by ``protocol`` (see
``telemetry.py``); they live in prometheus_client's default registry, or in its multiprocess files
when ``PROMETHEUS_MULTIPROC_DIR`` is set (several gunicorn workers). Uploads in progress are counted
in the database when scraped, so every process reports the same number.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from django.apps import apps
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from . import signals, telemetry
from .conf import conf
from .models import AbstractChunkedUpload, UploadStatus

LOGGER = logging.getLogger(__name__)
Receiver = TypeVar("Receiver", bound=Callable[..., None])

CHUNK_ACTIONS = frozenset({"create", "partial_update", "create_complete"})
# Chunk requests take from milliseconds (a small chunk on a local disk) to minutes (100 MiB
# from a slow client, or a completion that copies the file on a StorageStore).
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

UPLOADS_STARTED = Counter(
    "chunked_uploads_uploads_started", "Uploads started (first chunk stored).", ["protocol"]
)
UPLOADS_COMPLETED = Counter(
    "chunked_uploads_uploads_completed", "Uploads completed (checksum matched).", ["protocol"]
)
UPLOADS_ABORTED = Counter(
    "chunked_uploads_uploads_aborted", "Uploads aborted by their client.", ["protocol"]
)
UPLOADS_EXPIRED = Counter(
    "chunked_uploads_uploads_expired",
    "Expired uploads removed by delete_expired_uploads.",
    ["protocol"],
)
RECEIVED_BYTES = Counter(
    "chunked_uploads_received_bytes", "Bytes of acknowledged chunks.", ["protocol"]
)
REFUSED_REQUESTS = Counter(
    "chunked_uploads_requests_refused",
    "Requests to the upload views answered with an error, by error code.",
    ["protocol", "action", "code", "status"],
)
CHUNK_DURATION = Histogram(
    "chunked_uploads_chunk_request_duration_seconds",
    "Time to answer a chunk request (create, append, single shot), whatever the answer.",
    ["protocol", "action"],
    buckets=DURATION_BUCKETS,
)


def _never_raises(receiver: Receiver) -> Receiver:
    """A metric that cannot be recorded (say, ``PROMETHEUS_MULTIPROC_DIR`` names a folder that
    does not exist) is logged, never turned into a failed upload request."""

    @functools.wraps(receiver)
    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            receiver(*args, **kwargs)
        except Exception:
            LOGGER.exception("Could not record a metric in %s", receiver.__name__)

    return guarded  # type: ignore[return-value]


def _count(counter: Counter, amount: int = 1) -> None:
    if conf.metrics:
        counter.labels(protocol=telemetry.current_protocol()).inc(amount)


@_never_raises
def count_started(sender: Any, **kwargs: Any) -> None:
    _count(UPLOADS_STARTED)


@_never_raises
def count_completed(sender: Any, **kwargs: Any) -> None:
    _count(UPLOADS_COMPLETED)


@_never_raises
def count_aborted(sender: Any, **kwargs: Any) -> None:
    _count(UPLOADS_ABORTED)


@_never_raises
def count_expired(sender: Any, **kwargs: Any) -> None:
    _count(UPLOADS_EXPIRED)


@_never_raises
def count_bytes(sender: Any, start: int, end: int, **kwargs: Any) -> None:
    _count(RECEIVED_BYTES, end - start + 1)


@_never_raises
def observe_request(
    sender: Any,
    protocol: str,
    action: str | None,
    status: int,
    code: str | None,
    duration: float,
    **kwargs: Any,
) -> None:
    """``request_handled`` receiver: the duration of chunk requests, the count of refused ones."""
    if not conf.metrics:
        return
    action = action or "unknown"
    if action in CHUNK_ACTIONS:
        CHUNK_DURATION.labels(protocol=protocol, action=action).observe(duration)
    if status >= 400:
        REFUSED_REQUESTS.labels(
            protocol=protocol, action=action, code=code or "error", status=str(status)
        ).inc()


class UploadsInProgressCollector:
    """``chunked_uploads_uploads_in_progress``: incomplete, unexpired uploads, per model, counted
    in the database on each scrape (the row does not record its protocol, hence no label)."""

    name = "chunked_uploads_uploads_in_progress"

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            self.name, "Incomplete uploads that have not expired.", labels=["model"]
        )
        since = timezone.now() - conf.expiration_delta
        for model in upload_models():
            count = model._default_manager.filter(
                status=UploadStatus.UPLOADING, created_at__gt=since
            ).count()
            gauge.add_metric([model._meta.label], count)
        yield gauge


def upload_models() -> list[type[AbstractChunkedUpload]]:
    return [m for m in apps.get_models() if issubclass(m, AbstractChunkedUpload)]


def exposition_registry() -> CollectorRegistry:
    """The metrics of this process, or of every process sharing ``PROMETHEUS_MULTIPROC_DIR``,
    plus uploads in progress."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(REGISTRY)
    registry.register(UploadsInProgressCollector())
    return registry


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus' exposition of ``exposition_registry()``; mount it where only scrapers reach."""
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(exposition_registry()), content_type=content_type)


def connect() -> None:
    """Connect the receivers (``dispatch_uid``\\ s make it idempotent)."""
    for signal, receiver in (
        (signals.upload_started, count_started),
        (signals.upload_completed, count_completed),
        (signals.upload_aborted, count_aborted),
        (signals.upload_expired, count_expired),
        (signals.chunk_received, count_bytes),
        (signals.request_handled, observe_request),
    ):
        signal.connect(receiver, dispatch_uid=f"chunked_uploads.metrics.{receiver.__name__}")
