"""The interim resolver: IP literals and host:port only, a clear error otherwise."""

from __future__ import annotations

import pytest

from conduwuit.service.federation.destination import Destination
from conduwuit.service.federation.literal_resolver import LiteralResolver, UnresolvableServer


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("1.2.3.4", Destination("1.2.3.4", "1.2.3.4", 8448, "1.2.3.4", "1.2.3.4")),
        (
            "127.0.0.2:8449",
            Destination("127.0.0.2:8449", "127.0.0.2", 8449, "127.0.0.2:8449", "127.0.0.2"),
        ),
        ("[::1]", Destination("[::1]", "::1", 8448, "[::1]", "::1")),
        (
            "[2001:db8::1]:443",
            Destination(
                "[2001:db8::1]:443", "2001:db8::1", 443, "[2001:db8::1]:443", "2001:db8::1"
            ),
        ),
        (
            "matrix.example.org:8448",
            Destination(
                "matrix.example.org:8448",
                "matrix.example.org",
                8448,
                "matrix.example.org:8448",
                "matrix.example.org",
            ),
        ),
    ],
)
async def test_literals_and_explicit_ports(name: str, expected: Destination) -> None:
    assert await LiteralResolver().resolve(name) == expected


@pytest.mark.parametrize(
    "name", ["example.org", "::1", "[::1", "[::1]x", "a:0", "a:99999", "a:b", ":8448", "[]:1"]
)
async def test_everything_else_is_a_clear_error(name: str) -> None:
    with pytest.raises(UnresolvableServer):
        await LiteralResolver().resolve(name)
