"""The live server the hostile-client suites attack, and the raw-socket tools they attack it with.

``test_hostile.py`` (native), ``test_hostile_tus.py`` and ``test_hostile_ietf.py`` import the
fixtures from here (``server``, ``socket_reads_server``, ``user``): the example project under a real
gunicorn, once per worker kind (two sync workers; one gthread worker with ``--threads 4``, the setup
docs/deployment.md recommends without a buffering proxy), each module its own pair. Each test takes
a fresh user from a pool, so the per-user limits the server is started with (``MAX_UNFINISHED``
unfinished uploads, ``MAX_UNFINISHED_BYTES`` declared) bound only the quota tests. The server
check-points tus and IETF appends every ``CHECKPOINT`` bytes, sends the IETF ``104`` interim
response, and lets browsers on ``CORS_ORIGIN`` (only) call the API.

The socket tools send what HTTP clients refuse to (bad header values, lying lengths, half bodies)
and read the answer, interim responses skipped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from .servers import LiveServer, live_server

LEASE = 3.0  # seconds; a body read then times out after twice that
MAX_UNFINISHED = 3
MAX_UNFINISHED_BYTES = 64 * 1024**2
CHUNK = 1024 * 1024
CHECKPOINT = CHUNK  # the least the check allows
CORS_ORIGIN = "http://allowed.test"
USERS = 200

WORKERS = {
    "sync": {"workers": 2, "worker_class": "sync"},
    "threaded": {"workers": 1, "worker_class": "gthread", "threads": 4},
}


class Server:
    """The live server and a pool of users (one per test: their quotas do not mix)."""

    def __init__(self, live: LiveServer, tokens: list[str]) -> None:
        self.live = live
        self.url = live.url
        self.tokens = tokens

    def new_user(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.tokens.pop()}"}


def _create_users(live: LiveServer) -> list[str]:
    code = (
        "from django.contrib.auth import get_user_model\n"
        "from rest_framework.authtoken.models import Token\n"
        "User = get_user_model()\n"
        f"User.objects.bulk_create(User(username=f'mallory{{i}}') for i in range({USERS}))\n"
        "users = User.objects.filter(username__startswith='mallory')\n"
        "tokens = Token.objects.bulk_create(Token(user=u, key=Token.generate_key()) for u in users)\n"
        "print(*(token.key for token in tokens))\n"
    )
    return live.manage("shell", "-c", code).split()


def serve(workers: str, **extra: Any) -> Iterator[Server]:
    """The example project under gunicorn with ``WORKERS[workers]`` and the suite's limits."""
    settings = {
        "DRF_CHUNKED_UPLOAD_LEASE_SECONDS": LEASE,
        "DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_UPLOADS": MAX_UNFINISHED,
        "DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_BYTES": MAX_UNFINISHED_BYTES,
        "DRF_CHUNKED_UPLOAD_CHECKPOINT_BYTES": CHECKPOINT,
        "DRF_CHUNKED_UPLOAD_INTERIM_RESPONSES": True,
        **extra,
    }
    environment = {"DJANGO_CORS_ALLOWED_ORIGINS": CORS_ORIGIN}
    with live_server(settings=settings, environment=environment, **WORKERS[workers]) as live:
        yield Server(live, _create_users(live))


@pytest.fixture(scope="module", params=sorted(WORKERS))
def server(request: Any) -> Iterator[Server]:
    """Bodies read through ``wsgi.input``, the default."""
    yield from serve(request.param)


@pytest.fixture(scope="module", params=sorted(WORKERS))
def socket_reads_server(request: Any) -> Iterator[Server]:
    """The optional gunicorn integration on: bodies read from the socket, with a read timeout."""
    yield from serve(request.param, DRF_CHUNKED_UPLOAD_SOCKET_READS=True)


@pytest.fixture
def user(server: Server) -> dict[str, str]:
    return server.new_user()


# -- sessions ---------------------------------------------------------------------------------


def session(server: Server) -> tuple[httpx.Client, str]:
    """A client logged in through DRF's login view, and its CSRF token."""
    client = httpx.Client(base_url=server.url, timeout=30)
    form = client.get("/api-auth/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token is not None
    login = client.post(
        "/api-auth/login/",
        data={"username": "demo", "password": "demo", "csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": server.url + "/api-auth/login/"},
    )
    assert login.status_code in (200, 302), login.text[:300]
    assert "sessionid" in client.cookies
    return client, client.cookies["csrftoken"]


# -- raw sockets --------------------------------------------------------------------------------


def connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.live.port), timeout=30)


def request_head(
    method: str,
    path: str,
    headers: dict[str, str],
    length: int | None,
    raw_lines: Sequence[bytes] = (),
) -> bytes:
    """A request's head as sent, ``Content-Length: length`` unless ``None``; ``raw_lines``: more
    header lines exactly as given (a name repeated, bytes no ``dict`` of headers can carry)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return b"".join(line + b"\r\n" for line in [*map(str.encode, lines), *raw_lines]) + b"\r\n"


@dataclass
class Answer:
    """A final response as read from the socket: status, headers (names in lower case), body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def read_response(client: socket.socket, *, head: bool = False) -> Answer:
    """The final response on ``client`` (interim 1xx ones skipped), read until its body's length
    or the close; ``head``: the answer to a ``HEAD``, which has no body."""
    data = b""
    while True:
        while b"\r\n\r\n" not in data and (block := client.recv(65536)):
            data += block
        first, _, rest = data.partition(b"\r\n\r\n")
        status = int(first.split()[1])
        if not 100 <= status < 200:
            break
        data = rest
    lines = first.decode("latin-1").split("\r\n")[1:]
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if head or status in (204, 304):  # no body, whatever the headers say
        return Answer(status, headers, b"")
    length = int(headers.get("content-length", -1))  # -1: until the close
    body = rest
    while length < 0 or len(body) < length:
        block = client.recv(65536)
        if not block:
            break
        body += block
    return Answer(status, headers, body)


def read_answer(client: socket.socket) -> tuple[int, dict[str, Any] | None]:
    """The status and JSON body of one answer (read until the body's length or the close)."""
    answer = read_response(client)
    return answer.status, answer.json()


def worker_cpu_seconds(live: LiveServer) -> float:
    """User plus system CPU time of every worker, from ``/proc``."""
    ticks = 0
    for pid in live.worker_pids():
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


# -- what the tus and IETF suites both read off an answer -----------------------------------------


def path_of(location: str) -> str:
    """A ``Location``'s path, whether the server answered an absolute URL or a path."""
    return "/" + location.split("://", 1)[1].split("/", 1)[1] if "://" in location else location


def upload_id(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[1]


def md5_repr(data: bytes) -> str:
    """``Repr-Digest``'s value for ``data`` under the example project's md5."""
    return "md5=:" + base64.b64encode(hashlib.md5(data).digest()).decode() + ":"
