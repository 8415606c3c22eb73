"""Tests of ``metrics.py``: exact counter deltas after real requests, in this process and scraped
from the example project under gunicorn (one worker, and two in multiprocess mode)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from .helpers import LIST_URL, md5, put_chunk, upload_in_chunks
from .servers import EXAMPLE, ROOT, LiveServer, live_server

NATIVE = {"protocol": "native"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

# (sample name, labels) of every figure the tests compare.
STARTED = ("chunked_uploads_uploads_started_total", NATIVE)
COMPLETED = ("chunked_uploads_uploads_completed_total", NATIVE)
ABORTED = ("chunked_uploads_uploads_aborted_total", NATIVE)
EXPIRED = ("chunked_uploads_uploads_expired_total", {"protocol": "none"})
BYTES = ("chunked_uploads_received_bytes_total", NATIVE)
OFFSET_REFUSED = (
    "chunked_uploads_requests_refused_total",
    {"protocol": "native", "action": "partial_update", "code": "offset_mismatch", "status": "400"},
)
CHECKSUM_REFUSED = (
    "chunked_uploads_requests_refused_total",
    {"protocol": "native", "action": "complete", "code": "checksum_mismatch", "status": "400"},
)
COMPLETE_REFUSED = (
    "chunked_uploads_requests_refused_total",
    {"protocol": "native", "action": "partial_update", "code": "upload_complete", "status": "400"},
)
INCOMPLETE_REFUSED = (
    "chunked_uploads_requests_refused_total",
    {"protocol": "native", "action": "complete", "code": "upload_incomplete", "status": "400"},
)
CREATES = ("chunked_uploads_chunk_request_duration_seconds_count", {**NATIVE, "action": "create"})
APPENDS = (
    "chunked_uploads_chunk_request_duration_seconds_count",
    {**NATIVE, "action": "partial_update"},
)
FIGURES = {
    "started": STARTED,
    "completed": COMPLETED,
    "aborted": ABORTED,
    "expired": EXPIRED,
    "bytes": BYTES,
    "offset_refused": OFFSET_REFUSED,
    "checksum_refused": CHECKSUM_REFUSED,
    "complete_refused": COMPLETE_REFUSED,
    "incomplete_refused": INCOMPLETE_REFUSED,
    "creates": CREATES,
    "appends": APPENDS,
}


def local_figures() -> dict[str, float]:
    """This process's figures, from prometheus_client's default registry."""
    return {
        key: REGISTRY.get_sample_value(name, labels) or 0.0
        for key, (name, labels) in FIGURES.items()
    }


def scraped_figures(text: str) -> dict[str, float]:
    """The figures of an exposition, as Prometheus would read them."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return {
        key: samples.get((name, frozenset(labels.items())), 0.0)
        for key, (name, labels) in FIGURES.items()
    }


def deltas(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: after[key] - before[key] for key in before if after[key] != before[key]}


def in_progress(text: str) -> float:
    for family in text_string_to_metric_families(text):
        if family.name == "chunked_uploads_uploads_in_progress":
            (sample,) = family.samples
            assert sample.labels == {"model": "chunked_uploads.ChunkedUpload"}
            return float(sample.value)
    raise AssertionError("no chunked_uploads_uploads_in_progress in the exposition")


# -- in this process (Django's test client) ---------------------------------------------------


def test_a_chunked_upload_is_counted(api: APIClient, payload: bytes) -> None:
    before = local_figures()
    upload_id = upload_in_chunks(api, payload).json()["id"]
    url = f"{LIST_URL}{upload_id}/"
    assert put_chunk(api, url, b"x", 5, len(payload)).status_code == 400
    assert api.post(url, {"md5": "0" * 32}).status_code == 400
    assert api.post(url, {"md5": md5(payload)}).status_code == 200
    assert deltas(before, local_figures()) == {
        "started": 1,
        "completed": 1,
        "bytes": 300_000,
        "offset_refused": 1,
        "checksum_refused": 1,
        "creates": 1,
        "appends": 3,  # two acknowledged, one refused: every chunk request is timed
    }


def test_a_single_shot_is_counted(api: APIClient, payload: bytes) -> None:
    name = "chunked_uploads_chunk_request_duration_seconds_count"
    labels = {**NATIVE, "action": "create_complete"}
    shots = REGISTRY.get_sample_value(name, labels) or 0.0
    before = local_figures()
    body = {"file": SimpleUploadedFile("f.bin", payload), "md5": md5(payload)}
    assert api.post(LIST_URL, body).status_code == 200
    assert deltas(before, local_figures()) == {"started": 1, "completed": 1, "bytes": 300_000}
    assert REGISTRY.get_sample_value(name, labels) == shots + 1


def test_abort_and_expiry_are_counted(api: APIClient) -> None:
    first = put_chunk(api, LIST_URL, b"abc", 0, 6).json()["id"]
    put_chunk(api, LIST_URL, b"abc", 0, 6)
    before = local_figures()
    assert api.delete(f"{LIST_URL}{first}/").status_code == 204
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        call_command("delete_expired_uploads", stdout=StringIO())
    assert deltas(before, local_figures()) == {"aborted": 1, "expired": 1}


def test_a_dry_run_expires_nothing(api: APIClient) -> None:
    put_chunk(api, LIST_URL, b"abc", 0, 6)
    before = local_figures()
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        call_command("delete_expired_uploads", "--dry-run", stdout=StringIO())
    assert deltas(before, local_figures()) == {}


@override_settings(DRF_CHUNKED_UPLOAD_METRICS=False)
def test_nothing_is_recorded_while_metrics_are_off(api: APIClient, payload: bytes) -> None:
    before = local_figures()
    upload_id = upload_in_chunks(api, payload).json()["id"]
    assert put_chunk(api, f"{LIST_URL}{upload_id}/", b"x", 5, len(payload)).status_code == 400
    assert deltas(before, local_figures()) == {}


def test_the_view_counts_uploads_in_progress(api: APIClient, client: Any) -> None:
    assert in_progress(client.get("/metrics/").content.decode()) == 0
    put_chunk(api, LIST_URL, b"abc", 0, 6)
    done = put_chunk(api, LIST_URL, b"abc", 0, 3).json()["id"]
    assert api.post(f"{LIST_URL}{done}/", {"md5": md5(b"abc")}).status_code == 200
    response = client.get("/metrics/")
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert in_progress(response.content.decode()) == 1  # the completed one is not
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert in_progress(client.get("/metrics/").content.decode()) == 0  # nor an expired one


def test_the_view_speaks_openmetrics(db: None, client: Any) -> None:
    response = client.get("/metrics/", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.decode().endswith("# EOF\n")


def test_inert_without_prometheus_client(tmp_path: Path) -> None:
    """With prometheus_client absent the app neither imports ``metrics.py`` nor fails."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["prometheus_client"] = None  # how Python marks a module as absent
        import django
        from django.conf import settings
        django.setup()
        from django.core.management import call_command
        from django.test.utils import setup_test_environment
        setup_test_environment()
        from django.test import Client
        call_command("migrate", verbosity=0)
        assert Client().get("/api/uploads/").status_code == 401
        assert "chunked_uploads.metrics" not in sys.modules
        from chunked_uploads.checks import check_metrics
        assert check_metrics() == []  # the example project turns metrics on only when installed
        settings.DRF_CHUNKED_UPLOAD_METRICS = True
        assert [m.id for m in check_metrics()] == ["chunked_uploads.E011"]
        print("inert")
        """
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "demo.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_MEDIA_ROOT": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(EXAMPLE), str(ROOT)]),
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "inert", result.stderr
    # The example project mounts /metrics/ only with prometheus_client: no URL to fail either.


# -- scraped from gunicorn ----------------------------------------------------------------------


def scrape(server: LiveServer) -> str:
    response = httpx.get(server.url + "/metrics/", timeout=30)
    assert response.status_code == 200
    return response.text


def chunked_upload(http: httpx.Client, data: bytes, chunk: int) -> str:
    """Upload ``data`` in chunks of ``chunk`` bytes and complete it; the upload's id."""
    url = "/api/uploads/"
    for start in range(0, len(data), chunk):
        part = data[start : start + chunk]
        headers = {"Content-Range": f"bytes {start}-{start + len(part) - 1}/{len(data)}"}
        response = http.put(url, files={"file": ("f.bin", part)}, headers=headers)
        assert response.status_code == 200, response.text
        url = response.json()["url"]
    response = http.post(url, data={"md5": hashlib.md5(data).hexdigest()})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def traffic(server: LiveServer) -> None:
    """Two completed uploads (3 + 2 chunks), a chunk for a complete upload, an offset mismatch,
    a completion too early and an abort."""
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=30) as http:
        chunked_upload(http, os.urandom(250_000), 100_000)
        upload_id = chunked_upload(http, os.urandom(150_000), 100_000)
        url = f"/api/uploads/{upload_id}/"
        raw = {"Content-Type": "application/octet-stream", "Content-Range": "bytes 0-0/150000"}
        refused = http.put(url, content=b"x", headers=raw)
        assert refused.json()["code"] == "upload_complete"
        response = http.put(
            "/api/uploads/",
            files={"file": ("f.bin", b"abc")},
            headers={"Content-Range": "bytes 0-2/9"},
        )
        url = response.json()["url"]
        bad = http.put(
            url, files={"file": ("f.bin", b"abc")}, headers={"Content-Range": "bytes 4-6/9"}
        )
        assert bad.json()["code"] == "offset_mismatch"
        assert http.post(url, data={"md5": "0" * 32}).json()["code"] == "upload_incomplete"
        assert http.delete(url).status_code == 204


EXPECTED = {
    "started": 3,
    "completed": 2,
    "aborted": 1,
    "bytes": 400_003,
    "offset_refused": 1,
    "complete_refused": 1,
    "incomplete_refused": 1,
    "creates": 3,
    "appends": 5,  # 2 + 1 acknowledged, one refused as complete, one offset mismatch
}


@pytest.fixture
def one_worker() -> Iterator[LiveServer]:
    with live_server(workers=1) as server:
        yield server


def test_scraped_from_one_worker(one_worker: LiveServer) -> None:
    before = scrape(one_worker)
    traffic(one_worker)
    after = scrape(one_worker)
    assert deltas(scraped_figures(before), scraped_figures(after)) == EXPECTED
    assert in_progress(after) == 0


def worker_files(folder: Path) -> set[str]:
    """The worker pids that wrote counter files in a multiprocess folder."""
    return {path.stem.rsplit("_", 1)[1] for path in folder.glob("counter_*.db")}


def test_scraped_from_two_workers_in_multiprocess_mode(tmp_path: Path) -> None:
    folder = tmp_path / "prometheus"
    folder.mkdir()
    with live_server(workers=2, environment={"PROMETHEUS_MULTIPROC_DIR": str(folder)}) as server:
        before = scraped_figures(scrape(server))
        # The sync workers close every connection, so the requests spread, but which worker
        # accepts each is the kernel's choice: repeat (bounded) until both have served some.
        rounds = 0
        while rounds < 3 or (rounds < 12 and len(worker_files(folder)) < 2):
            traffic(server)
            rounds += 1
        # Each worker that recorded something keeps its own files: both served requests.
        assert len(worker_files(folder)) >= 2
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=30) as http:
            left = http.put(
                "/api/uploads/",
                files={"file": ("f.bin", b"abc")},
                headers={"Content-Range": "bytes 0-2/6"},
            ).json()["id"]
        assert in_progress(scrape(server)) == 1
        backdate = (
            "from datetime import timedelta; from chunked_uploads.models import ChunkedUpload as M;"
            f" u = M.objects.get(pk='{left}');"
            " M.objects.filter(pk=u.pk).update(created_at=u.created_at - timedelta(days=2))"
        )
        server.manage("shell", "-c", backdate)
        server.manage("delete_expired_uploads")  # another process, the same multiprocess folder
        after = scrape(server)
    expected = {key: rounds * value for key, value in EXPECTED.items()}
    expected.update(
        started=expected["started"] + 1,
        bytes=expected["bytes"] + 3,
        creates=expected["creates"] + 1,
    )
    assert deltas(before, scraped_figures(after)) == {**expected, "expired": 1}
    assert in_progress(after) == 0


def test_an_unusable_metrics_folder_does_not_stop_the_clean_up(one_worker: LiveServer) -> None:
    with httpx.Client(base_url=one_worker.url, headers=one_worker.headers, timeout=30) as http:
        headers = {"Content-Range": "bytes 0-2/6"}
        left = http.put("/api/uploads/", files={"file": ("f.bin", b"abc")}, headers=headers)
    backdate = (
        "from datetime import timedelta; from chunked_uploads.models import ChunkedUpload as M;"
        f" u = M.objects.get(pk='{left.json()['id']}');"
        " M.objects.filter(pk=u.pk).update(created_at=u.created_at - timedelta(days=2))"
    )
    one_worker.manage("shell", "-c", backdate)
    environment = {**one_worker.environment, "PROMETHEUS_MULTIPROC_DIR": "/nonexistent/metrics"}
    command = [sys.executable, str(EXAMPLE / "manage.py"), "delete_expired_uploads"]
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "1 incomplete uploads were deleted." in result.stdout
    assert "Could not record a metric in count_expired" in result.stderr
