"""Tests of ``bodies/multipart.py``: the chunk's part taken out of a multipart body, the rest left to
Django.

Differential: every body is parsed twice, by Django's ``MultiPartParser`` alone and by
``ChunkPartReader`` followed by Django on what it leaves, through the same recording upload
handler; the chunk's bytes, its file name and the other fields must come out the same. Tried:
bodies read back in pieces of 1 byte to 1 MiB (so the boundary straddles every possible block
edge), data full of near-boundaries (``\\r\\n--`` and boundary prefixes), fields before and after
the chunk, other file parts, a second part of the same name, bare ``LF`` line breaks, empty data,
an encoded part, a chunk part beyond the first 64 KiB, a body cut off inside the chunk, malformed
part headers, and ``DATA_UPLOAD_MAX_NUMBER_FILES`` at and just below the number of file parts.
"""

from __future__ import annotations

import io
import os
import random
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import TooManyFilesSent
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http.multipartparser import MultiPartParser

from chunked_uploads.bodies.multipart import MAX_PREFIX, ChunkPartReader, PartHeaders, Split

BOUNDARY = "xYzZY-boundary"
FIELD = "file"


class Recorder(FileUploadHandler):
    """Records the first file part named ``file``, as the view's handler streams it."""

    chunk_size = 64 * 1024

    def __init__(self) -> None:
        super().__init__()
        self.seen = False
        self.file_name: str | None = None
        self.parts: list[bytes] = []

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        if field_name != FIELD or self.seen:
            raise SkipFile()
        self.begin(file_name)

    def begin(self, file_name: str | None) -> Recorder:
        self.seen, self.file_name = True, file_name
        return self

    def write(self, data: bytes) -> None:
        self.parts.append(bytes(data))

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.write(raw_data)

    def file_complete(self, file_size: int) -> None:
        return None


class Choppy:
    """A body read back in pieces of random sizes, as a socket returns it."""

    def __init__(self, body: bytes, seed: int, largest: int) -> None:
        self._body = io.BytesIO(body)
        self._random = random.Random(seed)
        self._largest = largest

    def read(self, size: int = -1) -> bytes:
        limit = self._random.randint(1, self._largest)
        return self._body.read(limit if size < 0 else min(size, limit))


def split_chunk_part(
    stream: Any,
    boundary: bytes,
    field_name: str,
    open_part: Callable[[PartHeaders], Any],
    sanitize: Callable[[str], str | None],
) -> Split:
    """Pull the chunk's part out of ``stream`` with ``ChunkPartReader``, as ``MultipartBody``
    does, into ``open_part(part).write``; return what is left for Django."""
    reader = ChunkPartReader(stream, boundary, field_name, sanitize)
    part = reader.find()
    if part is not None:
        writer = open_part(part)
        for block in reader.blocks():
            writer.write(block)
    return reader.rest()


def meta(length: int) -> dict[str, Any]:
    return {
        "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
        "CONTENT_LENGTH": str(length),
    }


def django_alone(body: bytes) -> tuple[Recorder, dict[str, list[str]]]:
    handler = Recorder()
    data, _ = MultiPartParser(meta(len(body)), io.BytesIO(body), [handler], "utf-8").parse()
    return handler, dict(data.lists())


def split_then_django(
    body: bytes, seed: int = 0, largest: int = 1 << 20
) -> tuple[Recorder, dict[str, list[str]], bool]:
    handler = Recorder()
    django = MultiPartParser(meta(len(body)), io.BytesIO(b""), [handler], "utf-8")
    split = split_chunk_part(
        Choppy(body, seed, largest),
        BOUNDARY.encode(),
        FIELD,
        lambda part: handler.begin(part.file_name),
        django.sanitize_file_name,
    )
    rest = MultiPartParser(meta(len(body) - split.removed), split.rest, [handler], "utf-8")
    data, _ = rest.parse()
    return handler, dict(data.lists()), split.found


def field(name: str, value: str, newline: bytes = b"\r\n") -> bytes:
    disposition = f'Content-Disposition: form-data; name="{name}"'.encode()
    return (
        b"--" + BOUNDARY.encode() + newline + disposition + b"\r\n\r\n" + value.encode() + newline
    )


def file_part(name: str, data: bytes, filename: str = "chunk.bin", extra: bytes = b"") -> bytes:
    head = f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'.encode()
    head += b"Content-Type: application/octet-stream\r\n" + extra
    return b"--" + BOUNDARY.encode() + b"\r\n" + head + b"\r\n" + data + b"\r\n"


def closing() -> bytes:
    return b"--" + BOUNDARY.encode() + b"--\r\n"


def tricky_data(size: int, seed: int) -> bytes:
    """Random bytes sprinkled with line breaks, dashes and prefixes of the boundary."""
    rng = random.Random(seed)
    near = [
        b"\r",
        b"\n",
        b"\r\n",
        b"\r\n-",
        b"\r\n--",
        b"--",
        b"\r\n--xYz",
        b"--xYzZY-bound",
        b"\n--",
    ]
    pieces, total = [], 0
    while total < size:
        piece = rng.choice(near) if rng.random() < 0.3 else os.urandom(rng.randint(1, 300))
        pieces.append(piece)
        total += len(piece)
    return b"".join(pieces)[:size]


def assert_same(body: bytes, *, seed: int = 0, largest: int = 1 << 20, found: bool = True) -> None:
    expected_handler, expected_data = django_alone(body)
    handler, data, took = split_then_django(body, seed, largest)
    assert took is found
    assert b"".join(handler.parts) == b"".join(expected_handler.parts)
    assert handler.file_name == expected_handler.file_name
    assert data == expected_data


@pytest.mark.parametrize("largest", [1, 7, 100, 4096, 1 << 20])
@pytest.mark.parametrize("seed", range(4))
def test_the_chunk_comes_out_as_django_sees_it(largest: int, seed: int) -> None:
    chunk = tricky_data(50_000 if largest > 1 else 3_000, seed)
    body = field("filename", "a.bin") + file_part(FIELD, chunk) + field("after", "x") + closing()
    assert_same(body, seed=seed, largest=largest)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(file_part(FIELD, b"") + closing(), id="empty data"),
        pytest.param(file_part(FIELD, b"ends with CRLF\r\n") + closing(), id="data ending in CRLF"),
        pytest.param(file_part(FIELD, b"ends with CR\r") + closing(), id="data ending in CR"),
        pytest.param(b"preamble\r\n" + file_part(FIELD, b"abc") + closing(), id="preamble"),
        pytest.param(
            file_part("other", b"not this one") + file_part(FIELD, b"this one") + closing(),
            id="another file part first",
        ),
        pytest.param(
            file_part(FIELD, b"first") + file_part(FIELD, b"second") + closing(),
            id="two parts of the name",
        ),
        pytest.param(
            b"--" + BOUNDARY.encode() + b"\r\n"
            b'Content-Disposition: form-data; name="file"; filename="c.bin"\r\n\r\n'
            b"lf-only data\n--" + BOUNDARY.encode() + b"--\n",
            id="LF before the closing delimiter",
        ),
        pytest.param(
            file_part(FIELD, b"abc", filename="../../etc/passwd") + closing(), id="path in name"
        ),
        pytest.param(file_part(FIELD, b"abc") + closing() + b"epilogue\r\n", id="epilogue"),
    ],
)
def test_edge_cases_come_out_as_django_sees_them(body: bytes) -> None:
    for largest in (1, 3, 1 << 20):
        assert_same(body, largest=largest)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            file_part(FIELD, b"QUJD", extra=b"Content-Transfer-Encoding: base64\r\n") + closing(),
            id="encoded part",
        ),
        pytest.param(
            field("big", "x" * (MAX_PREFIX + 10)) + file_part(FIELD, b"late") + closing(),
            id="chunk part after 64 KiB",
        ),
        pytest.param(file_part(FIELD, b"abc", filename="") + closing(), id="no file name"),
        pytest.param(file_part(FIELD, b"abc", filename="..") + closing(), id="dot-dot file name"),
        pytest.param(field("filename", "only fields") + closing(), id="no file part"),
        pytest.param(b"not multipart at all", id="garbage"),
    ],
)
def test_unusual_bodies_are_left_whole_to_django(body: bytes) -> None:
    assert_same(body, largest=5, found=False)


def test_the_part_taken_out_is_counted_exactly() -> None:
    """Django is told the new body length: the chunk part keeps its delimiter, headers and line
    break; only its data is gone."""
    chunk = tricky_data(10_000, 9)
    before, part, after = field("filename", "a.bin"), file_part(FIELD, chunk), field("x", "1")
    split = split_chunk_part(
        Choppy(before + part + after + closing(), 1, 999),
        BOUNDARY.encode(),
        FIELD,
        lambda _: Recorder(),
        lambda name: name,
    )
    assert split.removed == len(chunk)
    emptied = file_part(FIELD, b"")
    assert split.rest.read(-1) + split.rest.read(-1) == before + emptied + after + closing()


@pytest.mark.parametrize("others", [0, 1, 2])
@pytest.mark.parametrize("limit", [1, 2])
def test_the_chunk_part_counts_against_the_file_limit(
    settings: Any, limit: int, others: int
) -> None:
    """DATA_UPLOAD_MAX_NUMBER_FILES counts the chunk's part, as Django alone counts it: the
    chunk plus ``others`` file parts is refused exactly when Django alone refuses it."""
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = limit
    extra = b"".join(file_part(f"other{i}", b"x") for i in range(others))
    body = field("a", "1") + file_part(FIELD, tricky_data(5_000, 3)) + extra + closing()
    refused = 1 + others > limit
    for parse in (django_alone, split_then_django):
        if refused:
            with pytest.raises(TooManyFilesSent):
                parse(body)
        else:
            parse(body)
    if not refused:
        assert_same(body, largest=77)


def test_a_trickled_body_is_searched_a_bounded_number_of_times(monkeypatch: Any) -> None:
    """A client sending its first 64 KiB a byte per packet: the search for the chunk's part
    must not start over for every byte (quadratic work on the server)."""
    from chunked_uploads.bodies import multipart

    searches = []
    real = multipart._next_part

    def counting(*args: Any) -> Any:
        searches.append(1)
        return real(*args)

    monkeypatch.setattr(multipart, "_next_part", counting)
    body = field("note", "y" * 60_000) + file_part(FIELD, b"late chunk") + closing()
    assert_same(body, largest=1)
    assert len(searches) < 20


def test_a_body_cut_off_inside_the_chunk_gives_the_bytes_that_came() -> None:
    body = file_part(FIELD, b"0123456789" * 1000)[:5000]
    handler, data, took = split_then_django(body, largest=333)
    assert took
    assert b"".join(handler.parts) == body[body.index(b"\r\n\r\n") + 4 :]
    assert data == {}


def test_large_blocks_pass_through_unsliced() -> None:
    block = os.urandom(1 << 20).replace(b"\r", b"r").replace(b"\n", b"n").replace(b"-", b"_")
    head = file_part(FIELD, b"")[: -len(b"\r\n")]  # the part's headers, then the data
    body = head + block + block + b"\r\n" + closing()
    handler = Recorder()
    stream = io.BytesIO(body)
    split = split_chunk_part(stream, BOUNDARY.encode(), FIELD, lambda p: handler, lambda n: n)
    assert split.found
    assert b"".join(handler.parts) == block + block
    # After the first block (which shares a read with the headers), blocks are handed on as read.
    assert any(part is not None and len(part) == 1 << 20 for part in handler.parts[1:])


# -- MultipartBody, through the view: the chunk part taken as it streams, or spooled by Django --


def put_multipart(api: Any, body: bytes, start: int, end: int, total: int) -> Any:
    return api.generic(
        "PUT",
        "/api/uploads/",
        body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        HTTP_CONTENT_RANGE=f"bytes {start}-{end}/{total}",
    )


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param(b"", id="streamed"),
        pytest.param(field("note", "y" * (MAX_PREFIX + 10)), id="spooled-after-64k"),
    ],
)
def test_a_chunk_is_stored_whichever_way_it_is_read(api: Any, prefix: bytes) -> None:
    from chunked_uploads.models import ChunkedUpload

    from .helpers import stored_bytes

    chunk = tricky_data(50_000, 5)
    body = prefix + file_part(FIELD, chunk, "a.bin") + field("filename", "named.bin") + closing()
    response = put_multipart(api, body, 0, len(chunk) - 1, len(chunk) + 10)
    assert response.status_code == 200, response.content
    upload = ChunkedUpload.objects.get()
    assert (upload.offset, upload.filename) == (len(chunk), "named.bin")
    assert stored_bytes(upload) == chunk


def test_a_base64_encoded_chunk_part_is_decoded_by_django(api: Any) -> None:
    import base64

    from chunked_uploads.models import ChunkedUpload

    from .helpers import stored_bytes

    chunk = os.urandom(3000)
    encoded = base64.b64encode(chunk)
    body = file_part(FIELD, encoded, extra=b"Content-Transfer-Encoding: base64\r\n") + closing()
    response = put_multipart(api, body, 0, len(chunk) - 1, len(chunk))
    assert response.status_code == 200, response.content
    assert stored_bytes(ChunkedUpload.objects.get()) == chunk


def test_a_spooled_body_without_the_chunk_part_has_no_chunk(api: Any) -> None:
    body = field("note", "y" * (MAX_PREFIX + 10)) + file_part("other", b"x") + closing()
    response = put_multipart(api, body, 0, 0, 1)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "no_chunk"
