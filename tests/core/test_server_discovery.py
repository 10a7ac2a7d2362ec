"""The pure parts of server discovery: IP literals, well-known documents, their
cache lifetime, and the RFC 2782 order of SRV records."""

from __future__ import annotations

import random
from collections import Counter
from email.utils import formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conduwuit.core.ids import ServerName
from conduwuit.core.server_discovery import (
    WELL_KNOWN_DEFAULT_CACHE_S,
    WELL_KNOWN_MAX_CACHE_S,
    SrvTarget,
    cache_seconds,
    ip_literal,
    order_srv,
    parse_well_known,
)

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("1.2.3.4", "1.2.3.4"),
        ("[::1]", "::1"),
        ("[2001:DB8::1]", "2001:db8::1"),
        ("::1", "::1"),
        ("example.org", None),
        ("1.2.3", None),
        ("[example.org]", None),
    ],
)
def test_ip_literal(host: str, address: str | None) -> None:
    assert ip_literal(host) == address


@pytest.mark.parametrize(
    ("body", "server"),
    [
        (b'{"m.server": "example.org"}', ServerName("example.org")),
        (b'{"m.server": "example.org:1234", "x": 1}', ServerName("example.org", 1234)),
        (b'{"m.server": "[::1]:80"}', ServerName("[::1]", 80)),
        (b'{"m.server": ""}', None),
        (b'{"m.server": "bad host"}', None),
        (b'{"m.server": "example.org:0x10"}', None),
        (b'{"m.server": null}', None),
        (b"{}", None),
        (b'["m.server"]', None),
        (b"not json", None),
        (b"\xff\xfe", None),
        (b"", None),
    ],
)
def test_parse_well_known(body: bytes, server: ServerName | None) -> None:
    assert parse_well_known(body) == server


@pytest.mark.parametrize(
    ("cache_control", "expires", "seconds"),
    [
        (None, None, WELL_KNOWN_DEFAULT_CACHE_S),
        ("max-age=600", None, 600),
        ("public, max-age=600, must-revalidate", None, 600),
        ('max-age="120"', None, 120),
        ("MAX-AGE=60", None, 60),
        ("max-age=0", None, 0),
        ("max-age=999999999", None, WELL_KNOWN_MAX_CACHE_S),
        ("no-store", None, 0),
        ("public, no-store", "in 3600", 0),
        ("max-age=300", "in 7200", 300),
        ("public", "in 7200", 7200),
        (None, "in 7200", 7200),
        (None, "in -100", 0),
        (None, "in 999999", WELL_KNOWN_MAX_CACHE_S),
        (None, "garbage", 0),
        ("smax-age=5", None, WELL_KNOWN_DEFAULT_CACHE_S),
    ],
)
def test_cache_seconds(cache_control: str | None, expires: str | None, seconds: float) -> None:
    if expires is not None and expires.startswith("in "):
        expires = formatdate(NOW + int(expires[3:]), usegmt=True)
    assert cache_seconds(cache_control, expires, NOW) == seconds


def test_srv_priority_first_then_weight() -> None:
    records = [
        SrvTarget(20, 100, 1, "c.example"),
        SrvTarget(10, 0, 2, "b.example"),
        SrvTarget(10, 60, 3, "a.example"),
    ]
    # the draw 0.5 * 60 lands on a (running sums: b 0, a 60); then b is alone
    assert [r.target for r in order_srv(records, lambda: 0.5)] == [
        "a.example",
        "b.example",
        "c.example",
    ]
    # a draw of exactly 0 picks the weight-0 record first (RFC 2782)
    assert [r.target for r in order_srv(records, lambda: 0.0)] == [
        "b.example",
        "a.example",
        "c.example",
    ]


def test_srv_weights_share_the_draws() -> None:
    records = [SrvTarget(0, 1, 1, "light"), SrvTarget(0, 3, 2, "heavy"), SrvTarget(0, 0, 3, "zero")]
    rng = random.Random(7)
    firsts = Counter(order_srv(records, rng.random)[0].target for _ in range(4000))
    assert 0.2 < firsts["light"] / 4000 < 0.3
    assert 0.7 < firsts["heavy"] / 4000 < 0.8
    assert firsts["zero"] < 10


def test_srv_dot_target_means_no_service() -> None:
    assert order_srv([SrvTarget(0, 0, 0, ".")], random.random) == []
    assert order_srv([], random.random) == []


@given(
    st.lists(
        st.builds(
            SrvTarget,
            st.integers(0, 3),
            st.integers(0, 5),
            st.integers(1, 65535),
            st.sampled_from(["a.example", "b.example", "c.example", "d.example"]),
        ),
        max_size=8,
    ),
    st.randoms(use_true_random=False),
)
def test_srv_order_is_a_permutation_sorted_by_priority(
    records: list[SrvTarget], rng: random.Random
) -> None:
    ordered = order_srv(records, rng.random)
    if len(records) == 1 and records[0].target == ".":
        return
    assert Counter(ordered) == Counter(records)
    assert [r.priority for r in ordered] == sorted(r.priority for r in records)
