"""CRC-32C combination (``combinable_checksums.py``) and parallel uploads completed with it."""

from __future__ import annotations

import os
import random
from typing import Any

import crc32c
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from chunked_uploads.combinable_checksums import Crc32cDigest, combine, combine_all
from chunked_uploads.models import ChunkedUpload
from chunked_uploads.resumable_digests import new_digest
from chunked_uploads.stores.local import LocalFileStore

from .helpers import LIST_URL, put_chunk, stored_bytes

CHUNK = 1000


def test_known_value() -> None:
    digest = Crc32cDigest()
    digest.update(b"123456789")
    assert digest.hexdigest() == "e3069283"  # the CRC-32C check value
    assert new_digest("crc32c", digest.state()).hexdigest() == "e3069283"


@given(st.binary(max_size=3000), st.binary(max_size=3000))
def test_combine_equals_the_crc_of_the_concatenation(a: bytes, b: bytes) -> None:
    assert combine(crc32c.crc32c(a), crc32c.crc32c(b), len(b)) == crc32c.crc32c(a + b)


def test_combine_all_over_many_pieces() -> None:
    data = os.urandom(100_000)
    cuts = sorted(random.sample(range(1, len(data)), 20))
    pieces = [data[i:j] for i, j in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    assert combine_all((crc32c.crc32c(p), len(p)) for p in pieces) == crc32c.crc32c(data)


class UnreadableLocalStore(LocalFileStore):
    """The local store, refusing to read back: completion must not need it."""

    def open_part_reader(self, name: str, start: int, record: Any) -> Any:
        raise AssertionError("read back a part")

    def open_reader(self, name: str, state: Any = None) -> Any:
        raise AssertionError("read back the file")


@override_settings(
    DRF_CHUNKED_UPLOAD_CHECKSUM="crc32c",
    DRF_CHUNKED_UPLOAD_STORE="tests.test_combinable_checksums.UnreadableLocalStore",
)
def test_parallel_upload_completes_from_the_chunks_crcs(api: APIClient, payload: bytes) -> None:
    data = payload[: CHUNK * 7 + 11]
    response = put_chunk(api, LIST_URL, data[:CHUNK], 0, len(data), HTTP_UPLOAD_MODE="parallel")
    assert response.json()["checksum_algorithm"] == "crc32c"
    url = response.json()["url"]
    offsets = list(range(CHUNK, len(data), CHUNK))
    random.shuffle(offsets)
    for start in offsets:
        chunk = data[start : start + CHUNK]
        assert put_chunk(api, url, chunk, start, len(data)).status_code == 200
    wrong = api.post(url, {"crc32c": "00000000"}, format="json")
    assert wrong.json()["code"] == "checksum_mismatch"
    response = api.post(url, {"crc32c": f"{crc32c.crc32c(data):08x}"}, format="json")
    assert response.status_code == 200, response.content
    assert stored_bytes(ChunkedUpload.objects.get()) == data


@override_settings(DRF_CHUNKED_UPLOAD_CHECKSUM="crc32c")
def test_sequential_upload_with_crc32c(api: APIClient, payload: bytes) -> None:
    response = put_chunk(api, LIST_URL, payload[:CHUNK], 0, 2 * CHUNK)
    url = response.json()["url"]
    assert put_chunk(api, url, payload[CHUNK : 2 * CHUNK], CHUNK, 2 * CHUNK).status_code == 200
    checksum = f"{crc32c.crc32c(payload[: 2 * CHUNK]):08x}"
    assert api.post(url, {"crc32c": checksum}, format="json").status_code == 200
