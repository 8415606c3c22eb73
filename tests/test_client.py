"""``chunked_uploads.client`` against a real server (pytest-django's ``live_server``)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.contrib.auth import get_user_model
from rest_framework.authentication import BasicAuthentication

from chunked_uploads import client, signals
from chunked_uploads.models import ChunkedUpload
from chunked_uploads.routers import ChunkedUploadRouter
from chunked_uploads.views import ChunkedUploadViewSet

from .helpers import free_port, stored_bytes

pytestmark = pytest.mark.django_db(transaction=True)

CHUNK = 64 * 1024


class Interrupted(Exception):
    """Stands for the process dying (Ctrl-C, a crash) in the middle of an upload."""


def upload_until_interrupted(
    path: Path, list_url: str, token: Any, offset: int, state_file: Path | None = None
) -> None:
    """Start uploading ``path`` and let the client die once ``offset`` bytes were acknowledged."""
    with pytest.raises(Interrupted):
        client.upload(
            path,
            list_url,
            chunk_size=CHUNK,
            auth=token,
            state_file=state_file,
            progress=interrupt_at(offset),
        )


def interrupt_at(offset: int) -> client.Progress:
    """A progress callback that dies once the server acknowledged ``offset`` bytes.

    ``offset`` is reported twice: when the chunk's last byte is sent, then when it is acknowledged.
    """
    seen: list[int] = []

    def progress(sent: int, total: int) -> None:
        seen.append(sent)
        if seen.count(offset) == 2:
            raise Interrupted()

    return progress


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(5 * CHUNK + 1234))
    return path


def test_upload_sends_chunks_and_completes(
    token: Any, list_url: str, data_file: Path, chunks_seen: list[tuple[int, int]]
) -> None:
    reports: list[tuple[int, int]] = []
    result = client.upload(
        data_file,
        list_url,
        chunk_size=CHUNK,
        auth=token,
        progress=lambda sent, total: reports.append((sent, total)),
    )
    content = data_file.read_bytes()
    assert result.status == "complete"
    assert result.offset == result.size == len(content)
    assert result.filename == "data.bin"
    assert result.url == f"{list_url}{result.id}/"
    assert stored_bytes(ChunkedUpload.objects.get(pk=result.id)) == content
    assert ChunkedUpload.objects.get(pk=result.id).checksum == hashlib.md5(content).hexdigest()
    assert [start for start, _ in chunks_seen] == list(range(0, len(content), CHUNK))
    assert reports[-1] == (len(content), len(content))
    assert [sent for sent, _ in reports] == sorted(sent for sent, _ in reports)


def test_multipart_bodies_and_a_unicode_name(token: Any, list_url: str, data_file: Path) -> None:
    result = client.upload(
        data_file, list_url, chunk_size=CHUNK, auth=token, multipart=True, filename="été.bin"
    )
    assert result.filename == "été.bin"
    assert stored_bytes(ChunkedUpload.objects.get(pk=result.id)) == data_file.read_bytes()


def test_file_object_and_empty_file(token: Any, list_url: str, tmp_path: Path) -> None:
    with (tmp_path / "empty.bin").open("w+b") as empty:
        result = client.upload(empty, list_url, auth=token)
    assert result.status == "complete"
    assert result.size == 0
    assert stored_bytes(ChunkedUpload.objects.get(pk=result.id)) == b""


def test_server_failure_mid_upload_is_retried_from_the_servers_offset(
    token: Any, list_url: str, data_file: Path, chunks_seen: list[tuple[int, int]]
) -> None:
    failures: list[int] = []

    def fail_once(sender: Any, upload: Any, start: int, end: int, **kwargs: Any) -> None:
        # The third chunk is stored and acknowledged in the database, but the response is a 500:
        # the client must ask for the offset instead of sending that chunk again.
        if start == 2 * CHUNK and not failures:
            failures.append(start)
            raise RuntimeError("injected failure after the chunk was stored")

    signals.chunk_received.connect(fail_once)
    try:
        result = client.upload(data_file, list_url, chunk_size=CHUNK, auth=token, backoff=0.01)
    finally:
        signals.chunk_received.disconnect(fail_once)
    content = data_file.read_bytes()
    assert failures == [2 * CHUNK]
    assert [start for start, _ in chunks_seen] == list(range(0, len(content), CHUNK))
    assert stored_bytes(ChunkedUpload.objects.get(pk=result.id)) == content


def test_busy_upload_is_retried(token: Any, list_url: str, data_file: Path) -> None:
    calls: list[int] = []

    def busy_twice(sender: Any, upload: Any, start: int, end: int, **kwargs: Any) -> None:
        # Hold the lease as a concurrent request would, so the next chunk is answered 409.
        if start == CHUNK and len(calls) < 2:
            calls.append(start)
            ChunkedUpload.objects.filter(pk=upload.pk).update(
                lease_token="00000000-0000-0000-0000-000000000001",
                lease_expires_at="2999-01-01T00:00:00Z",
            )
        elif calls and start == 2 * CHUNK:
            calls.append(start)

    def release(request: httpx.Request) -> None:
        # The client asks for the offset after a 409: free the lease at that moment.
        if request.method == "GET":
            ChunkedUpload.objects.update(lease_token=None, lease_expires_at=None)

    signals.chunk_received.connect(busy_twice)
    http = httpx.Client(auth=token, event_hooks={"request": [release]})
    try:
        result = client.upload(data_file, list_url, chunk_size=CHUNK, backoff=0.01, http=http)
    finally:
        signals.chunk_received.disconnect(busy_twice)
        http.close()
    assert calls == [CHUNK, 2 * CHUNK]
    assert stored_bytes(ChunkedUpload.objects.get(pk=result.id)) == data_file.read_bytes()


def test_interrupted_process_resumes_from_the_state_file(
    token: Any,
    list_url: str,
    data_file: Path,
    tmp_path: Path,
    chunks_seen: list[tuple[int, int]],
) -> None:
    state_file = tmp_path / "state.json"

    upload_until_interrupted(data_file, list_url, token, 3 * CHUNK, state_file=state_file)
    state = json.loads(state_file.read_text())
    upload = ChunkedUpload.objects.get()
    assert state["upload_url"] == f"{list_url}{upload.pk}/"
    assert state["file"]["size"] == data_file.stat().st_size
    assert upload.offset == 3 * CHUNK

    result = client.upload(data_file, list_url, chunk_size=CHUNK, auth=token, state_file=state_file)
    content = data_file.read_bytes()
    assert str(result.id) == str(upload.pk)
    # Every chunk was sent once: the second run started where the first one stopped.
    assert [start for start, _ in chunks_seen] == list(range(0, len(content), CHUNK))
    assert stored_bytes(ChunkedUpload.objects.get(pk=result.id)) == content
    assert not state_file.exists()


def test_state_of_another_file_version_is_ignored(
    token: Any, list_url: str, data_file: Path, tmp_path: Path
) -> None:
    state_file = tmp_path / "state.json"
    upload_until_interrupted(data_file, list_url, token, CHUNK, state_file=state_file)
    first = ChunkedUpload.objects.get()
    data_file.write_bytes(os.urandom(2 * CHUNK))  # same path, new content: a new upload
    result = client.upload(data_file, list_url, chunk_size=CHUNK, auth=token, state_file=state_file)
    assert str(result.id) != str(first.pk)
    assert stored_bytes(ChunkedUpload.objects.get(pk=result.id)) == data_file.read_bytes()


def test_state_of_an_aborted_upload_starts_over(
    token: Any, list_url: str, data_file: Path, tmp_path: Path
) -> None:
    state_file = tmp_path / "state.json"
    upload_until_interrupted(data_file, list_url, token, CHUNK, state_file=state_file)
    upload_url = json.loads(state_file.read_text())["upload_url"]
    assert client.status(upload_url, auth=token).offset == CHUNK
    client.abort(upload_url, auth=token)
    assert not ChunkedUpload.objects.exists()
    result = client.upload(data_file, list_url, chunk_size=CHUNK, auth=token, state_file=state_file)
    assert stored_bytes(ChunkedUpload.objects.get(pk=result.id)) == data_file.read_bytes()


def test_offset_mismatch_moves_to_the_expected_offset(
    token: Any, list_url: str, data_file: Path
) -> None:
    content = data_file.read_bytes()
    upload_until_interrupted(data_file, list_url, token, CHUNK)
    upload = ChunkedUpload.objects.get()
    upload_url = f"{list_url}{upload.pk}/"
    # Another client sent the second chunk meanwhile; this one still believes the offset is 0.
    with httpx.Client(auth=token) as http:
        response = http.put(
            upload_url,
            content=content[CHUNK : 2 * CHUNK],
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"bytes {CHUNK}-{2 * CHUNK - 1}/{len(content)}",
            },
        )
        assert response.status_code == 200
    statuses: list[int] = []
    hooks = {"response": [lambda response: statuses.append(response.status_code)]}
    with httpx.Client(auth=token, event_hooks=hooks) as http, data_file.open("rb") as file:
        uploader = client.ChunkedUploader(
            http,
            file,
            list_url,
            filename="data.bin",
            chunk_size=CHUNK,
            checksum="md5",
            multipart=False,
            progress=None,
            state=None,
            retries=2,
            backoff=0.01,
        )
        uploader.upload_url = upload_url  # as if resumed, but at a stale offset (0)
        result = uploader.run()
    assert statuses[0] == 400  # offset_mismatch, then straight to expected_offset
    assert len(statuses) == 1 + 4 + 1  # the refusal, the 4 chunks left, the completion
    assert stored_bytes(ChunkedUpload.objects.get(pk=result.id)) == content


def test_wrong_algorithm_is_a_clear_error(token: Any, list_url: str, data_file: Path) -> None:
    with pytest.raises(client.UploadError) as error:
        client.upload(data_file, list_url, chunk_size=4 * CHUNK, auth=token, checksum="sha256")
    assert error.value.code == "checksum_required"
    assert error.value.status_code == 400


def test_refused_request_is_not_retried(list_url: str, data_file: Path) -> None:
    with pytest.raises(client.UploadError) as error:
        client.upload(data_file, list_url, auth=client.TokenAuth("not-a-token"))
    assert error.value.status_code == 401


def test_network_errors_are_retried_then_given_up(data_file: Path, unused_port: int) -> None:
    with pytest.raises(client.UploadError, match="giving up after 2 retries: ConnectError"):
        client.upload(
            data_file, f"http://127.0.0.1:{unused_port}/api/uploads/", retries=2, backoff=0.001
        )


@pytest.fixture
def unused_port() -> int:
    return free_port()


def test_the_client_imports_nothing_from_the_server_side() -> None:
    """The client and its command line run where neither Django nor DRF is installed."""
    script = (
        "import sys, chunked_uploads.client, chunked_uploads.client.cli, chunked_uploads.__main__; "
        "print(sorted({name.split('.')[0] for name in sys.modules}))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = done.stdout
    assert "'httpx'" in loaded  # the client really was imported
    assert "'django'" not in loaded
    assert "'rest_framework'" not in loaded


def test_missing_httpx_is_a_clear_import_error() -> None:
    script = "import sys; sys.modules['httpx'] = None; import chunked_uploads.client"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 1
    assert (
        "chunked_uploads.client needs httpx, which is not installed: pip install 'httpx>=0.27'"
        in done.stderr
    )
    main = "import sys, runpy; sys.modules['httpx'] = None; runpy.run_module('chunked_uploads', run_name='__main__')"
    done = subprocess.run([sys.executable, "-c", main, "upload"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr == (
        "error: chunked-uploads needs httpx, which is not installed:"
        f" {sys.executable} -m pip install 'httpx>=0.27'\n"
    )


def test_lost_completion_answer_is_recovered(token: Any, list_url: str, data_file: Path) -> None:
    lost: list[str] = []

    def lose_first_completion_answer(response: httpx.Response) -> None:
        # The server completed the upload; the client never hears it (a dropped connection).
        if response.request.method == "POST" and not lost:
            lost.append(str(response.request.url))
            raise httpx.ReadError("connection lost", request=response.request)

    hooks = {"response": [lose_first_completion_answer]}
    with httpx.Client(auth=token, event_hooks=hooks) as http:
        result = client.upload(data_file, list_url, chunk_size=CHUNK, http=http, backoff=0.01)
    assert lost == [result.url]
    assert result.status == "complete"
    assert stored_bytes(ChunkedUpload.objects.get(pk=result.id)) == data_file.read_bytes()


def lose_first_creation_answer(lost: list[str]) -> Any:
    """An httpx response hook: the server made the upload, the client never hears it."""

    def hook(response: httpx.Response) -> None:
        request = response.request
        creation = request.method in ("PUT", "POST") and request.url.path.endswith("/uploads/")
        if creation and not lost:
            lost.append(request.headers["Idempotency-Key"])
            response.read()
            raise httpx.ReadError("connection lost", request=request)

    return hook


@pytest.mark.parametrize("size", [3 * CHUNK + 5, 0], ids=["chunks", "empty-file"])
def test_lost_creation_answer_makes_no_second_upload(
    token: Any, list_url: str, tmp_path: Path, size: int
) -> None:
    """The retry carries the same ``Idempotency-Key``: the server answers with the upload the
    first request made (its first chunk stored once), instead of making a second one."""
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(size))
    lost: list[str] = []
    hooks = {"response": [lose_first_creation_answer(lost)]}
    with httpx.Client(auth=token, event_hooks=hooks) as http:
        result = client.upload(path, list_url, chunk_size=CHUNK, http=http, backoff=0.01)
    assert len(lost) == 1 and lost[0].startswith('"')
    assert result.status == "complete"
    assert list(ChunkedUpload.objects.values_list("pk", flat=True)) == [uuid.UUID(result.id)]
    assert stored_bytes(ChunkedUpload.objects.get()) == path.read_bytes()


def test_saved_upload_that_completed_is_returned(
    token: Any, list_url: str, data_file: Path, tmp_path: Path
) -> None:
    state_file = tmp_path / "state.json"
    first = client.upload(data_file, list_url, chunk_size=CHUNK, auth=token, state_file=state_file)
    assert not state_file.exists()
    # A crash between the completion and the removal of the state file:
    client.StateFile(state_file, list_url, client.FileIdentity.of(data_file)).save(first.url)
    again = client.upload(data_file, list_url, chunk_size=CHUNK, auth=token, state_file=state_file)
    assert again.id == first.id
    assert ChunkedUpload.objects.count() == 1
    assert not state_file.exists()


class BasicAuthViewSet(ChunkedUploadViewSet):
    authentication_classes = [BasicAuthentication]


basic_router = ChunkedUploadRouter()
basic_router.register("api/uploads", BasicAuthViewSet, basename="chunkedupload")
urlpatterns = basic_router.urls  # this module is the URLconf of the next test


def test_basic_auth_with_a_user_password_tuple(
    live_server: Any, settings: Any, data_file: Path
) -> None:
    settings.ROOT_URLCONF = __name__
    get_user_model().objects.create_user("erin", password="erin-password")
    result = client.upload(
        data_file, f"{live_server.url}/api/uploads/", auth=("erin", "erin-password")
    )
    assert ChunkedUpload.objects.get(pk=result.id).user.username == "erin"
    assert stored_bytes(ChunkedUpload.objects.get(pk=result.id)) == data_file.read_bytes()


def test_failed_completion_hook_is_retried_and_then_reported(
    token: Any, list_url: str, data_file: Path, tmp_path: Path
) -> None:
    """A completion hook that raises leaves the upload incomplete: the client's retry runs it
    again, and a hook that keeps failing ends in an error (CLI exit 1), never a false success."""
    calls: list[str] = []

    def hook(sender: Any, upload: Any, **kwargs: Any) -> None:
        calls.append(str(upload.pk))
        if len(calls) == 1 or upload.filename == "always.bin":
            raise RuntimeError("the app's completion hook failed")

    signals.upload_completed.connect(hook, dispatch_uid="flaky-hook")
    try:
        result = client.upload(data_file, list_url, chunk_size=CHUNK, auth=token, backoff=0.01)
        assert result.status == "complete"
        assert calls == [result.id, result.id]
        calls.clear()
        always = tmp_path / "always.bin"
        always.write_bytes(data_file.read_bytes())
        with pytest.raises(client.UploadError, match="giving up after 2 retries"):
            client.upload(always, list_url, auth=token, retries=2, backoff=0.01)
        (upload,) = ChunkedUpload.objects.filter(filename="always.bin")
        assert upload.status == "uploading"
        assert len(calls) == 3
        from chunked_uploads.client import cli

        argv = ["upload", str(always), "--url", list_url, "--token", token.header.split()[1]]
        argv += ["--retries", "1", "--state-file", str(tmp_path / "state.json")]
        assert cli.main(argv) == 1
    finally:
        signals.upload_completed.disconnect(dispatch_uid="flaky-hook")


@pytest.mark.urls("tests.urls_hooks")
def test_field_name_for_multipart_chunks_and_the_single_shot(
    token: Any, live_server: Any, data_file: Path, tmp_path: Path
) -> None:
    """A view with another ``field_name`` (``the_file``): chunks and an empty file's single shot."""
    url = f"{live_server.url}/hooks/field/"
    options: dict[str, Any] = {"auth": token, "field_name": "the_file", "multipart": True}
    result = client.upload(data_file, url, chunk_size=CHUNK, **options)
    assert stored_bytes(ChunkedUpload.objects.get(pk=result.id)) == data_file.read_bytes()
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    for multipart in (True, False):  # the single shot is multipart even in raw mode
        options["multipart"] = multipart
        assert client.upload(empty, url, **options).status == "complete"
    with pytest.raises(client.UploadError) as error:
        client.upload(empty, url, auth=token)
    assert error.value.code == "no_chunk"


def test_the_servers_checksum_algorithm_is_used(
    token: Any, list_url: str, data_file: Path, tmp_path: Path, settings: Any
) -> None:
    """The client learns the algorithm from the first answer, not from a refused completion."""
    settings.DRF_CHUNKED_UPLOAD_CHECKSUM = "sha256"
    completions: list[int] = []

    def count(response: httpx.Response) -> None:
        if response.request.method == "POST":
            completions.append(response.status_code)

    with httpx.Client(auth=token, event_hooks={"response": [count]}) as http:
        result = client.upload(data_file, list_url, chunk_size=CHUNK, http=http)
        content = data_file.read_bytes()
        assert (
            ChunkedUpload.objects.get(pk=result.id).checksum == hashlib.sha256(content).hexdigest()
        )
        assert completions == [200]
        empty = tmp_path / "empty.bin"
        empty.write_bytes(b"")
        assert client.upload(empty, list_url, http=http).status == "complete"
    assert completions == [200, 400, 200]  # the empty file's first try names md5: nothing kept
