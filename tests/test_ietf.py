"""The IETF resumable-upload edge through DRF's APIClient, for each interop version (3, 5, 6, 8):
creation (``?0`` and ``?1``), offset retrieval, append, completion, cancellation, ``OPTIONS``, and
the problem details of every refusal."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.routers import DefaultRouter
from rest_framework.test import APIClient

from chunked_uploads import signals
from chunked_uploads.models import ChunkedUpload, UploadStatus
from chunked_uploads.protocols.ietf.headers import VERSIONS, InteropVersion
from chunked_uploads.protocols.ietf.views import ResumableUploadViewSet

from .helpers import stored_bytes

URL = "/api/resumable/"
PARTIAL = "application/partial-upload"
IANA = "https://iana.org/assignments/http-problem-types#"

pytestmark = pytest.mark.django_db


@pytest.fixture(params=sorted(VERSIONS))
def interop(request: Any) -> InteropVersion:
    return VERSIONS[request.param]


def complete_header(interop: InteropVersion, complete: bool) -> dict[str, str]:
    """``Upload-Complete`` (``Upload-Incomplete`` in interop 3) as META."""
    name = "HTTP_" + interop.complete_header.upper().replace("-", "_")
    return {name: interop.complete_value(complete)}


def version(interop: InteropVersion) -> dict[str, str]:
    return {"HTTP_UPLOAD_DRAFT_INTEROP_VERSION": str(interop.number)}


def create(
    api: APIClient, interop: InteropVersion, body: bytes, complete: bool, **headers: Any
) -> Any:
    extra = {**version(interop), **complete_header(interop, complete), **headers}
    return api.generic("POST", URL, body, content_type="application/octet-stream", **extra)


def append(
    api: APIClient,
    interop: InteropVersion,
    url: str,
    body: bytes,
    offset: int,
    complete: bool,
    **headers: Any,
) -> Any:
    extra = {
        **version(interop),
        **complete_header(interop, complete),
        "HTTP_UPLOAD_OFFSET": str(offset),
        **headers,
    }
    return api.generic("PATCH", url, body, content_type=PARTIAL, **extra)


def head(api: APIClient, interop: InteropVersion, url: str) -> Any:
    return api.head(url, **version(interop))


def upload_of(url: str) -> ChunkedUpload:
    return ChunkedUpload.objects.get(pk=url.rstrip("/").rsplit("/", 1)[1])


def is_complete(interop: InteropVersion, response: Any) -> bool:
    value = response[interop.complete_header]
    assert value in ("?0", "?1")
    return (value == "?1") != interop.incomplete_header


def append_status(interop: InteropVersion) -> int:
    """An append's success: drafts -01, -03 and -05 (interop 3, 5, 6) answer ``201 (Created)``,
    a MUST when it leaves the upload incomplete; draft -11 (interop 8) any 2xx, here 204."""
    return 204 if interop.number == 8 else 201


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    if response.request["REQUEST_METHOD"] == "HEAD":
        assert not response.content
        return {}
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["code"] == code, body
    assert body["type"] and body["title"] and body["detail"]
    return body


def test_creation_head_append_and_completion(api: APIClient, interop: InteropVersion) -> None:
    events: list[str] = []

    def receiver(signal: Any, **kwargs: Any) -> None:
        events.append(signal.__name__ if hasattr(signal, "__name__") else "signal")

    def completed(upload: ChunkedUpload, **kwargs: Any) -> None:
        events.append(f"completed {upload.offset}")

    signals.upload_completed.connect(completed)
    try:
        created = create(api, interop, b"hello ", complete=False)
        assert created.status_code == 201, created.content
        url = created["Location"]
        assert created["Upload-Offset"] == "6" and not is_complete(interop, created)
        assert created["Upload-Draft-Interop-Version"] == str(interop.number)
        assert ("Upload-Limit" in created) == interop.lengths_and_limits

        state = head(api, interop, url)
        assert state.status_code == 204
        assert state["Upload-Offset"] == "6" and not is_complete(interop, state)
        assert "no-store" in state["Cache-Control"]
        assert "Upload-Length" not in state  # not known yet

        more = append(api, interop, url, b"big ", 6, complete=False)
        assert more.status_code == append_status(interop), more.content
        assert more["Upload-Offset"] == "10" and not is_complete(interop, more)
        assert events == []

        done = append(api, interop, url, b"world", 10, complete=True)
        assert done.status_code == 200, done.content
        assert is_complete(interop, done) and done["Upload-Offset"] == "15"
        assert done.json()["status"] == UploadStatus.COMPLETE.label.lower() or done.json()
        assert events == ["completed 15"]
    finally:
        signals.upload_completed.disconnect(completed)
    upload = upload_of(url)
    assert upload.status == UploadStatus.COMPLETE and upload.size == 15
    assert stored_bytes(upload) == b"hello big world"
    final = head(api, interop, url)
    assert is_complete(interop, final) and final["Upload-Offset"] == "15"
    md5 = base64.b64encode(hashlib.md5(b"hello big world").digest()).decode()
    assert final["Repr-Digest"] == f"md5=:{md5}:"
    if interop.lengths_and_limits:
        assert final["Upload-Length"] == "15"


def test_creation_with_the_whole_file_completes_once(
    api: APIClient, interop: InteropVersion
) -> None:
    completions: list[int] = []

    def completed(upload: ChunkedUpload, **kwargs: Any) -> None:
        completions.append(upload.offset)

    signals.upload_completed.connect(completed)
    try:
        response = create(api, interop, b"all of it", complete=True)
    finally:
        signals.upload_completed.disconnect(completed)
    assert response.status_code == 201, response.content
    assert is_complete(interop, response) and response["Upload-Offset"] == "9"
    assert completions == [9]
    upload = upload_of(response["Location"])
    assert response.json()["id"] == str(upload.pk)
    assert upload.status == UploadStatus.COMPLETE and stored_bytes(upload) == b"all of it"


def test_an_empty_file_in_one_request(api: APIClient) -> None:
    response = create(api, VERSIONS[8], b"", complete=True)
    assert response.status_code == 201, response.content
    assert upload_of(response["Location"]).status == UploadStatus.COMPLETE


def test_an_empty_creation_then_the_bytes(api: APIClient, interop: InteropVersion) -> None:
    created = create(api, interop, b"", complete=False)
    assert created.status_code == 201 and created["Upload-Offset"] == "0"
    done = append(api, interop, created["Location"], b"abc", 0, complete=True)
    assert done.status_code == 200 and done["Upload-Offset"] == "3"


def test_wrong_offset_is_409_mismatching_upload_offset(
    api: APIClient, interop: InteropVersion
) -> None:
    url = create(api, interop, b"abc", complete=False)["Location"]
    response = append(api, interop, url, b"def", 1, complete=False)
    body = problem(response, 409, "offset_mismatch")
    assert body["type"] == IANA + "mismatching-upload-offset"
    assert (body["expected-offset"], body["provided-offset"]) == (3, 1)
    assert response["Upload-Offset"] == "3" and not is_complete(interop, response)
    assert upload_of(url).offset == 3


def test_a_length_that_changes_is_400_inconsistent_upload_length(api: APIClient) -> None:
    v8 = VERSIONS[8]
    created = create(api, v8, b"abc", complete=False, HTTP_UPLOAD_LENGTH="10")
    assert created["Upload-Length"] == "10"
    url = created["Location"]
    for response in (
        append(api, v8, url, b"d", 3, complete=False, HTTP_UPLOAD_LENGTH="11"),
        append(api, v8, url, b"d", 3, complete=True),  # complete at 4 of 10 bytes
        append(api, v8, url, b"x" * 8, 3, complete=False),  # past the length
    ):
        body = problem(response, 400, "inconsistent_length")
        assert body["type"] == IANA + "inconsistent-upload-length"
    assert upload_of(url).offset == 3
    assert append(api, v8, url, b"x" * 7, 3, complete=True).status_code == 200


def test_creation_length_and_body_disagree(api: APIClient) -> None:
    response = create(api, VERSIONS[8], b"abc", complete=True, HTTP_UPLOAD_LENGTH="4")
    problem(response, 400, "inconsistent_length")
    assert not ChunkedUpload.objects.exists()


@pytest.mark.parametrize("number", [3, 5, 6])
def test_append_to_a_completed_upload_is_400_completed_upload(api: APIClient, number: int) -> None:
    """Drafts -04/-05 (interop 6): 400 with ``completed-upload``; earlier drafts say nothing."""
    interop = VERSIONS[number]
    url = create(api, interop, b"abc", complete=True)["Location"]
    body = problem(append(api, interop, url, b"d", 3, complete=True), 400, "upload_complete")
    assert body["type"] == IANA + "completed-upload"


def test_interop_8_append_to_a_completed_upload(api: APIClient) -> None:
    """Draft -11, section "Upload Append" (server behavior): with content it is an inconsistent
    length; without, ``410 (Gone)`` with ``completed-upload``."""
    v8 = VERSIONS[8]
    url = create(api, v8, b"abc", complete=True)["Location"]
    body = problem(append(api, v8, url, b"d", 3, complete=True), 400, "inconsistent_length")
    assert body["type"] == IANA + "inconsistent-upload-length"
    for offset, complete in ((3, False), (2, True)):
        body = problem(append(api, v8, url, b"", offset, complete), 410, "upload_complete")
        assert body["type"] == IANA + "completed-upload"
    assert stored_bytes(upload_of(url)) == b"abc"


def test_append_needs_partial_upload_from_interop_6(
    api: APIClient, interop: InteropVersion
) -> None:
    url = create(api, interop, b"abc", complete=False)["Location"]
    extra = {**version(interop), **complete_header(interop, False), "HTTP_UPLOAD_OFFSET": "3"}
    response = api.generic("PATCH", url, b"d", content_type="text/plain", **extra)
    if interop.partial_upload_type:
        problem(response, 415, "unsupported_media_type")
    else:
        assert response.status_code == 201


@pytest.mark.parametrize("sent", [None, "2", "4", "7", "9", "8.0", "?1", "x" * 100])
def test_unknown_interop_versions_are_refused(api: APIClient, sent: str | None) -> None:
    extra = {"HTTP_UPLOAD_COMPLETE": "?1"}
    if sent is not None:
        extra["HTTP_UPLOAD_DRAFT_INTEROP_VERSION"] = sent
    response = api.generic("POST", URL, b"abc", content_type="application/octet-stream", **extra)
    body = problem(response, 400, "unsupported_interop_version")
    assert body["supported-versions"] == [3, 5, 6, 8]
    assert len(body["detail"]) < 80  # a giant header is not echoed back
    assert not ChunkedUpload.objects.exists()


def test_interop_3_spells_it_upload_incomplete(api: APIClient) -> None:
    v3 = VERSIONS[3]
    # Upload-Complete means nothing in interop 3: the request lacks Upload-Incomplete.
    response = create(api, v3, b"abc", complete=False, HTTP_UPLOAD_COMPLETE="?0")
    assert response.status_code == 201
    url = response["Location"]
    assert response["Upload-Incomplete"] == "?1" and "Upload-Complete" not in response
    # Draft -01: an append without Upload-Incomplete is the last one (its example's PATCH).
    last = api.generic(
        "PATCH", url, b"d", content_type=PARTIAL, HTTP_UPLOAD_OFFSET="3",
        HTTP_UPLOAD_COMPLETE="?0", **version(v3),
    )  # fmt: skip
    assert last.status_code == 200, last.content
    assert last["Upload-Incomplete"] == "?0" and last["Upload-Offset"] == "4"
    assert upload_of(url).status == UploadStatus.COMPLETE


@pytest.mark.parametrize("number", [5, 6])
def test_interop_5_and_6_appends_without_upload_complete_are_not_the_last(
    api: APIClient, number: int
) -> None:
    """Drafts -03 and -05: only ``Upload-Complete: ?1`` completes, and their example append
    sends no ``Upload-Complete``; it is answered 201 with the new offset."""
    interop = VERSIONS[number]
    url = create(api, interop, b"abc", complete=False)["Location"]
    extra = {**version(interop), "HTTP_UPLOAD_OFFSET": "3"}
    response = api.generic("PATCH", url, b"de", content_type=PARTIAL, **extra)
    assert response.status_code == 201, response.content
    assert response["Upload-Offset"] == "5" and response["Upload-Complete"] == "?0"
    assert upload_of(url).status != UploadStatus.COMPLETE


def test_interop_8_appends_need_upload_complete(api: APIClient) -> None:
    """Draft -11: "The request MUST include the Upload-Complete header field"."""
    v8 = VERSIONS[8]
    url = create(api, v8, b"abc", complete=False)["Location"]
    extra = {**version(v8), "HTTP_UPLOAD_OFFSET": "3"}
    response = api.generic("PATCH", url, b"de", content_type=PARTIAL, **extra)
    body = problem(response, 400, "invalid_header")
    assert "Upload-Complete" in body["detail"]
    assert upload_of(url).offset == 3


@pytest.mark.parametrize(
    ("number", "method", "name"),
    [
        (3, "HEAD", "Upload-Offset"),
        (3, "HEAD", "Upload-Incomplete"),
        (3, "DELETE", "Upload-Offset"),
        (3, "DELETE", "Upload-Incomplete"),
        (5, "HEAD", "Upload-Complete"),
        (5, "DELETE", "Upload-Offset"),
        (6, "HEAD", "Upload-Length"),
        (6, "DELETE", "Upload-Complete"),
    ],
)
def test_head_and_delete_with_state_headers_are_400_before_interop_8(
    api: APIClient, number: int, method: str, name: str
) -> None:
    """Drafts -01, -03 and -05: the server MUST reject a ``HEAD`` or ``DELETE`` carrying them."""
    interop = VERSIONS[number]
    url = create(api, interop, b"abc", complete=False)["Location"]
    meta = "HTTP_" + name.upper().replace("-", "_")
    response = api.generic(method, url, **version(interop), **{meta: "?0"})
    problem(response, 400, "invalid_header")
    assert upload_of(url).offset == 3


def test_interop_6_deletes_with_upload_length_and_8_ignores_them_all(api: APIClient) -> None:
    """Draft -05 forbids ``Upload-Length`` on ``HEAD`` only; draft -11 forbids nothing."""
    v6, v8 = VERSIONS[6], VERSIONS[8]
    url = create(api, v6, b"abc", complete=False)["Location"]
    assert api.delete(url, **version(v6), HTTP_UPLOAD_LENGTH="3").status_code == 204
    url = create(api, v8, b"abc", complete=False)["Location"]
    state = {"HTTP_UPLOAD_OFFSET": "3", "HTTP_UPLOAD_COMPLETE": "?0", "HTTP_UPLOAD_LENGTH": "3"}
    assert api.head(url, **version(v8), **state).status_code == 204
    assert api.delete(url, **version(v8), **state).status_code == 204


def test_interop_6_spells_the_lifetime_expires(api: APIClient) -> None:
    """Drafts -04 and -05 name the ``Upload-Limit`` key ``expires``; -06 on, ``max-age``."""
    v6 = VERSIONS[6]
    created = create(api, v6, b"abc", complete=False)
    limit = created["Upload-Limit"]
    assert "expires=" in limit and "max-age" not in limit
    assert "expires=" in head(api, v6, created["Location"])["Upload-Limit"]
    assert "expires=86400" in APIClient().options(URL, **version(v6))["Upload-Limit"]
    assert "max-age=" in head(api, VERSIONS[8], created["Location"])["Upload-Limit"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HTTP_UPLOAD_COMPLETE", "true"),
        ("HTTP_UPLOAD_COMPLETE", "?2"),
        ("HTTP_UPLOAD_COMPLETE", "1"),
        ("HTTP_UPLOAD_COMPLETE", ""),
        ("HTTP_UPLOAD_LENGTH", "-1"),
        ("HTTP_UPLOAD_LENGTH", "1.5"),
        ("HTTP_UPLOAD_LENGTH", "9999999999999999"),  # 16 digits: not an sf-integer
        ("HTTP_UPLOAD_LENGTH", '"3"'),
        ("HTTP_UPLOAD_LENGTH", "3, 4"),
        ("HTTP_UPLOAD_LENGTH", "3" + " " * 200),
        ("HTTP_UPLOAD_OFFSET", "abc"),
    ],
)
def test_bad_structured_fields_get_400(api: APIClient, name: str, value: str) -> None:
    """Until draft -05 (interop 6) a malformed upload header is refused."""
    v6 = VERSIONS[6]
    extra = {**version(v6), "HTTP_UPLOAD_COMPLETE": "?0", name: value}
    response = api.generic("POST", URL, b"abc", content_type="application/octet-stream", **extra)
    problem(response, 400, "invalid_header")
    assert not ChunkedUpload.objects.exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HTTP_UPLOAD_LENGTH", "-1"),
        ("HTTP_UPLOAD_LENGTH", "1.5"),
        ("HTTP_UPLOAD_LENGTH", "9999999999999999"),
        ("HTTP_UPLOAD_LENGTH", '"3"'),
        ("HTTP_UPLOAD_LENGTH", "3" + " " * 200),
        ("HTTP_UPLOAD_OFFSET", "abc"),
        ("HTTP_UPLOAD_OFFSET", "?0"),
    ],
)
def test_interop_8_ignores_malformed_fields(api: APIClient, name: str, value: str) -> None:
    """Draft -11, section 4.1: a value not of the field's type "MUST cause the entire header
    field to be ignored" (so a malformed ``Upload-Complete`` counts as missing: 400)."""
    v8 = VERSIONS[8]
    extra = {**version(v8), "HTTP_UPLOAD_COMPLETE": "?0", name: value}
    response = api.generic("POST", URL, b"abc", content_type="application/octet-stream", **extra)
    assert response.status_code == 201, response.content
    assert "Upload-Length" not in response and upload_of(response["Location"]).size is None
    extra = {**version(v8), "HTTP_UPLOAD_COMPLETE": "true"}
    response = api.generic("POST", URL, b"abc", content_type="application/octet-stream", **extra)
    assert "Upload-Complete" in problem(response, 400, "invalid_header")["detail"]


@pytest.mark.parametrize("offset", ["-1", "999999999999999", "1;a=2"])
def test_hostile_offsets(api: APIClient, offset: str) -> None:
    v8 = VERSIONS[8]
    url = create(api, v8, b"abc", complete=False)["Location"]
    extra = {**version(v8), "HTTP_UPLOAD_COMPLETE": "?0", "HTTP_UPLOAD_OFFSET": offset}
    response = api.generic("PATCH", url, b"d", content_type=PARTIAL, **extra)
    assert response.status_code in (400, 409, 413), response.content
    assert response["Content-Type"] == "application/problem+json"
    assert upload_of(url).offset == 3


def test_another_users_upload_is_404(
    api: APIClient, other_api: APIClient, interop: InteropVersion
) -> None:
    url = create(api, interop, b"abc", complete=False)["Location"]
    problem(head(other_api, interop, url), 404, "not_found")
    problem(append(other_api, interop, url, b"d", 3, complete=True), 404, "not_found")
    response = other_api.delete(url, **version(interop))
    problem(response, 404, "not_found")
    problem(head(api, interop, URL + "not-a-uuid/"), 404, "not_found")
    assert upload_of(url).offset == 3


def test_anonymous_callers_get_a_problem() -> None:
    response = create(APIClient(), VERSIONS[8], b"abc", complete=True)
    assert response.status_code in (401, 403)
    assert response["Content-Type"] == "application/problem+json"


def test_delete_cancels(api: APIClient, interop: InteropVersion) -> None:
    url = create(api, interop, b"abc", complete=False)["Location"]
    assert api.delete(url, **version(interop)).status_code == 204
    assert not ChunkedUpload.objects.exists()
    problem(head(api, interop, url), 404, "not_found")


def test_head_of_an_expired_upload_is_410(api: APIClient, interop: InteropVersion) -> None:
    """An expired upload is no longer active: no offset to resume from, as for an append."""
    url = create(api, interop, b"abc", complete=False)["Location"]
    ChunkedUpload.objects.update(created_at=timezone.now() - timedelta(days=2))
    response = head(api, interop, url)
    problem(response, 410, "upload_expired")
    assert not response.has_header("Upload-Offset")
    assert api.delete(url, **version(interop)).status_code == 204  # its owner may still remove it


@override_settings(DRF_CHUNKED_UPLOAD_MAX_BYTES=1000)
def test_options_tells_the_limits() -> None:
    response = APIClient().options(URL)
    assert response.status_code == 204
    assert response["Accept-Patch"] == PARTIAL
    assert response["Upload-Limit"] == "max-size=1000, max-age=86400"
    v6 = APIClient().options(URL, HTTP_UPLOAD_DRAFT_INTEROP_VERSION="6")
    assert v6["Upload-Limit"] == "max-size=1000, expires=86400"


@override_settings(DRF_CHUNKED_UPLOAD_MAX_BYTES=10)
def test_over_the_limit_is_413(api: APIClient) -> None:
    v8 = VERSIONS[8]
    problem(create(api, v8, b"x" * 11, complete=True), 413, "size_limit_exceeded")
    problem(
        create(api, v8, b"x", complete=False, HTTP_UPLOAD_LENGTH="11"), 413, "size_limit_exceeded"
    )
    url = create(api, v8, b"x" * 5, complete=False)["Location"]
    assert "max-size=10" in head(api, v8, url)["Upload-Limit"]
    problem(append(api, v8, url, b"x" * 6, 5, complete=False), 413, "size_limit_exceeded")
    assert upload_of(url).offset == 5


@override_settings(DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_BYTES=8)
def test_an_upload_of_unknown_length_grows_within_the_bytes_quota(api: APIClient) -> None:
    v8 = VERSIONS[8]
    url = create(api, v8, b"x" * 5, complete=False)["Location"]
    problem(
        append(api, v8, url, b"x" * 4, 5, complete=False), 403, "unfinished_bytes_quota_exceeded"
    )
    assert upload_of(url).offset == 5
    assert append(api, v8, url, b"x" * 3, 5, complete=True).status_code == 200
    assert upload_of(url).status == "complete"


def test_content_digest_is_checked_per_request(api: APIClient) -> None:
    v8 = VERSIONS[8]
    url = create(api, v8, b"abc", complete=False)["Location"]
    good = base64.b64encode(hashlib.sha256(b"def").digest()).decode()
    bad = base64.b64encode(hashlib.sha256(b"xyz").digest()).decode()
    refused = append(
        api, v8, url, b"def", 3, complete=False, HTTP_CONTENT_DIGEST=f"sha-256=:{bad}:"
    )
    problem(refused, 400, "digest_mismatch")
    assert upload_of(url).offset == 3
    ok = append(api, v8, url, b"def", 3, complete=True, HTTP_CONTENT_DIGEST=f"sha-256=:{good}:")
    assert ok.status_code == 200 and stored_bytes(upload_of(url)) == b"abcdef"


@override_settings(DRF_CHUNKED_UPLOAD_CHECKSUM="sha256")
def test_repr_digest_in_sha_256(api: APIClient) -> None:
    response = create(api, VERSIONS[8], b"abc", complete=True)
    digest = base64.b64encode(hashlib.sha256(b"abc").digest()).decode()
    assert response["Repr-Digest"] == f"sha-256=:{digest}:"


def test_a_chunked_body_is_refused(api: APIClient) -> None:
    extra = {**version(VERSIONS[8]), "HTTP_UPLOAD_COMPLETE": "?1"}
    response = api.generic(
        "POST", URL, b"", content_type="application/octet-stream",
        HTTP_TRANSFER_ENCODING="chunked", **extra,
    )  # fmt: skip
    problem(response, 400, "invalid_header")


def test_a_failed_creation_leaves_nothing_without_a_104(api: APIClient) -> None:
    """No 104 here (no gunicorn): the client cannot know the URL, so nothing is kept (the live
    tests cut a creation after its 104 and resume it)."""
    bad = base64.b64encode(hashlib.sha256(b"xyz").digest()).decode()
    digest = f"sha-256=:{bad}:"
    response = create(api, VERSIONS[8], b"abc", complete=False, HTTP_CONTENT_DIGEST=digest)
    problem(response, 400, "digest_mismatch")
    assert not ChunkedUpload.objects.exists()


def test_reaching_the_declared_length_completes(api: APIClient, interop: InteropVersion) -> None:
    """As tusd does: tus-js-client's last chunk may say ``?0``; then an empty ``?1`` changes
    nothing and is answered as the completion was."""
    created = create(api, interop, b"abc", complete=False, HTTP_UPLOAD_LENGTH="6")
    url = created["Location"]
    done = append(api, interop, url, b"def", 3, complete=False)
    assert done.status_code == 200 and is_complete(interop, done)
    assert upload_of(url).status == UploadStatus.COMPLETE
    again = append(api, interop, url, b"", 6, complete=True)
    assert again.status_code == 200 and is_complete(interop, again)
    assert again.json()["id"] == str(upload_of(url).pk)
    refused = append(api, interop, url, b"", 5, complete=True)
    problem(refused, 410 if interop.number == 8 else 400, "upload_complete")


def test_a_request_holding_the_upload_does_not_block_the_next(api: APIClient) -> None:
    """A resuming client knows its earlier request is dead: an append or a cancellation ends it
    instead of waiting for its lease (the live tests stall a real request)."""
    v8 = VERSIONS[8]
    url = create(api, v8, b"abc", complete=False)["Location"]
    held = {"lease_token": uuid.uuid4(), "lease_expires_at": timezone.now() + timedelta(hours=1)}
    ChunkedUpload.objects.filter(pk=upload_of(url).pk).update(**held)
    assert append(api, v8, url, b"def", 3, complete=False).status_code == 204
    ChunkedUpload.objects.filter(pk=upload_of(url).pk).update(**held)
    assert api.delete(url, **version(v8)).status_code == 204


@override_settings(DRF_CHUNKED_UPLOAD_MAX_BYTES=10**16)
def test_a_limit_too_large_for_a_structured_field_is_left_out() -> None:
    assert APIClient().options(URL)["Upload-Limit"] == "max-age=86400"


default_router = DefaultRouter()
default_router.register("elsewhere", ResumableUploadViewSet, basename="resumable")
urlpatterns = default_router.urls


@pytest.mark.urls(__name__)
def test_drfs_own_router_mounts_it(api: APIClient) -> None:
    v8 = VERSIONS[8]
    extra = {**version(v8), **complete_header(v8, False)}
    created = api.generic("POST", "/elsewhere/", b"abc", "application/octet-stream", **extra)
    assert created.status_code == 201, created.content
    assert head(api, v8, created["Location"])["Upload-Offset"] == "3"
    assert append(api, v8, created["Location"], b"d", 3, complete=True).status_code == 200
