"""Tests of ``ranges.py``: the ``Content-Range`` grammar, its bounds, and properties under fuzzing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chunked_uploads.exceptions import InvalidContentRange, RangeExceedsTotal
from chunked_uploads.ranges import MAX_TOTAL, ContentRange, parse_content_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes 0-0/1", ContentRange(0, 0, 1)),
        ("bytes 0-999999/3000000", ContentRange(0, 999999, 3000000)),
        ("bytes 1000000-1999999/3000000", ContentRange(1000000, 1999999, 3000000)),
        ("bytes 5-5/6", ContentRange(5, 5, 6)),
        ("bytes 007-009/10", ContentRange(7, 9, 10)),
        (f"bytes 0-{2**63 - 2}/{2**63 - 1}", ContentRange(0, 2**63 - 2, 2**63 - 1)),
    ],
)
def test_valid_header(header: str, expected: ContentRange) -> None:
    assert parse_content_range(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes",
        "bytes 0-9",
        "bytes 0-9/",
        "bytes -9/10",
        "bytes 0-/10",
        "bytes */10",
        "bytes 0-9/*",
        "BYTES 0-9/10",
        "Bytes 0-9/10",
        "items 0-9/10",
        "bytes=0-9/10",
        " bytes 0-9/10",
        "bytes 0-9/10 ",
        "bytes  0-9/10",
        "bytes 0 - 9/10",
        "bytes 0-9 /10",
        "bytes\t0-9/10",
        "bytes 0-9/10\n",
        "bytes -1-9/10",
        "bytes +0-9/10",
        "bytes 0x0-0x9/10",
        "bytes 0-9/1e3",
        "bytes 0-9/10, bytes 10-19/20",
        "bytes \u0660-\u0669/\u0661\u0660",  # Arabic-Indic digits: int() accepts them
        "bytes \uff10-\uff19/\uff11\uff10",  # full-width digits
        "bytes 0-9/1_0",
        "bytes 0-" + "9" * 200 + "/" + "9" * 201,
    ],
)
def test_malformed_header(header: str | None) -> None:
    with pytest.raises(InvalidContentRange):
        parse_content_range(header)


@pytest.mark.parametrize(
    ("header", "total"),
    [
        ("bytes 0-10/10", 10),
        ("bytes 0-11/10", 10),
        ("bytes 5-4/10", 10),
        ("bytes 0-0/0", 0),
        ("bytes 9-0/10", 10),
    ],
)
def test_range_exceeds_total(header: str, total: int) -> None:
    with pytest.raises(RangeExceedsTotal) as caught:
        parse_content_range(header)
    assert caught.value.total == total


def test_largest_total_a_bigint_column_holds_is_accepted() -> None:
    header = f"bytes {MAX_TOTAL - 1}-{MAX_TOTAL - 1}/{MAX_TOTAL}"
    assert parse_content_range(header) == ContentRange(MAX_TOTAL - 1, MAX_TOTAL - 1, MAX_TOTAL)


@pytest.mark.parametrize(
    "header",
    [
        f"bytes 0-0/{MAX_TOTAL + 1}",
        f"bytes 0-{10**40}/{10**40}",
        f"bytes {10**35}-{10**35}/{10**35 + 1}",
    ],
)
def test_total_beyond_a_bigint_column_is_malformed(header: str) -> None:
    # It would otherwise reach the database and fail there (a 500, not a 400).
    with pytest.raises(InvalidContentRange):
        parse_content_range(header)


def test_length() -> None:
    assert parse_content_range("bytes 0-99/250").length == 100
    assert parse_content_range("bytes 200-249/250").length == 50


@pytest.mark.parametrize(("total", "end", "length"), [(0, -1, 0), (1, 0, 1), (10, 9, 10)])
def test_whole(total: int, end: int, length: int) -> None:
    whole = ContentRange.whole(total)
    assert (whole.start, whole.end, whole.total, whole.length) == (0, end, total, length)


@given(st.text(max_size=200))
def test_any_text_raises_only_the_two_range_errors(header: str) -> None:
    try:
        parsed = parse_content_range(header)
    except (InvalidContentRange, RangeExceedsTotal):
        return
    assert 0 <= parsed.start <= parsed.end < parsed.total <= MAX_TOTAL


@given(
    st.from_regex(r"\Abytes [0-9]{1,25}-[0-9]{1,25}/[0-9]{1,25}\Z").filter(lambda h: len(h) <= 128)
)
def test_well_formed_headers_parse_or_exceed_total(header: str) -> None:
    numbers = [int(part) for part in header[6:].replace("/", "-").split("-")]
    start, end, total = numbers
    if total > MAX_TOTAL:
        with pytest.raises(InvalidContentRange):
            parse_content_range(header)
    elif start <= end < total:
        assert parse_content_range(header) == ContentRange(start, end, total)
    else:
        with pytest.raises(RangeExceedsTotal):
            parse_content_range(header)


@st.composite
def triples(draw: st.DrawFn) -> tuple[int, int, int]:
    total = draw(st.integers(min_value=1, max_value=MAX_TOTAL))
    end = draw(st.integers(min_value=0, max_value=total - 1))
    start = draw(st.integers(min_value=0, max_value=end))
    return start, end, total


@given(triples())
def test_valid_triple_round_trips(triple: tuple[int, int, int]) -> None:
    start, end, total = triple
    parsed = parse_content_range(f"bytes {start}-{end}/{total}")
    assert (parsed.start, parsed.end, parsed.total) == triple
    assert parsed.length == end - start + 1


@given(st.binary(max_size=64))
def test_decoded_bytes_raise_only_the_two_range_errors(raw: bytes) -> None:
    # Servers decode headers as latin-1, so any byte sequence may arrive.
    header = "bytes " + raw.decode("latin-1")
    with contextlib.suppress(InvalidContentRange, RangeExceedsTotal):
        parse_content_range(header)
