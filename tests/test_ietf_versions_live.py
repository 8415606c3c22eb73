"""Every server-side requirement of the IETF resumable-upload draft, for each interop version we
speak (3 = draft -01, 5 = -03, 6 = -05, 8 = -11), against the example project under a real
gunicorn, sent as raw HTTP: httpx, or a raw socket (``tests/clients/ietf_client.py``) where a 104
or a cut connection is involved. Everything runs under one gthread worker with four threads; the
104 and the cut creation, which touch gunicorn's socket, under two sync workers too.

The expected answers are docs/ietf.md's (its per-version table and "Where we differ from the draft
on purpose"), written out here per version rather than taken from the code under test. Sections
are named as in the drafts (their numbers change between revisions):

| Test | Draft section | Checks |
|---|---|---|
| ``test_creation_incomplete`` | Upload Creation | ``?0`` (3: ``Upload-Incomplete: ?1``) with and without ``Upload-Length``, with and without a body: ``201``, ``Location``, offset, completeness, length and limits as the version spells them |
| ``test_creation_complete`` | Upload Creation | ``?1`` with the whole file (or none): ``201``, completed, ``Repr-Digest``, the bytes stored |
| ``test_creation_with_an_inconsistent_length`` | Upload Creation; Upload-Length (-05 on) | a ``?1`` body other than ``Upload-Length`` is ``400 inconsistent-upload-length`` |
| ``test_creation_over_the_limit`` | Upload-Limit (``max-size``) | ``413`` problem, nothing created |
| ``test_the_104_names_the_upload`` | Upload Creation; 104 (Upload Resumption Supported) | with the 104 on, ``Location`` and the client's version, ``Upload-Limit`` from interop 6 on |
| ``test_head`` | Offset Retrieval | ``204``, ``Upload-Offset``, completeness, ``Upload-Length`` and ``Upload-Limit`` (6: ``expires``, 8: ``max-age``) only from interop 6 on, ``Cache-Control: no-store`` |
| ``test_head_of_a_completed_upload`` | Offset Retrieval; Integrity Digests | complete, ``Repr-Digest``, no lifetime left to announce |
| ``test_head_of_an_unknown_upload`` | Offset Retrieval | ``404`` problem |
| ``test_head_of_an_expired_upload`` | Offset Retrieval; Upload-Limit (lifetime) | ``410 upload_expired`` (docs/ietf.md; the drafts say 404 for an inactive upload) |
| ``test_state_headers_on_head_and_delete`` | Offset Retrieval; Upload Cancellation | ``Upload-Offset`` or the completeness header ``400`` in 3, 5, 6 (``Upload-Length`` on ``HEAD`` in 6), ignored in 8 |
| ``test_append_incomplete`` | Upload Append | ``201`` in 3, 5, 6 and ``204`` in 8, the new offset, completeness ``?0`` |
| ``test_append_completes`` | Upload Append; Integrity Digests | ``200``, the completed upload, ``Repr-Digest``, the bytes stored |
| ``test_append_without_the_completeness_header`` | Upload Append | the last append in 3, not the last in 5 and 6, ``400`` in 8 |
| ``test_append_media_type`` | Upload Append; Media Type application/partial-upload | any type in 3 and 5, ``415`` otherwise in 6 and 8 |
| ``test_offset_mismatch`` | Upload Append; Problem Types (Mismatching Offset) | ``409 mismatching-upload-offset`` with its members, ``Upload-Offset`` and completeness ``?0``; nothing changed |
| ``test_inconsistent_length`` | Upload Append; Problem Types (Inconsistent Length) | a ``?1`` that ends elsewhere, bytes past the length, another ``Upload-Length``: ``400 inconsistent-upload-length``; nothing changed |
| ``test_append_to_a_completed_upload`` | Upload Append; Problem Types (Completed Upload) | ``400 completed-upload`` in 3, 5, 6; in 8 ``400 inconsistent-upload-length`` with content, ``410 completed-upload`` without |
| ``test_content_digest_is_checked`` | Integrity Digests (RFC 9530) | a wrong ``Content-Digest`` is ``400``, the bytes dropped; the right one is taken |
| ``test_delete`` | Upload Cancellation | ``204``, then ``404`` on ``HEAD`` and ``DELETE`` |
| ``test_options`` | Upload-Limit; Feature Detection | ``204``, ``Upload-Limit`` (6: ``expires``), ``Accept-Patch: application/partial-upload`` |
| ``test_malformed_upload_headers`` | Header Fields (8: malformed values ignored) | ``400 invalid_header`` in 3, 5, 6; in 8 a malformed value is an absent one |
| ``test_interrupted_complete_creation_is_resumed`` | Upload Creation; Offset Retrieval; Upload Append | a ``?1`` creation cut off after its 104 resumes from ``HEAD``'s offset to the right bytes and digest |

``tests/test_ietf_live.py`` keeps what is not per version: the raw client's own recovery, HTTP/1.0,
a new request ending a stalled one, hostile values.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from .clients.ietf_client import Cut, ResumableClient
from .clients.ietf_client import Response as RawResponse
from .servers import LiveServer, live_server

MiB = 1024 * 1024
URL = "/api/resumable/"
PARTIAL = "application/partial-upload"
PROBLEM = "application/problem+json"
IANA = "https://iana.org/assignments/http-problem-types#"
MAX_BYTES = 8 * MiB
LIFETIME = 86400  # DRF_CHUNKED_UPLOAD_EXPIRATION_DELTA's default, in seconds
NO_UPLOAD = "00000000-0000-0000-0000-000000000000"

WORKERS = {
    "sync": {"workers": 2, "worker_class": "sync"},
    "threaded": {"workers": 1, "worker_class": "gthread", "threads": 4},
}


@pytest.fixture(scope="module", params=["threaded"])
def server(request: Any) -> Iterator[LiveServer]:
    """The threaded worker; tests where the worker kind matters (the 104 and a cut connection are
    written and read on gunicorn's socket) take both (``BOTH_WORKERS``)."""
    settings = {
        "DRF_CHUNKED_UPLOAD_INTERIM_RESPONSES": True,
        "DRF_CHUNKED_UPLOAD_CHECKPOINT_BYTES": MiB,  # the least the check allows
        "DRF_CHUNKED_UPLOAD_MAX_BYTES": MAX_BYTES,
    }
    with live_server(settings=settings, **WORKERS[request.param]) as live:
        yield live


BOTH_WORKERS = pytest.mark.parametrize("server", sorted(WORKERS), indirect=True)


@dataclass(frozen=True)
class Interop:
    """What one interop version expects, from docs/ietf.md's table."""

    number: int

    @property
    def name(self) -> str:
        """The completeness header: ``Upload-Incomplete`` (inverted) in interop 3."""
        return "Upload-Incomplete" if self.number == 3 else "Upload-Complete"

    def value(self, complete: bool) -> str:
        return "?1" if complete != (self.number == 3) else "?0"

    def complete(self, complete: bool) -> dict[str, str]:
        return {self.name: self.value(complete)}

    def says_complete(self, headers: Any) -> bool:
        return bool(headers[self.name] == self.value(True))

    @property
    def stored_status(self) -> int:
        """An append that does not complete: ``201`` before draft -06, ``204`` in 8."""
        return 204 if self.number == 8 else 201

    @property
    def lengths_and_limits(self) -> bool:
        return self.number >= 6

    @property
    def lifetime_key(self) -> str:
        return "expires" if self.number == 6 else "max-age"

    @property
    def strict(self) -> bool:
        """Drafts -01 to -05 refuse malformed and state headers; -11 ignores them."""
        return self.number != 8


@pytest.fixture(params=[3, 5, 6, 8])
def v(request: Any) -> Interop:
    return Interop(request.param)


# -- helpers ------------------------------------------------------------------------------------


def headers(server: LiveServer, v: Interop, **extra: str) -> dict[str, str]:
    return {**server.headers, "Upload-Draft-Interop-Version": str(v.number), **extra}


def post(server: LiveServer, v: Interop, body: bytes, **extra: str) -> httpx.Response:
    return httpx.post(server.url + URL, content=body, headers=headers(server, v, **extra))


def create(server: LiveServer, v: Interop, body: bytes = b"", **extra: str) -> str:
    """A new, unfinished upload holding ``body``; its URL."""
    response = post(server, v, body, **v.complete(False), **extra)
    assert response.status_code == 201, response.text
    return str(response.headers["location"])


def patch(
    server: LiveServer,
    v: Interop,
    url: str,
    body: bytes,
    offset: int,
    complete: bool | None,
    **extra: str,
) -> httpx.Response:
    """An append; ``complete=None`` sends no completeness header."""
    sent = {"Content-Type": PARTIAL, "Upload-Offset": str(offset), **extra}
    if complete is not None:
        sent.update(v.complete(complete))
    return httpx.patch(url, content=body, headers=headers(server, v, **sent))


def head(server: LiveServer, v: Interop, url: str, **extra: str) -> httpx.Response:
    return httpx.head(url, headers=headers(server, v, **extra))


def offset_of(server: LiveServer, v: Interop, url: str) -> int:
    response = head(server, v, url)
    assert response.status_code == 204, response.status_code
    return int(response.headers["upload-offset"])


def upload_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def md5_digest(data: bytes) -> str:
    return "md5=:" + base64.b64encode(hashlib.md5(data).digest()).decode() + ":"


def sha256_digest(data: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(data).digest()).decode() + ":"


def limit_keys(value: str) -> dict[str, int]:
    """An ``Upload-Limit`` dictionary of integers."""
    return {key: int(number) for key, _, number in (m.partition("=") for m in value.split(", "))}


def assert_problem(response: httpx.Response, status: int, kind: str | None = None) -> Any:
    """An RFC 9457 problem with ``status``; ``kind``: the draft's type (or else our ``code``)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    if kind is not None and kind.startswith("#"):
        assert body["type"] == IANA + kind[1:], body
    elif kind is not None:
        assert body["code"] == kind, body
    return body


def assert_state(
    v: Interop, response: httpx.Response, offset: int, complete: bool, length: int | None
) -> None:
    """The upload's headers as the version spells them (docs/ietf.md, its table)."""
    assert response.headers["upload-draft-interop-version"] == str(v.number)
    assert response.headers["upload-offset"] == str(offset)
    assert v.says_complete(response.headers) is complete
    other = "Upload-Complete" if v.number == 3 else "Upload-Incomplete"
    assert other not in response.headers
    if v.lengths_and_limits and length is not None:
        assert response.headers["upload-length"] == str(length)
    else:
        assert "upload-length" not in response.headers
    if not v.lengths_and_limits:
        assert "upload-limit" not in response.headers
        return
    limits = limit_keys(response.headers["upload-limit"])
    assert limits["max-size"] == MAX_BYTES
    if complete:
        assert set(limits) == {"max-size"}  # a completed upload does not expire
    else:
        assert set(limits) == {"max-size", v.lifetime_key}
        assert LIFETIME - 60 <= limits[v.lifetime_key] <= LIFETIME


# -- creation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [None, 10], ids=["no-length", "length"])
@pytest.mark.parametrize("body", [b"", b"abcd"], ids=["empty", "body"])
def test_creation_incomplete(
    server: LiveServer, v: Interop, length: int | None, body: bytes
) -> None:
    extra = {} if length is None else {"Upload-Length": str(length)}
    response = post(server, v, body, **v.complete(False), **extra)
    assert response.status_code == 201, response.text
    assert_state(v, response, len(body), False, length)
    url = response.headers["location"]
    assert response.json()["offset"] == len(body)
    assert "repr-digest" not in response.headers
    assert_state(v, head(server, v, url), len(body), False, length)
    if body:
        assert server.stored_bytes(upload_id(url)) == body


@pytest.mark.parametrize("body", [b"", b"the whole file"], ids=["empty", "body"])
def test_creation_complete(server: LiveServer, v: Interop, body: bytes) -> None:
    response = post(server, v, body, **v.complete(True), **{"Upload-Length": str(len(body))})
    assert response.status_code == 201, response.text
    assert_state(v, response, len(body), True, len(body))
    assert response.headers["repr-digest"] == md5_digest(body)
    assert response.json()["status"] == "complete"
    assert server.stored_bytes(upload_id(response.headers["location"])) == body


def test_creation_with_an_inconsistent_length(server: LiveServer, v: Interop) -> None:
    response = post(server, v, b"abc", **v.complete(True), **{"Upload-Length": "4"})
    assert_problem(response, 400, "#inconsistent-upload-length")
    assert "location" not in response.headers


def test_creation_over_the_limit(server: LiveServer, v: Interop) -> None:
    response = post(server, v, b"abc", **v.complete(False), **{"Upload-Length": str(MAX_BYTES + 1)})
    assert_problem(response, 413)
    assert "location" not in response.headers


@BOTH_WORKERS
@pytest.mark.parametrize("complete", [False, True], ids=["incomplete", "complete"])
def test_the_104_names_the_upload(server: LiveServer, v: Interop, complete: bool) -> None:
    raw = ResumableClient(server.url, server.headers, v.number)
    response = raw.request("POST", URL, v.complete(complete), b"abc")
    assert isinstance(response, RawResponse) and response.status == 201, response.body
    ((status, interim),) = response.interim
    assert status == 104
    assert interim["location"] == response.headers["location"]
    assert interim["upload-draft-interop-version"] == str(v.number)
    if v.lengths_and_limits:
        limits = limit_keys(interim["upload-limit"])
        assert set(limits) == {"max-size", v.lifetime_key}
        assert limits["max-size"] == MAX_BYTES
    else:
        assert "upload-limit" not in interim
    assert set(interim) <= {"location", "upload-draft-interop-version", "upload-limit"}


# -- offset retrieval ---------------------------------------------------------------------------


def test_head(server: LiveServer, v: Interop) -> None:
    url = create(server, v, b"abc", **{"Upload-Length": "9"})
    response = head(server, v, url)
    assert response.status_code == 204
    assert_state(v, response, 3, False, 9)
    assert "no-store" in response.headers["cache-control"]
    assert "repr-digest" not in response.headers


def test_head_of_a_completed_upload(server: LiveServer, v: Interop) -> None:
    created = post(server, v, b"done", **v.complete(True))
    response = head(server, v, created.headers["location"])
    assert response.status_code == 204
    assert_state(v, response, 4, True, 4)
    assert response.headers["repr-digest"] == md5_digest(b"done")
    assert "no-store" in response.headers["cache-control"]


def test_head_of_an_unknown_upload(server: LiveServer, v: Interop) -> None:
    response = head(server, v, f"{server.url}{URL}{NO_UPLOAD}/")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


@pytest.fixture(scope="module")
def expired(server: LiveServer) -> str:
    """An upload whose lifetime ran out (one per server: expiry does not depend on versions)."""
    url = create(server, Interop(8), b"abc")
    server.manage(
        "shell",
        "-c",
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from chunked_uploads.models import ChunkedUpload\n"
        f"ChunkedUpload.objects.filter(pk='{upload_id(url)}')"
        ".update(created_at=timezone.now() - timedelta(days=2))\n",
    )
    return url


def test_head_of_an_expired_upload(server: LiveServer, v: Interop, expired: str) -> None:
    response = head(server, v, expired)
    assert response.status_code == 410
    assert response.headers["content-type"] == PROBLEM
    assert "upload-offset" not in response.headers


STATE_HEADERS = {
    "offset": lambda v: {"Upload-Offset": "3"},
    "completeness": lambda v: v.complete(False),
    "length": lambda v: {"Upload-Length": "9"},
}


@pytest.mark.parametrize("method", ["HEAD", "DELETE"])
@pytest.mark.parametrize("sent", sorted(STATE_HEADERS))
def test_state_headers_on_head_and_delete(
    server: LiveServer, v: Interop, method: str, sent: str
) -> None:
    """Drafts -01 to -05 forbid the state headers on ``HEAD`` and ``DELETE`` (-05 adds
    ``Upload-Length``, on ``HEAD`` only); from -06 on they are not forbidden (ignored here)."""
    url = create(server, v, b"abc", **{"Upload-Length": "9"})
    refused = v.strict and (sent != "length" or (v.number == 6 and method == "HEAD"))
    response = httpx.request(method, url, headers=headers(server, v, **STATE_HEADERS[sent](v)))
    if refused:
        assert response.status_code == 400
        if method == "DELETE":
            assert_problem(response, 400, "invalid_header")
        assert offset_of(server, v, url) == 3  # still there
    else:
        assert response.status_code == 204
        after = head(server, v, url).status_code
        assert after == (204 if method == "HEAD" else 404)


# -- append -------------------------------------------------------------------------------------


def test_append_incomplete(server: LiveServer, v: Interop) -> None:
    url = create(server, v, b"abc", **{"Upload-Length": "9"})
    response = patch(server, v, url, b"def", 3, complete=False)
    assert response.status_code == v.stored_status, response.text
    assert_state(v, response, 6, False, 9)
    assert_state(v, head(server, v, url), 6, False, 9)
    assert server.stored_bytes(upload_id(url)) == b"abcdef"


@pytest.mark.parametrize("length", [None, 9], ids=["no-length", "length"])
def test_append_completes(server: LiveServer, v: Interop, length: int | None) -> None:
    extra = {} if length is None else {"Upload-Length": str(length)}
    url = create(server, v, b"abc", **extra)
    response = patch(server, v, url, b"defghi", 3, complete=True)
    assert response.status_code == 200, response.text
    assert_state(v, response, 9, True, 9)
    assert response.json()["status"] == "complete"
    assert response.headers["repr-digest"] == md5_digest(b"abcdefghi")
    assert server.stored_bytes(upload_id(url)) == b"abcdefghi"


def test_append_without_the_completeness_header(server: LiveServer, v: Interop) -> None:
    """Draft -01: an append without ``Upload-Incomplete`` is the last; -03 and -05: without
    ``Upload-Complete`` it is not; -11: the header is required."""
    url = create(server, v, b"abc")
    response = patch(server, v, url, b"def", 3, complete=None)
    if v.number == 3:
        assert response.status_code == 200, response.text
        assert_state(v, response, 6, True, 6)
    elif v.number in (5, 6):
        assert response.status_code == 201, response.text
        assert_state(v, response, 6, False, None)
    else:
        assert_problem(response, 400, "invalid_header")
        assert offset_of(server, v, url) == 3


def test_append_media_type(server: LiveServer, v: Interop) -> None:
    """Drafts -04 on: an append is ``application/partial-upload``."""
    url = create(server, v, b"abc")
    octets = {"Content-Type": "application/octet-stream"}
    response = patch(server, v, url, b"def", 3, complete=False, **octets)
    if v.number in (3, 5):
        assert response.status_code == 201, response.text
        assert offset_of(server, v, url) == 6
    else:
        assert_problem(response, 415, "unsupported_media_type")
        assert offset_of(server, v, url) == 3


@pytest.mark.parametrize("provided", [0, 2, 5])
def test_offset_mismatch(server: LiveServer, v: Interop, provided: int) -> None:
    url = create(server, v, b"abc")
    response = patch(server, v, url, b"xyz", provided, complete=False)
    body = assert_problem(response, 409, "#mismatching-upload-offset")
    assert (body["expected-offset"], body["provided-offset"]) == (3, provided)
    assert response.headers["upload-offset"] == "3"
    assert v.says_complete(response.headers) is False
    assert offset_of(server, v, url) == 3
    assert server.stored_bytes(upload_id(url)) == b"abc"


INCONSISTENT = {
    # (the append's body, whether it says it is the last, extra headers) on 3 of 9 bytes
    "ends-early": (b"def", True, {}),
    "past-the-length": (b"defghijkl", False, {}),
    "another-length": (b"def", False, {"Upload-Length": "10"}),
}


@pytest.mark.parametrize("case", sorted(INCONSISTENT))
def test_inconsistent_length(server: LiveServer, v: Interop, case: str) -> None:
    url = create(server, v, b"abc", **{"Upload-Length": "9"})
    body, complete, extra = INCONSISTENT[case]
    response = patch(server, v, url, body, 3, complete=complete, **extra)
    assert_problem(response, 400, "#inconsistent-upload-length")
    assert offset_of(server, v, url) == 3
    assert server.stored_bytes(upload_id(url)) == b"abc"


@pytest.mark.parametrize("content", [b"", b"more"], ids=["empty", "content"])
def test_append_to_a_completed_upload(server: LiveServer, v: Interop, content: bytes) -> None:
    """Drafts -04 and -05: ``400 completed-upload``; -10 on: an inconsistent length with
    content, ``410 completed-upload`` without. (An empty *completing* append at the end is
    answered as the completion was: docs/ietf.md, "Where we differ".)"""
    url = post(server, v, b"done", **v.complete(True)).headers["location"]
    response = patch(server, v, url, content, 4, complete=False)
    if v.number == 8 and content:
        assert_problem(response, 400, "#inconsistent-upload-length")
    elif v.number == 8:
        assert_problem(response, 410, "#completed-upload")
    else:
        assert_problem(response, 400, "#completed-upload")
    assert head(server, v, url).headers["upload-offset"] == "4"
    assert server.stored_bytes(upload_id(url)) == b"done"


def test_content_digest_is_checked(server: LiveServer, v: Interop) -> None:
    url = create(server, v, b"abc")
    wrong = {"Content-Digest": sha256_digest(b"not it")}
    response = patch(server, v, url, b"def", 3, complete=False, **wrong)
    assert_problem(response, 400, "digest_mismatch")
    assert offset_of(server, v, url) == 3
    right = {"Content-Digest": sha256_digest(b"def")}
    response = patch(server, v, url, b"def", 3, complete=True, **right)
    assert response.status_code == 200, response.text
    assert response.headers["repr-digest"] == md5_digest(b"abcdef")


# -- cancellation, options ----------------------------------------------------------------------


def test_delete(server: LiveServer, v: Interop) -> None:
    url = create(server, v, b"abc")
    response = httpx.delete(url, headers=headers(server, v))
    assert response.status_code == 204
    assert response.headers["upload-draft-interop-version"] == str(v.number)
    assert head(server, v, url).status_code == 404
    assert_problem(httpx.delete(url, headers=headers(server, v)), 404, "not_found")
    assert server.stored_files(upload_id(url)) == []


@pytest.mark.parametrize("target", [URL, URL + NO_UPLOAD + "/"], ids=["creation", "upload"])
def test_options(server: LiveServer, v: Interop, target: str) -> None:
    """``Upload-Limit`` (in -11's spelling for 3 and 5, which define none) and ``Accept-Patch``;
    no credentials needed."""
    version = {"Upload-Draft-Interop-Version": str(v.number)}
    response = httpx.options(server.url + target, headers=version)
    assert response.status_code == 204
    assert response.headers["accept-patch"] == PARTIAL
    assert limit_keys(response.headers["upload-limit"]) == {
        "max-size": MAX_BYTES,
        v.lifetime_key: LIFETIME,
    }


# -- malformed headers --------------------------------------------------------------------------

MALFORMED = ["1.5", "-3", "?1"]  # more in tests/test_hostile_ietf.py


@pytest.mark.parametrize("value", MALFORMED)
def test_malformed_upload_headers(server: LiveServer, v: Interop, value: str) -> None:
    """Drafts -01 to -05: ``400``. -11 (section "Header Fields"): a malformed value is ignored
    as if absent: no length on a creation or an append; a missing offset (``400``) on an append."""
    bad_length = {"Upload-Length": value}
    created = post(server, v, b"abc", **v.complete(False), **bad_length)
    url = create(server, v, b"abc")
    appended = patch(server, v, url, b"def", 3, complete=False, **bad_length)
    bad_offset = patch(server, v, url, b"ghi", 3, complete=False, **{"Upload-Offset": value})
    if v.strict:
        assert_problem(created, 400, "invalid_header")
        assert_problem(appended, 400, "invalid_header")
        assert offset_of(server, v, url) == 3
    else:
        assert created.status_code == 201, created.text
        assert "upload-length" not in created.headers
        assert appended.status_code == 204, appended.text
        assert offset_of(server, v, url) == 6
    assert_problem(bad_offset, 400, "invalid_header")


# -- an interrupted creation --------------------------------------------------------------------


@BOTH_WORKERS
def test_interrupted_complete_creation_is_resumed(server: LiveServer, v: Interop) -> None:
    """A whole file in one ``?1`` creation, cut after 1.5 MiB: the 104 named the upload, ``HEAD``
    reports its check-point, an append of the rest completes it to the right bytes."""
    data = os.urandom(2 * MiB + 7)
    raw = ResumableClient(server.url, server.headers, v.number)
    cut = raw.request("POST", URL, v.complete(True), data, cut_after=MiB + MiB // 2)
    assert isinstance(cut, Cut)
    ((status, interim),) = cut.interim
    assert status == 104
    url = interim["location"]
    kept = settled(server, v, url)
    assert kept == MiB  # its check-point
    assert server.stored_bytes(upload_id(url))[:kept] == data[:kept]
    response = patch(server, v, url, data[kept:], kept, complete=True)
    assert response.status_code == 200, response.text
    assert_state(v, response, len(data), True, len(data))
    assert response.headers["repr-digest"] == md5_digest(data)
    assert server.stored_bytes(upload_id(url)) == data


def settled(server: LiveServer, v: Interop, url: str) -> int:
    """The offset once the server is done with a cut request (two ``HEAD``s 0.2 s apart agree)."""
    offset = offset_of(server, v, url)
    for _ in range(50):
        time.sleep(0.2)  # a real server finishing a request on the real clock
        previous, offset = offset, offset_of(server, v, url)
        if offset == previous:
            return offset
    raise AssertionError("the offset never settled")
