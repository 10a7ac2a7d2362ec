"""Request headers the client cannot be trusted with: an undecodable
Authorization header is an unknown token (401), never a 500; a header over
aiohttp's size limit is refused by aiohttp itself before any of our code runs."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.kit.homeserver import Homeserver


async def _raw_request(hs: Homeserver, head: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` (request line and headers, no final blank line) on a new
    loopback connection; the status, headers and body of the answer."""
    server = hs.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(head + b"\r\nConnection: close\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    header_block, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = header_block.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    "value",
    [
        b"Bearer \xff\xfe",  # not UTF-8
        b"Bearer caf\xc3\xa9",  # UTF-8, but not a token this server could issue
        b"Bearer \xed\xa0\x80",  # an encoded surrogate
    ],
)
async def test_undecodable_authorization_header_is_unknown_token(
    hs: Homeserver, value: bytes
) -> None:
    await hs.register("alice")
    status, headers, body = await _raw_request(
        hs, b"GET /_matrix/client/v3/account/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: " + value
    )
    assert status == 401
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["errcode"] == "M_UNKNOWN_TOKEN"


async def test_non_ascii_access_token_query_is_unknown_token(hs: Homeserver) -> None:
    await hs.register("alice")
    status, _, body = await _raw_request(
        hs, b"GET /_matrix/client/v3/account/whoami?access_token=%FF%FE HTTP/1.1\r\nHost: x"
    )
    assert status == 401
    assert json.loads(body)["errcode"] == "M_UNKNOWN_TOKEN"


async def test_oversized_header_is_a_plain_400_from_aiohttp(hs: Homeserver) -> None:
    """aiohttp's parser refuses a header line over 8190 bytes before a request
    object exists, so no middleware can render it; it answers a plain-text 400 and
    closes the connection (documented in docs/troubleshooting.md). The server keeps
    serving afterwards."""
    status, headers, body = await _raw_request(
        hs,
        b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000,
    )
    assert status == 400
    assert headers["content-type"].startswith("text/plain")
    assert b"Got more than" in body or b"too long" in body.lower()
    status, _ = await hs.request("GET", "/_matrix/client/versions")
    assert status == 200
