"""The README's curl walkthrough, run as written against a real server of the example project.

The bash block after the ``<!-- walkthrough ... -->`` marker is extracted and run with bash (with
``-e -o pipefail``, so any failing ``curl -f`` fails the test) against ``manage.py runserver`` on a
free port, with its own SQLite database and media root: the only substitutions are the server
address, the Python interpreter, the path of ``manage.py`` and the media root.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .helpers import free_port

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MANAGE = ROOT / "example_project" / "manage.py"
BLOCK = re.compile(r"<!-- walkthrough[^>]*-->\s*```bash\n(.*?)```", re.DOTALL)
STARTUP_SECONDS = 30

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


@dataclass
class ExampleServer:
    url: str
    env: dict[str, str]
    media_root: Path


def walkthrough() -> str:
    match = BLOCK.search(README.read_text())
    assert match, "README.md has no bash block after a <!-- walkthrough --> marker"
    return match.group(1)


def example_env(tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "demo.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_MEDIA_ROOT": str(tmp_path / "media"),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("TEST_DATABASE_NAME", None)
    return env


def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert server.poll() is None, "the example server exited during start-up"
        try:
            if httpx.get(url + "/api/uploads/", timeout=2).status_code == 401:
                return
        except httpx.TransportError:
            time.sleep(0.1)  # polling a subprocess; nothing to travel in time here
    raise AssertionError(f"the example server did not answer within {STARTUP_SECONDS} s")


@pytest.fixture
def example_server(tmp_path: Path) -> Iterator[ExampleServer]:
    env = example_env(tmp_path)
    manage = [sys.executable, str(MANAGE)]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, check=True, capture_output=True)
    address = f"127.0.0.1:{free_port()}"
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [*manage, "runserver", "--noreload", address], env=env, stdout=log, stderr=log
    )
    try:
        wait_until_up(f"http://{address}", server)
        yield ExampleServer(f"http://{address}", env, tmp_path / "media")
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def localized(script: str, server: ExampleServer) -> str:
    """The README block with this machine's server, interpreter, manage.py and media root."""
    replacements = {
        "http://127.0.0.1:8000": server.url,
        ".venv/bin/python": sys.executable,
        "example_project/manage.py": str(MANAGE),
        "example_project/media": str(server.media_root),
    }
    for old, new in replacements.items():
        assert old in script, f"the walkthrough no longer mentions {old}"
        script = script.replace(old, new)
    return script


def test_walkthrough_block_is_found() -> None:
    script = walkthrough()
    assert "curl" in script
    assert "demo.bin" in script


def test_readme_walkthrough_uploads_three_chunks(
    example_server: ExampleServer, tmp_path: Path
) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    script = localized(walkthrough(), example_server)
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=workdir,
        env=example_server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    # md5sum's two lines: "<md5>  demo.bin" and "<md5>  <the completed file>".
    sums = dict(reversed(line.split("  ", 1)) for line in result.stdout.splitlines()[-2:])
    assert set(sums) - {"demo.bin"}, result.stdout
    (done,) = set(sums) - {"demo.bin"}
    completed = Path(done)
    assert completed.is_relative_to(example_server.media_root) and completed.suffix == ".done"
    data = completed.read_bytes()
    assert len(data) == 3_000_000
    assert sums[done] == sums["demo.bin"] == hashlib.md5(data).hexdigest()
    assert not list(example_server.media_root.rglob("*.part"))
    # The walkthrough cleans up after itself: nothing is left where it ran (the repository root).
    assert list(workdir.iterdir()) == []
