"""One filter cannot freeze the server (issue #13): oversized filters are refused
everywhere a filter enters, and a filter at the limits stays cheap to apply."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from conduwuit.core.event_filter import MAX_FILTER_BYTES, MAX_FILTER_LIST
from tests.kit.homeserver import Homeserver

ALICE = "@alice:test.example"


def patterns(n: int, prefix: str) -> list[str]:
    return [f"{prefix}.{i}.*" for i in range(n)]


@pytest.mark.parametrize(
    "definition",
    [
        {"room": {"timeline": {"types": patterns(MAX_FILTER_LIST + 1, "t")}}},
        {"room": {"timeline": {"not_types": patterns(MAX_FILTER_LIST + 1, "t")}}},
        {"room": {"state": {"senders": [f"@u{i}:x" for i in range(MAX_FILTER_LIST + 1)]}}},
        {"room": {"not_rooms": [f"!r{i}:x" for i in range(MAX_FILTER_LIST + 1)]}},
        {"presence": {"not_senders": [f"@u{i}:x" for i in range(MAX_FILTER_LIST + 1)]}},
        {"event_fields": [f"content.f{i}" for i in range(MAX_FILTER_LIST + 1)]},
        # Lists within their limit, the whole filter too big.
        {
            "room": {
                name: {"types": [f"{name}.{i}.{'x' * 100}" for i in range(MAX_FILTER_LIST)]}
                for name in ("timeline", "state", "ephemeral", "account_data")
            }
        },
    ],
)
async def test_oversized_filter_is_refused_and_stores_nothing(
    hs: Homeserver, definition: dict[str, Any]
) -> None:
    token = (await hs.register("alice"))["access_token"]
    status, reply = await hs.request("POST", f"/user/{ALICE}/filter", definition, token=token)
    assert (status, reply["errcode"]) == (400, "M_BAD_JSON"), reply
    # Nothing stored: the next filter gets the next ID, and no ID in between exists.
    status, reply = await hs.request("POST", f"/user/{ALICE}/filter", {}, token=token)
    assert status == 200
    for filter_id in range(int(reply["filter_id"])):
        status, _ = await hs.request("GET", f"/user/{ALICE}/filter/{filter_id}", token=token)
        assert status == 404


async def test_oversized_inline_filters_are_refused(hs: Homeserver) -> None:
    """Inline filters go through the same limits (a URL carries a few KiB only, so
    short list entries)."""
    token = (await hs.register("alice"))["access_token"]
    _, created = await hs.request("POST", "/createRoom", {}, token=token)
    room = created["room_id"]
    timeline = {"types": ["a"] * (MAX_FILTER_LIST + 1)}
    status, reply = await hs.request(
        "GET",
        f"/rooms/{room}/messages",
        token=token,
        params={"dir": "b", "filter": json.dumps(timeline, separators=(",", ":"))},
    )
    assert (status, reply["errcode"]) == (400, "M_BAD_JSON"), reply
    sync_filter = json.dumps({"room": {"timeline": timeline}}, separators=(",", ":"))
    status, reply = await hs.request("GET", "/sync", token=token, params={"filter": sync_filter})
    assert (status, reply["errcode"]) == (400, "M_BAD_JSON"), reply
    # At the limit, both are fine.
    timeline = {"types": ["a"] * MAX_FILTER_LIST}
    status, reply = await hs.request(
        "GET",
        f"/rooms/{room}/messages",
        token=token,
        params={"dir": "b", "filter": json.dumps(timeline, separators=(",", ":"))},
    )
    assert status == 200, reply


async def test_filter_at_the_limits_keeps_the_server_responsive(hs: Homeserver) -> None:
    """/messages and /sync with a filter at every limit run while a /versions request
    is made: it is answered within a bound (no long stall of the event loop)."""
    token = (await hs.register("alice"))["access_token"]
    _, created = await hs.request("POST", "/createRoom", {}, token=token)
    room = created["room_id"]
    for i in range(150):
        await hs.request(
            "PUT", f"/rooms/{room}/send/m.room.message/{i}", {"body": str(i)}, token=token
        )
    # Patterns that almost match every event type, so no shortcut applies.
    near = [f"m.room.message{i}*" for i in range(MAX_FILTER_LIST)]
    timeline = {
        "types": near,
        "not_types": [f"m.room.messag{i}*" for i in range(MAX_FILTER_LIST)],
        "senders": [f"@alice{i}:test.example" for i in range(MAX_FILTER_LIST - 1)] + [ALICE],
        "not_senders": [f"@bob{i}:test.example" for i in range(MAX_FILTER_LIST)],
        "limit": 1000,
    }
    assert len(json.dumps(timeline)) <= MAX_FILTER_BYTES
    status, reply = await hs.request(
        "POST", f"/user/{ALICE}/filter", {"room": {"timeline": timeline}}, token=token
    )
    assert status == 200, reply
    filter_id = reply["filter_id"]

    async def filtered() -> None:
        for _ in range(3):
            status, reply = await hs.request(
                "GET",
                f"/rooms/{room}/messages",
                token=token,
                params={"dir": "b", "limit": "1000", "filter": filter_id},
            )
            assert status == 200 and reply["chunk"] == [], reply
            status, reply = await hs.request(
                "GET", "/sync", token=token, params={"filter": filter_id}
            )
            assert status == 200, reply

    async def versions() -> float:
        await asyncio.sleep(0.01)
        started = time.monotonic()
        status, _ = await hs.request("GET", "/_matrix/client/versions")
        assert status == 200
        return time.monotonic() - started

    waits = await asyncio.wait_for(
        asyncio.gather(filtered(), *(versions() for _ in range(5))), timeout=60
    )
    # Generous for a loaded 2-core test machine; the unbounded filter took seconds.
    assert max(waits[1:]) < 1.0, waits
