"""``python -m chunked_uploads`` as a user runs it: a subprocess against a gunicorn server."""

from __future__ import annotations

import io
import json
import os
import pty
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from chunked_uploads.__main__ import EXIT_MISSING_DEPENDENCY
from chunked_uploads.client import cli

from .helpers import free_port

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example_project"
CHUNK = 128 * 1024


@dataclass
class Server:
    url: str
    token: str
    media: Path

    @property
    def list_url(self) -> str:
        return f"{self.url}/api/uploads/"

    def stored(self, upload_id: str) -> bytes:
        (path,) = self.media.rglob(f"{upload_id}.*")
        return path.read_bytes()


def wait_until_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("gunicorn did not start")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The example project under gunicorn, on a temporary SQLite file and media folder."""
    root = tmp_path_factory.mktemp("cli-server")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{root / 'db.sqlite3'}",
        "DJANGO_MEDIA_ROOT": str(root / "media"),
        "DJANGO_SETTINGS_MODULE": "demo.settings",
        "PYTHONPATH": str(EXAMPLE),
    }
    manage = [sys.executable, str(EXAMPLE / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, check=True, capture_output=True)
    token = (
        subprocess.run(
            [*manage, "create_demo_user", "--quiet"], env=env, check=True, capture_output=True
        )
        .stdout.decode()
        .strip()
    )
    port = free_port()
    gunicorn = [sys.executable, "-m", "gunicorn", "demo.wsgi", "--workers", "2"]
    process = subprocess.Popen(
        [*gunicorn, "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        env=env,
        cwd=EXAMPLE,
    )
    try:
        wait_until_listening(port, process)
        yield Server(f"http://127.0.0.1:{port}", token, root / "media")
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "chunked_uploads", *args]


def cli_env(cache: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "CHUNKED_UPLOADS_TOKEN"}
    return {**env, "XDG_CACHE_HOME": str(cache)}


def upload_args(server: Server, path: Path, *extra: str) -> list[str]:
    return command(
        "upload", str(path), "--url", server.list_url, "--token", server.token,
        "--chunk-size", "128KiB", "--retries", "3", *extra,
    )  # fmt: skip


def test_upload_prints_the_completed_upload(server: Server, tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "small.bin"
    path.write_bytes(os.urandom(3 * CHUNK + 5))
    done = subprocess.run(
        upload_args(server, path), env=cli_env(cache), capture_output=True, check=True
    )
    record = json.loads(done.stdout)
    assert record["status"] == "complete"
    assert record["size"] == path.stat().st_size
    assert done.stderr == b""  # not a terminal: quiet
    assert server.stored(record["id"]) == path.read_bytes()
    assert list((cache / "chunked-uploads").iterdir()) == []  # the state file is gone


def test_sigint_halfway_then_the_same_command_resumes(
    server: Server, tmp_path: Path, cache: Path
) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(32 * CHUNK + 77))
    args = upload_args(server, path, "--limit-rate", "1MiB")  # ~4 s: time to interrupt it
    process = subprocess.Popen(
        args,
        env=cli_env(cache),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # A shell's background job ignores SIGINT and its children inherit that (Python then
        # installs no KeyboardInterrupt handler): give the CLI the disposition a terminal gives.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    upload_url = wait_for_progress(server, cache, process, at_least=4 * CHUNK)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == cli.EXIT_INTERRUPTED
    assert stdout == b""
    message = stderr.decode()
    assert upload_url in message
    assert "Run the same command again to resume it" in message
    assert server.token not in message  # secrets are masked in the printed command
    left = status(server, upload_url)
    assert 4 * CHUNK <= left["offset"] < path.stat().st_size

    done = subprocess.run(upload_args(server, path), env=cli_env(cache), capture_output=True)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["url"] == upload_url  # the same upload, resumed
    assert server.stored(record["id"]) == path.read_bytes()


def wait_for_progress(
    server: Server, cache: Path, process: subprocess.Popen[bytes], at_least: int
) -> str:
    """The upload's URL, once the server has acknowledged ``at_least`` bytes of it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        states = list((cache / "chunked-uploads").glob("*.json"))
        if states:
            upload_url = json.loads(states[0].read_text())["upload_url"]
            if status(server, upload_url)["offset"] >= at_least:
                return str(upload_url)
        time.sleep(0.05)
    raise TimeoutError("the upload made no progress")


def status(server: Server, upload_url: str) -> dict[str, object]:
    response = httpx.get(upload_url, headers={"Authorization": f"Token {server.token}"})
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


def test_progress_bar_on_a_terminal(server: Server, tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "tty.bin"
    path.write_bytes(os.urandom(8 * CHUNK))
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            upload_args(server, path, "--chunk-size", "64KiB"),
            env=cli_env(cache),
            stdout=subprocess.PIPE,
            stderr=terminal,
            check=True,
        )
        os.close(terminal)
        output = read_all(controller)
    finally:
        os.close(controller)
    assert json.loads(done.stdout)["status"] == "complete"
    last = output.replace("\r\n", "\n").split("\r")[-1]
    assert last.startswith("100.0% [" + "#" * 30 + "] 1.0 MiB / 1.0 MiB")
    assert "/s  ETA 0:00:00" in last


def read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            block = os.read(fd, 65536)
        except OSError:  # EIO: the terminal's other end is closed
            break
        if not block:
            break
        chunks.append(block)
    return b"".join(chunks).decode()


def test_status_and_abort(server: Server, tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "abort.bin"
    path.write_bytes(os.urandom(2 * CHUNK))
    response = httpx.put(
        server.list_url,
        content=path.read_bytes()[:CHUNK],
        headers={
            "Authorization": f"Token {server.token}",
            "Content-Type": "application/octet-stream",
            "Content-Range": f"bytes 0-{CHUNK - 1}/{2 * CHUNK}",
        },
    )
    upload_url = response.json()["url"]
    env = {**cli_env(cache), "CHUNKED_UPLOADS_TOKEN": server.token}
    shown = subprocess.run(command("status", upload_url), env=env, capture_output=True, check=True)
    assert json.loads(shown.stdout)["offset"] == CHUNK
    aborted = subprocess.run(command("abort", upload_url), env=env, capture_output=True)
    assert aborted.returncode == 0
    assert not list(server.media.rglob(f"{response.json()['id']}.*"))
    again = subprocess.run(command("status", upload_url), env=env, capture_output=True)
    assert again.returncode == cli.EXIT_ERROR
    assert b"error: " in again.stderr and b"(not_found)" in again.stderr


def test_wrong_credentials_fail_clearly(server: Server, tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "denied.bin"
    path.write_bytes(b"x" * 10)
    args = command("upload", str(path), "--url", server.list_url, "--token", "wrong")
    done = subprocess.run(args, env=cli_env(cache), capture_output=True)
    assert done.returncode == cli.EXIT_ERROR
    assert done.stderr == b"error: Invalid token. (authentication_failed)\n"


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("8MiB", 8 * 1024**2),
        ("512k", 512_000),
        ("1MB", 1_000_000),
        ("65536", 65536),
        ("2 gib", 2 * 1024**3),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert cli.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "0", "8 MiBs", "-1", "1.5M"])
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(Exception, match="not a size"):
        cli.parse_size(text)


def test_progress_bar_rendering() -> None:
    ticks = iter([0.0, 0.0, 2.0, 2.05, 4.0])
    stream = io.StringIO()
    bar = cli.ProgressBar(stream, clock=lambda: next(ticks))
    bar(0, 4 * 1024**2)  # starts the clock
    bar(2 * 1024**2, 4 * 1024**2)  # 1 MiB/s, 2 s left
    bar(2 * 1024**2 + 1, 4 * 1024**2)  # too soon to redraw
    bar(4 * 1024**2, 4 * 1024**2)
    frames = stream.getvalue().split("\r")[1:]
    assert len(frames) == 3
    assert frames[1] == (
        " 50.0% [" + "#" * 15 + "." * 15 + "] 2.0 MiB / 4.0 MiB  1.0 MiB/s  ETA 0:00:02 "
    )
    assert frames[2].startswith("100.0% [")


def test_resume_command_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["/venv/bin/chunked-uploads"])
    argv = ["upload", "a file.bin", "--url", "http://h/", "--token", "s3cret", "--user=u:p"]
    assert cli.resume_command(argv) == (
        "chunked-uploads upload 'a file.bin' --url http://h/ --token ... --user=..."
    )


@pytest.fixture
def without_httpx(tmp_path: Path) -> dict[str, str]:
    """An environment in which ``import httpx`` fails as it does where httpx is not installed."""
    shadow = tmp_path / "no-httpx"
    shadow.mkdir()
    (shadow / "httpx.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'httpx'\", name='httpx')\n"
    )
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(shadow), str(ROOT)])}


@pytest.mark.parametrize("args", [["--help"], ["upload", "x.bin", "--url", "http://x/"]])
def test_without_httpx_one_line_says_what_to_install(
    without_httpx: dict[str, str], args: list[str]
) -> None:
    console_script = Path(sys.executable).with_name("chunked-uploads")
    commands = [[sys.executable, "-m", "chunked_uploads", *args]]
    if console_script.exists():
        commands.append([str(console_script), *args])
    for command in commands:
        result = subprocess.run(command, env=without_httpx, capture_output=True, text=True)
        assert result.returncode == EXIT_MISSING_DEPENDENCY, result.stderr
        assert result.stdout == ""
        assert "Traceback" not in result.stderr
        (line,) = result.stderr.splitlines()
        assert line.endswith("-m pip install 'httpx>=0.27'"), line
        assert "needs httpx" in line


def test_the_example_extra_installs_the_command_line_client() -> None:
    """The README's virtualenv (``.[example]``) runs everything the README and docs then show,
    the ``chunked-uploads`` command included."""
    from importlib.metadata import requires

    def extra(name: str) -> set[str]:
        marker = f'extra == "{name}"'
        return {r.split(";")[0].strip() for r in requires("chunked-uploads") or [] if marker in r}

    assert extra("client") <= extra("example"), extra("example")
