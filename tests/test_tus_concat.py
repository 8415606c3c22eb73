"""tus concatenation (``concatenation.py``, the tus edge): partial uploads, final uploads made of
them on every store (local, Django storage; S3 in ``test_tus_concat_s3.py``), bad
``Upload-Concat`` headers, ownership, expiry, quotas and the completion signal."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import crc32c
import pytest
import time_machine
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from chunked_uploads import concatenation, exceptions, signals, uploads
from chunked_uploads.models import ChunkedUpload
from chunked_uploads.stores import get_store

from .helpers import stored_bytes
from .test_tus import TUS, URL, create, head, patch, upload_of

pytestmark = pytest.mark.django_db

STORES = [
    pytest.param(None, id="local"),
    pytest.param("chunked_uploads.stores.storage.StorageStore", id="storage"),
]


@pytest.fixture
def completed() -> Iterator[list[ChunkedUpload]]:
    """The uploads ``upload_completed`` announced during the test."""
    announced: list[ChunkedUpload] = []

    def receiver(upload: ChunkedUpload, **kwargs: Any) -> None:
        announced.append(upload)

    signals.upload_completed.connect(receiver)
    yield announced
    signals.upload_completed.disconnect(receiver)


def new_partial(api: APIClient, data: bytes, *, finish: bool = True) -> str:
    response = create(api, len(data), HTTP_UPLOAD_CONCAT="partial")
    assert response.status_code == 201, response.content
    url = str(response["Location"])
    if finish and data:
        response = patch(api, url, data, 0)
        assert response.status_code == 204, response.content
    return url


def final(api: APIClient, urls: list[str], **headers: Any) -> Any:
    return api.post(URL, **{**TUS, "HTTP_UPLOAD_CONCAT": "final;" + " ".join(urls), **headers})


def concatenate(api: APIClient, pieces: list[bytes], **headers: Any) -> tuple[str, list[str]]:
    urls = [new_partial(api, piece) for piece in pieces]
    response = final(api, urls, **headers)
    assert response.status_code == 201, response.content
    return str(response["Location"]), urls


def expected_checksum(data: bytes, algorithm: str) -> str:
    if algorithm == "crc32c":
        return f"{crc32c.crc32c(data):08x}"
    return hashlib.new(algorithm, data).hexdigest()


def assert_used_up(api: APIClient, made: ChunkedUpload, partial_urls: list[str]) -> None:
    """The final upload ``made`` took the partials: their bytes are gone, their records stay
    (complete, claimed by it) for a client that retries, and only ``made`` holds a file."""
    for url in partial_urls:
        partial = upload_of(url)
        assert (partial.concatenated_into, partial.file.name) == (made.pk, "")
        assert partial.store_state is None
        response = head(api, url)
        assert response.status_code == 200
        assert response["Upload-Offset"] == response["Upload-Length"]
        assert response["Upload-Concat"] == "partial"
    assert list(ChunkedUpload.objects.exclude(file="")) == [made]
    assert ChunkedUpload.objects.count() == 1 + len(partial_urls)


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("algorithm", ["md5", "crc32c", "sha256"])
def test_final_upload_is_the_partials_in_order(
    api: APIClient, completed: list[ChunkedUpload], store: Any, algorithm: str
) -> None:
    pieces = [os.urandom(70_000), b"", os.urandom(1), os.urandom(300_001), os.urandom(5)]
    data = b"".join(pieces)
    metadata = "filename bW92aWUubXA0"
    with override_settings(DRF_CHUNKED_UPLOAD_STORE=store, DRF_CHUNKED_UPLOAD_CHECKSUM=algorithm):
        url, partials = concatenate(api, pieces, HTTP_UPLOAD_METADATA=metadata)
        upload = upload_of(url)
        assert stored_bytes(upload) == data
    assert upload.status == "complete"
    assert upload.checksum == expected_checksum(data, algorithm)
    assert (upload.size, upload.offset, upload.filename) == (len(data), len(data), "movie.mp4")
    # One announcement, of the final upload: the partials are pieces of it, not files.
    assert [u.pk for u in completed] == [upload.pk]
    response = head(api, url)
    assert response.status_code == 200
    assert response["Upload-Concat"] == "final;" + " ".join(partials)
    assert response["Upload-Length"] == response["Upload-Offset"] == str(len(data))
    assert response["Upload-Metadata"] == metadata
    # Single-use: the partials' bytes are gone once the final upload is complete.
    assert_used_up(api, upload, partials)


@pytest.mark.parametrize("store", STORES)
def test_partial_bytes_leave_no_file_behind(
    api: APIClient, store: Any, media_root: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        override_settings(DRF_CHUNKED_UPLOAD_STORE=store),
        django_capture_on_commit_callbacks(execute=True),
    ):
        url, _ = concatenate(api, [b"a" * 1000, b"b" * 2000])
    files = [path for path in media_root.rglob("*") if path.is_file()]
    assert files == [media_root / upload_of(url).file.name]


def test_partial_uploads_are_marked_and_not_announced(
    api: APIClient, completed: list[ChunkedUpload]
) -> None:
    url = new_partial(api, b"abc")
    response = head(api, url)
    assert response["Upload-Concat"] == "partial"
    assert response["Upload-Offset"] == "3"
    partial = upload_of(url)
    assert (partial.concatenation, partial.status) == ("partial", "complete")
    assert completed == []
    # A plain upload says nothing of concatenation.
    plain = create(api, 3)["Location"]
    assert "Upload-Concat" not in head(api, plain)


def test_relative_urls_are_accepted(api: APIClient) -> None:
    urls = [new_partial(api, b"abc"), new_partial(api, b"def")]
    paths = [u.removeprefix("http://testserver") for u in urls]
    response = final(api, paths)
    assert response.status_code == 201, response.content
    assert stored_bytes(upload_of(response["Location"])) == b"abcdef"


def test_patch_of_a_final_upload_is_forbidden(api: APIClient) -> None:
    url, _ = concatenate(api, [b"abc"])
    response = patch(api, url, b"d", 3)
    assert response.status_code == 403
    assert response.json()["code"] == "final_upload"


def test_a_final_upload_may_exceed_no_limit(api: APIClient) -> None:
    urls = [new_partial(api, b"a" * 60), new_partial(api, b"b" * 60)]
    with override_settings(DRF_CHUNKED_UPLOAD_MAX_BYTES=100):
        response = final(api, urls)
    assert response.status_code == 413
    assert ChunkedUpload.objects.count() == 2  # the partials stay


@pytest.mark.parametrize(
    "value",
    [
        "final",
        "final;",
        "final; {0}",
        "final;{0}  {1}",
        "final;{0},{1}",
        "final;{0} {0}",
        "Final;{0}",
        "partial;{0}",
        "final;http://elsewhere.example/api/tus/{2}/",
        "ftp://testserver/api/tus/{2}/",
        "final;/api/uploads/{2}/",
        "final;/api/tus/{2}/?x=1",
        "final;/api/tus/",
        "final;/nowhere/",
    ],
)
def test_malformed_upload_concat_gets_400(api: APIClient, value: str) -> None:
    urls = [new_partial(api, b"abc"), new_partial(api, b"def")]
    header = value.format(*urls, upload_of(urls[0]).pk)
    response = api.post(URL, **{**TUS, "HTTP_UPLOAD_CONCAT": header})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_header"
    assert ChunkedUpload.objects.filter(concatenation="final").count() == 0
    assert ChunkedUpload.objects.count() == 2


def test_too_many_partials_get_400(api: APIClient) -> None:
    urls = [new_partial(api, bytes([n])) for n in range(3)]
    with override_settings(DRF_CHUNKED_UPLOAD_MAX_CONCAT_PARTIALS=2):
        response = final(api, urls)
        assert response.status_code == 400
        assert "more than 2" in response.json()["detail"]
        assert final(api, urls[:2]).status_code == 201


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_UPLOAD_LENGTH": "6"},
        {"HTTP_UPLOAD_DEFER_LENGTH": "1"},
    ],
)
def test_a_final_upload_declares_no_length(api: APIClient, headers: dict[str, str]) -> None:
    urls = [new_partial(api, b"abc"), new_partial(api, b"def")]
    response = final(api, urls, **headers)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_header"


def test_a_final_upload_takes_no_body(api: APIClient) -> None:
    urls = [new_partial(api, b"abc")]
    headers = {**TUS, "HTTP_UPLOAD_CONCAT": "final;" + urls[0]}
    response = api.post(URL, b"xyz", content_type="application/offset+octet-stream", **headers)
    assert response.status_code == 400
    assert ChunkedUpload.objects.count() == 1


def test_what_is_not_a_finished_partial_is_refused(api: APIClient) -> None:
    partial = new_partial(api, b"abc")
    plain = create(api, 3, b"abc")["Location"]
    unfinished = new_partial(api, b"abcdef", finish=False)
    made, _ = concatenate(api, [b"xyz"])
    for url, reason in (
        (plain, "is not a partial upload"),
        (made, "is not a partial upload"),
        (unfinished, "is unfinished (0 of 6 bytes)"),
    ):
        response = final(api, [partial, url])
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "concatenation_refused"
        assert response.json()["detail"].startswith(f"{url} {reason}")
    assert upload_of(partial).concatenated_into is None


def test_unknown_and_foreign_partials_look_the_same(api: APIClient, other_api: APIClient) -> None:
    mine = new_partial(api, b"abc")
    theirs = new_partial(other_api, b"def")
    unknown = f"http://testserver/api/tus/{uuid.uuid4()}/"
    not_a_uuid = "http://testserver/api/tus/not-a-uuid/"
    answers = []
    for url in (theirs, unknown, not_a_uuid):
        response = final(api, [mine, url])
        assert response.status_code == 404, response.content
        assert response.json() == {
            "detail": f"No such partial upload: {url}",
            "code": "partial_upload_not_found",
        }
        answers.append(sorted(response.items()))
    assert answers[0] == answers[1]  # headers alike too: nothing tells the other user's apart
    assert upload_of(theirs).concatenated_into is None


def test_partials_are_single_use(api: APIClient) -> None:
    urls = [new_partial(api, b"abc"), new_partial(api, b"def"), new_partial(api, b"ghi")]
    assert final(api, urls).status_code == 201
    for other in (urls[:2], urls[::-1], [urls[0], urls[2], urls[1]]):
        response = final(api, other)
        assert response.status_code == 400  # taken by the first final upload
        assert response.json()["code"] == "concatenation_refused"
    assert ChunkedUpload.objects.filter(concatenation="final").count() == 1


@pytest.mark.parametrize("store", STORES)
def test_a_final_upload_sent_again_gets_the_same_upload(
    api: APIClient, store: Any, completed: list[ChunkedUpload]
) -> None:
    """A client whose answer was lost sends the same request again: it gets the upload its first
    request made, once announced, instead of a 404 for partials already deleted."""
    metadata = "filename ZmlsZS5iaW4="
    with override_settings(DRF_CHUNKED_UPLOAD_STORE=store):
        urls = [new_partial(api, b"abc" * 1000), new_partial(api, b"def" * 1000)]
        first = final(api, urls, HTTP_UPLOAD_METADATA=metadata)
        assert first.status_code == 201, first.content
        again = final(api, urls, HTTP_UPLOAD_METADATA=metadata)
        assert again.status_code == 201, again.content
        assert again["Location"] == first["Location"]
        made = upload_of(again["Location"])
        assert stored_bytes(made) == b"abc" * 1000 + b"def" * 1000
    assert_used_up(api, made, urls)
    assert [upload.pk for upload in completed] == [made.pk]


def test_the_same_partials_with_other_metadata_are_another_request(api: APIClient) -> None:
    urls = [new_partial(api, b"abc"), new_partial(api, b"def")]
    assert final(api, urls, HTTP_UPLOAD_METADATA="filename YS5iaW4=").status_code == 201
    for metadata in ("filename Yi5iaW4=", ""):
        response = final(api, urls, HTTP_UPLOAD_METADATA=metadata)
        assert response.status_code == 400, response.content  # taken by the first request
        assert response.json()["code"] == "concatenation_refused"


def test_partials_used_up_by_a_deleted_final_upload_are_refused(api: APIClient) -> None:
    urls = [new_partial(api, b"abc"), new_partial(api, b"def")]
    made = final(api, urls)
    assert api.delete(made["Location"], **TUS).status_code == 204
    response = final(api, urls)
    assert response.status_code == 400  # their bytes went with the final upload
    assert response.json() == {
        "detail": f"{urls[0]} was used up by another final upload",
        "code": "concatenation_refused",
    }
    assert not ChunkedUpload.objects.filter(concatenation="final").exists()


def test_another_user_sending_the_same_final_upload_gets_404(
    api: APIClient, other_api: APIClient
) -> None:
    urls = [new_partial(api, b"abc"), new_partial(api, b"def")]
    assert final(api, urls).status_code == 201
    response = other_api.post(URL, **{**TUS, "HTTP_UPLOAD_CONCAT": "final;" + " ".join(urls)})
    assert response.status_code == 404
    assert response.json()["code"] == "partial_upload_not_found"


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("deleted", [0, 1], ids=["none-used-up", "one-used-up"])
def test_a_final_upload_whose_maker_died_after_completing_it_is_given_back(
    api: APIClient, user: Any, store: Any, deleted: int, completed: list[ChunkedUpload]
) -> None:
    """What a worker killed after completing a final upload leaves (the upload complete, some or
    all of its partials still holding their bytes): the retry gets that upload and the partials'
    bytes go."""
    with override_settings(DRF_CHUNKED_UPLOAD_STORE=store):
        urls = [new_partial(api, b"abc" * 1000), new_partial(api, b"def" * 1000)]
        partials = [upload_of(url) for url in urls]
        store_ = get_store()
        made, lease = concatenation._create(
            ChunkedUpload, partials, {"user": user}, None, {}, store_
        )
        concatenation._claim(made, partials)
        concatenation._adopt(made, partials, store_, lease)
        uploads.complete(made, None, lease=lease)
        for partial in partials[:deleted]:
            concatenation._use_up(partial, store_)
        response = final(api, urls)
        assert response.status_code == 201, response.content
        assert upload_of(response["Location"]).pk == made.pk
        assert stored_bytes(made) == b"abc" * 1000 + b"def" * 1000
    assert_used_up(api, made, urls)
    assert [upload.pk for upload in completed] == [made.pk]


def test_a_partial_claimed_by_another_final_upload_is_refused(api: APIClient) -> None:
    urls = [new_partial(api, b"abc"), new_partial(api, b"def")]
    first = create(api, 3)  # any live upload stands in for a final upload being made
    ChunkedUpload.objects.filter(pk=upload_of(urls[1]).pk).update(
        concatenated_into=upload_of(first["Location"]).pk
    )
    response = final(api, urls)
    assert response.status_code == 400
    assert response.json()["code"] == "concatenation_refused"
    # All or none: the other partial was not left claimed, and nothing else remains.
    assert upload_of(urls[0]).concatenated_into is None
    assert not ChunkedUpload.objects.filter(concatenation="final").exists()


def test_a_claim_of_a_final_upload_that_is_gone_counts_for_nothing(api: APIClient) -> None:
    urls = [new_partial(api, b"abc"), new_partial(api, b"def")]
    ChunkedUpload.objects.filter(pk=upload_of(urls[0]).pk).update(concatenated_into=uuid.uuid4())
    response = final(api, urls)
    assert response.status_code == 201, response.content
    assert stored_bytes(upload_of(response["Location"])) == b"abcdef"


@pytest.mark.parametrize("store", STORES)
def test_a_final_upload_whose_maker_died_gives_its_partials_up(
    api: APIClient, user: Any, store: Any
) -> None:
    """What a worker killed while it made a final upload leaves (the upload made and its
    partials claimed, nothing more) holds them only while its lease runs."""
    with override_settings(DRF_CHUNKED_UPLOAD_STORE=store):
        urls = [new_partial(api, b"abc" * 1000), new_partial(api, b"def" * 1000)]
        partials = [upload_of(url) for url in urls]
        queryset = ChunkedUpload.objects.all()
        dead, _ = concatenation._create(
            ChunkedUpload, partials, {"user": user}, None, {}, get_store()
        )
        concatenation._claim(dead, partials)
        refused = final(api, urls)
        assert refused.status_code == 400
        assert refused.json()["code"] == "concatenation_refused"
        with time_machine.travel(timezone.now() + timedelta(seconds=61)):
            response = final(api, urls)
        assert response.status_code == 201, response.content
        made = upload_of(response["Location"])
        assert stored_bytes(made) == b"abc" * 1000 + b"def" * 1000
        assert not queryset.filter(pk=dead.pk).exists()
        assert_used_up(api, made, urls)


@pytest.mark.parametrize("store", STORES)
def test_a_failed_hook_leaves_the_partials_for_another_try(
    api: APIClient, store: Any, media_root: Any
) -> None:
    calls: list[str] = []

    def receiver(upload: ChunkedUpload, **kwargs: Any) -> None:
        calls.append(str(upload.pk))
        if len(calls) == 1:
            raise RuntimeError("the hook failed")

    with override_settings(DRF_CHUNKED_UPLOAD_STORE=store):
        urls = [new_partial(api, b"abc" * 1000), new_partial(api, b"def" * 1000)]
        signals.upload_completed.connect(receiver)
        try:
            with pytest.raises(RuntimeError):
                final(api, urls)
            assert not ChunkedUpload.objects.filter(concatenation="final").exists()
            assert all(upload_of(u).concatenated_into is None for u in urls)
            response = final(api, urls)
        finally:
            signals.upload_completed.disconnect(receiver)
        assert response.status_code == 201, response.content
        assert stored_bytes(upload_of(response["Location"])) == b"abc" * 1000 + b"def" * 1000
    assert len(calls) == 2


def test_partials_expire_even_when_complete(api: APIClient) -> None:
    url = new_partial(api, b"abc")
    later = timezone.now() + timedelta(days=2)
    with time_machine.travel(later):
        response = final(api, [url])
        assert response.status_code == 400
        assert "has expired" in response.json()["detail"]
        call_command("delete_expired_uploads", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert not ChunkedUpload.objects.exists()


def test_used_up_partials_are_not_listed_as_files(api: APIClient) -> None:
    url, partials = concatenate(api, [b"abc", b"def"])
    waiting = new_partial(api, b"ghi")  # not used yet: listed, as before
    listed = api.get("/api/uploads/").json()["results"]
    assert sorted(item["id"] for item in listed) == sorted(
        str(upload_of(u).pk) for u in (url, waiting)
    )
    assert api.get(f"/api/uploads/{upload_of(partials[0]).pk}/").status_code == 200


def test_used_up_partials_expire_and_the_final_upload_stays(api: APIClient) -> None:
    url, partials = concatenate(api, [b"abc", b"def"])
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        call_command("delete_expired_uploads", stdout=open(os.devnull, "w"))  # noqa: SIM115
        assert [head(api, partial).status_code for partial in partials] == [404, 404]
    assert list(ChunkedUpload.objects.all()) == [upload_of(url)]
    assert stored_bytes(upload_of(url)) == b"abcdef"


@override_settings(DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_BYTES=10)
def test_used_up_partials_count_no_bytes(api: APIClient) -> None:
    concatenate(api, [b"abcd", b"efgh"])
    assert create(api, 10, HTTP_UPLOAD_CONCAT="partial").status_code == 201


def test_a_complete_upload_that_is_not_partial_never_expires(api: APIClient) -> None:
    create(api, 3, b"abc")
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        call_command("delete_expired_uploads", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert ChunkedUpload.objects.count() == 1


@override_settings(DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_UPLOADS=2)
def test_partials_count_as_unfinished_until_concatenated(api: APIClient) -> None:
    urls = [new_partial(api, b"abc"), new_partial(api, b"def")]
    response = create(api, 3, HTTP_UPLOAD_CONCAT="partial")
    assert response.status_code == 403
    assert final(api, urls).status_code == 201
    assert create(api, 3, HTTP_UPLOAD_CONCAT="partial").status_code == 201


def test_deleting_a_partial_before_the_final_upload(api: APIClient) -> None:
    urls = [new_partial(api, b"abc"), new_partial(api, b"def")]
    assert api.delete(urls[1], **TUS).status_code == 204
    response = final(api, urls)
    assert response.status_code == 404
    assert ChunkedUpload.objects.count() == 1


@pytest.mark.parametrize("store", STORES)
def test_a_final_upload_of_empty_partials_is_empty(api: APIClient, store: Any) -> None:
    with override_settings(DRF_CHUNKED_UPLOAD_STORE=store):
        url, _ = concatenate(api, [b"", b""])
        upload = upload_of(url)
        assert (upload.status, upload.size) == ("complete", 0)
        assert stored_bytes(upload) == b""
    assert upload.checksum == hashlib.md5(b"").hexdigest()


def test_without_copy_file_range_the_bytes_are_copied_by_the_process(
    api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on a platform without ``os.copy_file_range`` (macOS): the plain copy.
    monkeypatch.delattr(os, "copy_file_range", raising=False)
    pieces = [os.urandom(9 * 1024 * 1024 + 1), os.urandom(10)]
    url, _ = concatenate(api, pieces)
    assert stored_bytes(upload_of(url)) == b"".join(pieces)


def test_a_partial_whose_file_is_short_is_refused_and_kept(api: APIClient) -> None:
    urls = [new_partial(api, b"abc"), new_partial(api, b"defgh")]
    partial = upload_of(urls[1])
    with partial.file.storage.open(partial.file.name, "r+b") as file:
        file.truncate(2)  # lost outside the app
    response = final(api, urls)
    assert response.status_code == 410
    assert response.json()["code"] == "stored_bytes_missing"
    assert not ChunkedUpload.objects.filter(concatenation="final").exists()
    assert upload_of(urls[0]).concatenated_into is None


@override_settings(DRF_CHUNKED_UPLOAD_USER_RESTRICTED=False)
def test_another_users_partial_is_refused_even_unrestricted(
    api: APIClient, other_api: APIClient
) -> None:
    # Without USER_RESTRICTED every upload is visible, but a final upload is its owner's file:
    # it takes only its owner's partials.
    theirs = new_partial(other_api, b"def")
    response = final(api, [new_partial(api, b"abc"), theirs])
    assert response.status_code == 404
    assert response.json()["code"] == "partial_upload_not_found"


def test_partials_of_another_checksum_are_refused_for_crc32c(api: APIClient) -> None:
    urls = [new_partial(api, b"abc")]
    with override_settings(DRF_CHUNKED_UPLOAD_CHECKSUM="crc32c"):
        urls.append(new_partial(api, b"def"))
        response = final(api, urls)
        assert response.status_code == 400
        assert response.json()["detail"].endswith("was uploaded with another checksum (md5)")
        assert final(api, urls[1:]).status_code == 201


def test_the_core_checks_what_an_edge_might_not(user: Any) -> None:
    """``concatenation.concatenate()`` refuses too many and repeated partials by itself."""
    queryset = ChunkedUpload.objects.all()
    owner = {"user": user}
    same = [("a", uuid.uuid4())] * 2
    with pytest.raises(exceptions.ConcatenationRefused, match="each partial upload once"):
        concatenation.concatenate(queryset, same, owner)
    with (
        override_settings(DRF_CHUNKED_UPLOAD_MAX_CONCAT_PARTIALS=1),
        pytest.raises(exceptions.ConcatenationRefused, match="at most 1 partial"),
    ):
        concatenation.concatenate(queryset, [("a", uuid.uuid4()), ("b", uuid.uuid4())], owner)


@pytest.mark.parametrize("store", STORES)
def test_a_partial_file_gone_is_410(api: APIClient, store: Any) -> None:
    with override_settings(DRF_CHUNKED_UPLOAD_STORE=store):
        urls = [new_partial(api, b"abc"), new_partial(api, b"def")]
        partial = upload_of(urls[0])
        partial.file.storage.delete(partial.file.name)  # as a concurrent DELETE would
        response = final(api, urls)
    assert response.status_code == 410
    assert response.json()["code"] == "stored_bytes_missing"
    assert not ChunkedUpload.objects.filter(concatenation="final").exists()
