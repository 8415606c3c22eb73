"""Per-chunk integrity: ``Content-Digest`` (RFC 9530) and ``Content-MD5`` (RFC 1864) on chunks.

Tried: matching and mismatching digests on raw and multipart chunks, several algorithms in one
header, unknown algorithms (ignored), malformed headers (400), hex ``Content-MD5``; after every
refusal the offset and the stored bytes are unchanged and the same chunk can be sent again.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from chunked_uploads.chunk_digests import parse_body_digests
from chunked_uploads.exceptions import (
    ChunkDigestHeaderTooLarge,
    ChunkDigestMismatch,
    InvalidChunkDigest,
)
from chunked_uploads.models import ChunkedUpload

from .helpers import LIST_URL, put_chunk, stored_bytes


def b64(algorithm: str, data: bytes) -> str:
    return base64.b64encode(hashlib.new(algorithm, data).digest()).decode()


def sf(algorithm: str, data: bytes, name: str) -> str:
    return f"{name}=:{b64(algorithm, data)}:"


@pytest.fixture
def started(api: Any, payload: bytes) -> str:
    response = put_chunk(api, LIST_URL, payload[:100_000], 0, len(payload), raw=True)
    assert response.status_code == 200
    url: str = response.json()["url"]
    return url


def test_matching_content_digest_is_accepted(api: Any, payload: bytes, started: str) -> None:
    chunk = payload[100_000:200_000]
    header = f"{sf('sha256', chunk, 'sha-256')}, {sf('sha512', chunk, 'sha-512')}"
    response = put_chunk(
        api, started, chunk, 100_000, len(payload), raw=True, HTTP_CONTENT_DIGEST=header
    )
    assert response.status_code == 200, response.content
    assert response.json()["offset"] == 200_000


@pytest.mark.parametrize("raw", [True, False])
def test_mismatching_digest_discards_the_chunk(
    api: Any, payload: bytes, started: str, raw: bool
) -> None:
    chunk = payload[100_000:200_000]
    wrong = sf("sha256", chunk[:-1] + b"x", "sha-256")
    response = put_chunk(
        api, started, chunk, 100_000, len(payload), raw=raw, HTTP_CONTENT_DIGEST=wrong
    )
    assert response.status_code == 400
    assert response.json()["code"] == "chunk_digest_mismatch"
    upload = ChunkedUpload.objects.get()
    assert upload.offset == 100_000
    assert stored_bytes(upload)[:100_000] == payload[:100_000]
    # The same chunk sent again without the wrong digest is accepted, and nothing else survived.
    response = put_chunk(api, started, chunk, 100_000, len(payload), raw=raw)
    assert response.status_code == 200
    assert stored_bytes(ChunkedUpload.objects.get()) == payload[:200_000]


def test_multipart_digest_covers_the_whole_body(api: Any, payload: bytes, started: str) -> None:
    """RFC 9530 content of a multipart request is the multipart body, not the part."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test.client import BOUNDARY, encode_multipart

    chunk = payload[100_000:200_000]
    body = encode_multipart(BOUNDARY, {"file": SimpleUploadedFile("a.bin", chunk)})
    response = api.generic(
        "PUT",
        started,
        body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        HTTP_CONTENT_RANGE=f"bytes 100000-199999/{len(payload)}",
        HTTP_CONTENT_DIGEST=sf("sha256", body, "sha-256"),
    )
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("encode", [lambda d: b64("md5", d), lambda d: hashlib.md5(d).hexdigest()])
def test_content_md5_base64_or_hex(api: Any, payload: bytes, started: str, encode: Any) -> None:
    chunk = payload[100_000:200_000]
    ok = put_chunk(
        api, started, chunk, 100_000, len(payload), raw=True, HTTP_CONTENT_MD5=encode(chunk)
    )
    assert ok.status_code == 200, ok.content
    chunk = payload[200_000:]
    bad = put_chunk(
        api, started, chunk, 200_000, len(payload), raw=True, HTTP_CONTENT_MD5=encode(b"x")
    )
    assert bad.status_code == 400
    assert bad.json()["detail"].startswith("The chunk's Content-MD5 (md5) does not match")
    assert ChunkedUpload.objects.get().offset == 200_000


@pytest.mark.parametrize(
    "meta",
    [
        {"HTTP_CONTENT_DIGEST": "sha-256=notbase64"},
        {"HTTP_CONTENT_DIGEST": "sha-256=:!!!!:"},
        {"HTTP_CONTENT_DIGEST": "sha-256=:AAAA:"},  # valid base64, wrong length
        {"HTTP_CONTENT_MD5": "abc"},
    ],
)
def test_malformed_headers_are_refused(meta: dict[str, str]) -> None:
    with pytest.raises(InvalidChunkDigest):
        parse_body_digests(meta)


def test_unknown_algorithms_are_ignored() -> None:
    assert parse_body_digests({"HTTP_CONTENT_DIGEST": "crc32c=:AAAAAA==:"}) is None
    assert parse_body_digests({}) is None


def test_malformed_header_is_a_400_before_the_body(api: Any, payload: bytes, started: str) -> None:
    chunk = payload[100_000:200_000]
    response = put_chunk(
        api, started, chunk, 100_000, len(payload), raw=True, HTTP_CONTENT_DIGEST="x"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_chunk_digest"
    assert ChunkedUpload.objects.get().offset == 100_000


class ReadsPost:
    """A middleware that reads ``request.POST`` before the view (as some CSRF or logging
    middlewares do): Django parses a multipart ``POST`` itself and the body is gone."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        request.POST  # noqa: B018 - the access is the point
        return self.get_response(request)


@pytest.fixture
def reads_post(settings: Any) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.ReadsPost"]


def single_shot(api: Any, data: bytes, **extra: Any) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    body = {"file": SimpleUploadedFile("whole.bin", data), "md5": hashlib.md5(data).hexdigest()}
    return api.post(LIST_URL, body, format="multipart", **extra)


def test_a_body_parsed_before_the_view_is_still_stored(
    api: Any, payload: bytes, reads_post: None
) -> None:
    """Without digest headers the chunk Django parsed is taken from ``request.FILES``."""
    response = single_shot(api, payload)
    assert response.status_code == 200, response.content
    assert stored_bytes(ChunkedUpload.objects.get()) == payload


def test_digest_headers_on_a_body_parsed_before_the_view_are_refused_as_unverifiable(
    api: Any, payload: bytes, reads_post: None
) -> None:
    """The multipart body the digest covers is gone: a clear 400, not a false mismatch, and no
    upload is created."""
    response = single_shot(api, payload, HTTP_CONTENT_MD5=b64("md5", b"any body"))
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "chunk_digest_unverifiable"
    assert ChunkedUpload.objects.count() == 0


@pytest.mark.parametrize(
    "header",
    [
        ", ".join([sf("sha256", b"x", "sha-256")] * 17),  # 17 members, each short
        "crc32c=:" + "A" * 1100 + ":",  # one member, too long
    ],
)
def test_oversized_content_digest_is_refused(header: str) -> None:
    with pytest.raises(ChunkDigestHeaderTooLarge):
        parse_body_digests({"HTTP_CONTENT_DIGEST": header})


def test_each_algorithm_hashes_the_body_once() -> None:
    header = ", ".join([sf("sha256", b"body", "sha-256")] * 8 + [sf("md5", b"body", "md5")] * 8)
    digests = parse_body_digests({"HTTP_CONTENT_DIGEST": header})
    assert digests is not None
    assert sorted(digests._hashers) == ["md5", "sha256"]
    digests.update(b"body")
    digests.verify()


def test_repeated_algorithm_with_another_value_still_mismatches() -> None:
    header = f"{sf('sha256', b'body', 'sha-256')}, {sf('sha256', b'other', 'sha-256')}"
    digests = parse_body_digests({"HTTP_CONTENT_DIGEST": header})
    assert digests is not None
    digests.update(b"body")
    with pytest.raises(ChunkDigestMismatch):
        digests.verify()


def test_oversized_header_is_a_400_before_the_body(api: Any, payload: bytes, started: str) -> None:
    header = ", ".join([sf("sha256", payload[100_000:200_000], "sha-256")] * 17)
    response = put_chunk(
        api, started, payload[100_000:200_000], 100_000, len(payload), raw=True,
        HTTP_CONTENT_DIGEST=header,
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["code"] == "chunk_digest_header_too_large"
    assert ChunkedUpload.objects.get().offset == 100_000
