import pytest

from conduwuit.core.canonical_json import CanonicalJsonError, encode, encode_lenient


def test_keys_sorted_by_code_point_not_utf16() -> None:
    # U+FFFF sorts before U+10000 by code point; UTF-16 order would swap them.
    assert encode({"\U00010000": 1, "\uffff": 2, "a": 3}) == (
        '{"a":3,"\uffff":2,"\U00010000":1}'.encode()
    )


def test_shortest_escapes_and_raw_utf8() -> None:
    assert encode({"a": '\u00e9\n\x01"\\'}) == b'{"a":"\xc3\xa9\\n\\u0001\\"\\\\"}'


def test_spec_examples() -> None:
    assert encode({"one": 1, "two": "Two"}) == b'{"one":1,"two":"Two"}'
    assert encode({"b": "2", "a": "1"}) == b'{"a":"1","b":"2"}'
    assert encode({"a": "\u65e5\u672c\u8a9e"}) == '{"a":"日本語"}'.encode()
    assert encode({"a": -1}) == b'{"a":-1}'
    assert encode({"a": None}) == b'{"a":null}'


@pytest.mark.parametrize("value", [2**53, -(2**53), 1.5, float("nan"), {"a": [0.0]}, {1: "x"}])
def test_refused(value: object) -> None:
    with pytest.raises(CanonicalJsonError):
        encode(value)


def test_lenient_allows_big_integers_but_not_floats() -> None:
    assert encode_lenient({"a": 2**60}) == b'{"a":1152921504606846976}'
    with pytest.raises(CanonicalJsonError):
        encode_lenient({"a": 0.5})
