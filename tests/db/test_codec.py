from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conduwuit.db.codec import SEP, U64_MAX, from_u64, key, prefix, prefix_end, split, u64

u64s = st.integers(min_value=0, max_value=U64_MAX)


def test_u64_bytes_are_pinned() -> None:
    assert u64(0) == b"\x00" * 8
    assert u64(1) == b"\x00\x00\x00\x00\x00\x00\x00\x01"
    assert u64(0x0102030405060708) == b"\x01\x02\x03\x04\x05\x06\x07\x08"
    assert u64(U64_MAX) == b"\xff" * 8
    assert from_u64(b"\x00\x00\x00\x00\x00\x00\x01\x00") == 256


@pytest.mark.parametrize("bad", [-1, U64_MAX + 1])
def test_u64_out_of_range(bad: int) -> None:
    with pytest.raises(ValueError, match="u64 out of range"):
        u64(bad)


def test_from_u64_needs_eight_bytes() -> None:
    with pytest.raises(ValueError, match="exactly 8 bytes"):
        from_u64(b"\x01")


def test_key_bytes_are_pinned() -> None:
    assert SEP == b"\xff"
    assert key("@alice:example.org", 5) == b"@alice:example.org\xff\x00\x00\x00\x00\x00\x00\x00\x05"
    assert key(b"\x01\x02", "é") == b"\x01\x02\xff\xc3\xa9"
    assert key("a") == b"a"
    assert prefix("!room:x") == b"!room:x\xff"


def test_key_rejects_bool() -> None:
    with pytest.raises(TypeError):
        key(True)


def test_split() -> None:
    assert split(key("a", "bc", b"")) == [b"a", b"bc", b""]


def test_prefix_end() -> None:
    assert prefix_end(b"ab") == b"ac"
    assert prefix_end(b"a\xff") == b"b"
    assert prefix_end(b"\x01\xff\xff") == b"\x02"
    assert prefix_end(b"\xff\xff") is None
    assert prefix_end(b"") is None


@given(u64s, u64s)
def test_u64_byte_order_is_numeric_order(a: int, b: int) -> None:
    assert (u64(a) < u64(b)) == (a < b)
    assert from_u64(u64(a)) == a


@given(st.text().filter(lambda s: "\x00" not in s), u64s, u64s)
def test_key_order_follows_integer_part(name: str, a: int, b: int) -> None:
    assert (key(name, a) < key(name, b)) == (a < b)


@given(st.binary(max_size=6), st.binary(max_size=8))
def test_prefix_end_bounds_exactly_the_prefixed_keys(p: bytes, k: bytes) -> None:
    end = prefix_end(p)
    in_range = p <= k and (end is None or k < end)
    assert in_range == k.startswith(p)
