"""Per-route body limits (Route.max_body): a big body is refused with 413
M_TOO_LARGE before it is read or parsed, so one unauthenticated request can no
longer make the server hold hundreds of MB; big-but-allowed bodies (key uploads)
are parsed off the event loop."""

from __future__ import annotations

import asyncio
import io
import json
import resource
import time
from collections.abc import AsyncIterator

from conduwuit.api.router import SMALL_BODY
from tests.kit.homeserver import Homeserver

ALICE = "@alice:test.example"
BIG = 19_000_000


async def _versions_latencies(hs: Homeserver, stop: asyncio.Event) -> list[float]:
    latencies: list[float] = []
    for _ in range(200):  # bounded, whatever happens
        if stop.is_set():
            break
        started = time.monotonic()
        async with hs.client.get("/_matrix/client/versions") as response:
            assert response.status == 200
            await response.read()
        latencies.append(time.monotonic() - started)
        await asyncio.sleep(0.01)
    return latencies


async def test_declared_length_over_limit_is_refused_before_the_body_is_sent(
    hs: Homeserver,
) -> None:
    server = hs.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(
            b"POST /_matrix/client/v3/refresh HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\n"
            + f"Content-Length: {BIG}\r\n\r\n".encode()
            + b"[" * 1000
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        assert head.startswith(b"HTTP/1.1 413")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        body = json.loads(await asyncio.wait_for(reader.readexactly(length), timeout=5))
    finally:
        writer.close()
    assert body["errcode"] == "M_TOO_LARGE"


async def test_chunked_nested_arrays_to_refresh_cut_off_and_loop_stays_fast(
    hs: Homeserver,
) -> None:
    """The issue's attack: 19 MB of ``[[],[],...`` without a length to /refresh.
    It used to be read whole and parsed (RSS +490 MB, loop stalled)."""
    sent = 0

    async def nested_arrays() -> AsyncIterator[bytes]:
        nonlocal sent
        chunk = b"[]," * 21_845
        yield b"["
        while sent < BIG:
            sent += len(chunk)
            yield chunk
            await asyncio.sleep(0)

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stop = asyncio.Event()
    probe = asyncio.create_task(_versions_latencies(hs, stop))
    try:
        async with hs.client.post("/_matrix/client/v3/refresh", data=nested_arrays()) as response:
            status, reply = response.status, await response.json()
    finally:
        stop.set()
        latencies = await probe
    assert (status, reply["errcode"]) == (413, "M_TOO_LARGE")
    assert latencies and max(latencies) < 0.5, latencies
    # ru_maxrss is in KiB on Linux: the refused body cost far less than its size.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 50 * 1024


async def test_small_limit_applies_to_authenticated_routes_and_changes_nothing(
    hs: Homeserver,
) -> None:
    token = (await hs.register("alice"))["access_token"]
    padding = "x" * SMALL_BODY
    status, reply = await hs.request(
        "PUT", f"/profile/{ALICE}/displayname", {"displayname": padding}, token=token
    )
    assert (status, reply["errcode"]) == (413, "M_TOO_LARGE")
    status, reply = await hs.request(
        "POST", "/login", {"type": "m.login.password", "padding": padding}
    )
    assert (status, reply["errcode"]) == (413, "M_TOO_LARGE")
    assert await hs.request("GET", f"/profile/{ALICE}") == (200, {"displayname": "alice"})
    status, devices = await hs.request("GET", "/devices", token=token)
    assert status == 200 and len(devices["devices"]) == 1


async def test_key_upload_keeps_max_request_size_and_parses_off_the_loop(
    hs: Homeserver,
) -> None:
    """/keys/upload may be big (max_request_size); a 5 MB body is accepted and
    decoded in a worker thread while /versions keeps answering."""
    token = (await hs.register("alice"))["access_token"]
    one_time = {
        f"signed_curve25519:K{i:06d}": {"key": "k" * 43, "signatures": {}} for i in range(40_000)
    }
    raw = json.dumps({"one_time_keys": one_time, "fallback_keys": {}}).encode()
    assert len(raw) > 4_000_000
    stop = asyncio.Event()
    probe = asyncio.create_task(_versions_latencies(hs, stop))
    try:
        async with hs.client.post(
            "/_matrix/client/v3/keys/upload",
            data=io.BytesIO(raw),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        ) as response:
            status, reply = response.status, await response.json()
    finally:
        stop.set()
        latencies = await probe
    assert status == 200, reply
    assert reply["one_time_key_counts"]["signed_curve25519"] == 40_000
    print(f"/versions during a {len(raw) // 1000} kB key upload: max {max(latencies):.3f} s")
    assert latencies and max(latencies) < 2.0, latencies
