"""Filters: upload, download, schema validation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kit.homeserver import Homeserver

ALICE = "@alice:test.example"

FILTER = {
    "room": {
        "state": {
            "types": ["m.room.*"],
            "not_rooms": ["!x:test.example"],
            "lazy_load_members": True,
        },
        "timeline": {"limit": 10, "types": ["m.room.message"]},
        "include_leave": False,
    },
    "presence": {"not_senders": ["@spam:example.org"]},
    "event_format": "client",
    "event_fields": ["type", "content.body"],
}


async def test_create_and_get(hs: Homeserver) -> None:
    token = (await hs.register("alice"))["access_token"]
    status, reply = await hs.request("POST", f"/user/{ALICE}/filter", FILTER, token=token)
    assert status == 200
    filter_id = reply["filter_id"]
    assert isinstance(filter_id, str)
    assert await hs.request("GET", f"/user/{ALICE}/filter/{filter_id}", token=token) == (
        200,
        FILTER,
    )
    status, reply = await hs.request("GET", f"/user/{ALICE}/filter/999999", token=token)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")


@pytest.mark.parametrize(
    "bad",
    [
        {"event_format": "nonsense"},
        {"room": {"timeline": {"limit": "ten"}}},
        {"room": {"timeline": {"limit": 0}}},
        {"room": {"rooms": "!not-a-list:x"}},
        {"presence": {"types": [1]}},
        {"event_fields": "type"},
        {"room": {"include_leave": "yes"}},
    ],
)
async def test_invalid_filters_are_refused(hs: Homeserver, bad: dict[str, Any]) -> None:
    token = (await hs.register("alice"))["access_token"]
    status, reply = await hs.request("POST", f"/user/{ALICE}/filter", bad, token=token)
    assert (status, reply["errcode"]) == (400, "M_BAD_JSON")


async def test_other_users_filters(hs: Homeserver) -> None:
    token = (await hs.register("alice"))["access_token"]
    bob = (await hs.register("bob"))["access_token"]
    _, reply = await hs.request("POST", f"/user/{ALICE}/filter", {}, token=token)
    status, _ = await hs.request("GET", f"/user/{ALICE}/filter/{reply['filter_id']}", token=bob)
    assert status == 403
    status, _ = await hs.request("POST", f"/user/{ALICE}/filter", {}, token=bob)
    assert status == 403
