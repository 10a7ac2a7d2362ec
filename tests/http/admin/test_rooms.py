"""Synapse's room admin API: list (order, search, pages), details, members, state,
and deletion (v1 and v2 with its status); each for server admins only."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.http.admin.test_users import ok
from tests.http.client.sliding_kit import sliding
from tests.kit.homeserver import Homeserver, StartHomeserver

V1 = "/_synapse/admin/v1/rooms"
V2 = "/_synapse/admin/v2/rooms"
ALICE = "@alice:test.example"
BOB = "@bob:test.example"


async def rooms_server(start: StartHomeserver) -> tuple[Homeserver, str, str, str]:
    """An admin, alice and bob; alice's room "Garden" (bob joined, an alias,
    published) and alice's unnamed encrypted room. Returns the tokens and the
    Garden's ID."""
    hs = await start()
    admin = (await hs.register("admin"))["access_token"]
    alice = (await hs.register("alice"))["access_token"]
    bob = (await hs.register("bob"))["access_token"]
    body = {"name": "Garden", "room_alias_name": "garden", "visibility": "public"}
    garden = (await ok(hs, "POST", "/createRoom", alice, body))["room_id"]
    await ok(hs, "POST", f"/join/{garden}", bob, {})
    encrypted = {
        "initial_state": [
            {
                "type": "m.room.encryption",
                "state_key": "",
                "content": {"algorithm": "m.megolm.v1.aes-sha2"},
            }
        ]
    }
    await ok(hs, "POST", "/createRoom", alice, encrypted)
    return hs, admin, alice, garden


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("GET", "/{room}", None),
        ("GET", "/{room}/members", None),
        ("GET", "/{room}/state", None),
        ("DELETE", "/{room}", {"purge": False}),
        ("GET", "/{room}/block", None),
        ("PUT", "/{room}/block", {"block": True}),
    ],
)
async def test_admins_only(start: StartHomeserver, method: str, suffix: str, body: Any) -> None:
    hs, _, alice, garden = await rooms_server(start)
    for path in (V1 + suffix.format(room=garden),) + (
        (V2 + f"/{garden}",) if method == "DELETE" else ()
    ):
        status, reply = await hs.request(method, path, body)
        assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
        status, reply = await hs.request(method, path, body, token=alice)
        assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    assert hs.services.rooms.storage.member_index.is_joined(ALICE, garden)
    assert not hs.services.rooms.metadata.is_banned(garden)


async def test_block_without_evicting(start: StartHomeserver) -> None:
    hs, admin, _, garden = await rooms_server(start)
    path = f"{V1}/{garden}/block"
    assert await ok(hs, "GET", path, admin) == {"block": False}
    status, reply = await hs.request("PUT", path, {"block": "yes"}, token=admin)
    assert (status, reply["errcode"]) == (400, "M_BAD_JSON")
    assert await ok(hs, "PUT", path, admin, {"block": True}) == {"block": True}
    assert await ok(hs, "GET", path, admin) == {"block": True}
    # Members stay; nobody new may join.
    assert hs.services.rooms.storage.member_index.is_joined(ALICE, garden)
    carol = (await hs.register("carol"))["access_token"]
    status, reply = await hs.request("POST", f"/join/{garden}", {}, token=carol)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    assert await ok(hs, "PUT", path, admin, {"block": False}) == {"block": False}
    await ok(hs, "POST", f"/join/{garden}", carol, {})
    # The admin room cannot be blocked.
    admin_room = hs.admin.room.room_id()
    status, reply = await hs.request(
        "PUT", f"{V1}/{admin_room}/block", {"block": True}, token=admin
    )
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")


async def test_list_order_search_and_pages(start: StartHomeserver) -> None:
    hs, admin, _, garden = await rooms_server(start)
    reply = await ok(hs, "GET", V1, admin)
    rows = {r["room_id"]: r for r in reply["rooms"]}
    # The Garden, alice's encrypted room, and the admin room.
    assert reply["total_rooms"] == len(rows) == 3 and reply["offset"] == 0
    row = rows[garden]
    assert (row["name"], row["canonical_alias"], row["creator"]) == (
        "Garden",
        "#garden:test.example",
        ALICE,
    )
    assert (row["joined_members"], row["joined_local_members"], row["public"]) == (2, 2, True)
    assert (row["join_rules"], row["federatable"], row["encryption"]) == ("public", True, None)
    assert row["state_events"] >= 6 and row["version"] and row["room_type"] is None
    assert sorted(r["encryption"] for r in rows.values() if r["encryption"]) == [
        "m.megolm.v1.aes-sha2"
    ]

    # Names ascending, nameless last; largest first by size, reversed with dir=b.
    names = [r["name"] for r in reply["rooms"]]
    assert names[-1] is None and names[:-1] == sorted(names[:-1])
    by_size = await ok(hs, "GET", V1, admin, order_by="joined_members")
    sizes = [r["joined_members"] for r in by_size["rooms"]]
    assert sizes == [2, 2, 1]  # the Garden and the admin room, then the encrypted one
    backwards = await ok(hs, "GET", V1, admin, order_by="size", dir="b")
    assert [r["joined_members"] for r in backwards["rooms"]] == [1, 2, 2]

    # Search: the name (any case), the alias's localpart, the room ID.
    for term in ("gARDEN", garden[1:6]):
        found = await ok(hs, "GET", V1, admin, search_term=term)
        assert garden in [r["room_id"] for r in found["rooms"]], term
    assert (await ok(hs, "GET", V1, admin, search_term="nothing-like-it"))["rooms"] == []
    public = await ok(hs, "GET", V1, admin, public_rooms="true")
    assert [r["room_id"] for r in public["rooms"]] == [garden]

    first = await ok(hs, "GET", V1, admin, limit="2")
    assert len(first["rooms"]) == 2 and first["next_batch"] == 2 and "prev_batch" not in first
    last = await ok(hs, "GET", V1, admin, limit="2", **{"from": "2"})
    assert len(last["rooms"]) == 1 and last["prev_batch"] == 0 and "next_batch" not in last

    for params in ({"order_by": "colour"}, {"dir": "x"}, {"limit": "-1"}, {"public_rooms": "1"}):
        status, reply = await hs.request("GET", V1, token=admin, params=params)
        assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM"), params


async def test_details_members_state(start: StartHomeserver) -> None:
    hs, admin, _, garden = await rooms_server(start)
    details = await ok(hs, "GET", f"{V1}/{garden}", admin)
    assert (details["room_id"], details["name"], details["topic"], details["forgotten"]) == (
        garden,
        "Garden",
        None,
        False,
    )
    assert details["joined_local_devices"] == 2  # alice's and bob's one device each
    members = await ok(hs, "GET", f"{V1}/{garden}/members", admin)
    assert members == {"members": [ALICE, BOB], "total": 2}
    state = (await ok(hs, "GET", f"{V1}/{garden}/state", admin))["state"]
    assert {(e["type"], e["state_key"]) for e in state} >= {
        ("m.room.create", ""),
        ("m.room.member", BOB),
    }
    names = (await ok(hs, "GET", f"{V1}/{garden}/state", admin, type="m.room.name"))["state"]
    assert [e["content"] for e in names] == [{"name": "Garden"}]

    for suffix in ("", "/members", "/state"):
        status, reply = await hs.request("GET", f"{V1}/!unknown:test.example{suffix}", token=admin)
        assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
        status, reply = await hs.request("GET", f"{V1}/not-a-room{suffix}", token=admin)
        assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")


async def test_delete_v1_shuts_down_and_blocks(start: StartHomeserver) -> None:
    hs, admin, alice, garden = await rooms_server(start)
    members = hs.services.rooms.storage.member_index
    # Refused before anything changes: a new room for the members, bad JSON.
    for body in ({"purge": False, "new_room_user_id": ALICE}, {"purge": "no"}, {"block": 1}):
        status, reply = await hs.request("DELETE", f"{V1}/{garden}", body, token=admin)
        assert status == 400 and reply["errcode"] in ("M_INVALID_PARAM", "M_BAD_JSON"), body
    assert members.is_joined(ALICE, garden) and hs.services.rooms.actions.aliases.of_room(garden)

    reply = await ok(hs, "DELETE", f"{V1}/{garden}", admin, {"purge": False, "block": True})
    assert reply == {
        "kicked_users": [ALICE, BOB],
        "failed_to_kick_users": [],
        "local_aliases": ["#garden:test.example"],
        "new_room_id": None,
    }
    assert not members.is_joined(ALICE, garden) and not members.is_joined(BOB, garden)
    assert hs.services.rooms.metadata.is_banned(garden)
    assert not hs.services.rooms.actions.aliases.is_published(garden)
    status, reply = await hs.request("POST", f"/join/{garden}", {}, token=alice)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")

    # An unknown room can be blocked, not otherwise deleted.
    unknown = "!unknown:elsewhere.example"
    status, reply = await hs.request("DELETE", f"{V1}/{unknown}", {"purge": False}, token=admin)
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")
    await ok(hs, "DELETE", f"{V1}/{unknown}", admin, {"purge": False, "block": True})
    assert hs.services.rooms.metadata.is_banned(unknown)

    # The admin room cannot be deleted.
    admin_room = hs.admin.room.room_id()
    status, reply = await hs.request("DELETE", f"{V1}/{admin_room}", {"purge": False}, token=admin)
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")
    assert members.is_joined("@admin:test.example", str(admin_room))


async def test_delete_v2_and_its_status(start: StartHomeserver) -> None:
    hs, admin, alice, garden = await rooms_server(start)
    delete_id = (await ok(hs, "DELETE", f"{V2}/{garden}", admin, {"purge": False}))["delete_id"]
    status = await ok(hs, "GET", f"{V2}/delete_status/{delete_id}", admin)
    assert (status["status"], status["room_id"]) == ("complete", garden)
    assert status["shutdown_room"]["kicked_users"] == [ALICE, "@bob:test.example"]
    by_room = await ok(hs, "GET", f"{V2}/{garden}/delete_status", admin)
    assert by_room == {"results": [status]}
    # Not blocked: alice may come back.
    assert not hs.services.rooms.metadata.is_banned(garden)
    await ok(hs, "POST", f"/join/{garden}", alice, {})

    unknown = "!unknown:test.example"
    for body in ({"purge": False}, {}):
        status_code, reply = await hs.request("DELETE", f"{V2}/{unknown}", body, token=admin)
        assert (status_code, reply["errcode"]) == (404, "M_NOT_FOUND")
    for path in (f"{V2}/delete_status/nope", f"{V2}/{unknown}/delete_status"):
        status_code, reply = await hs.request("GET", path, token=admin)
        assert (status_code, reply["errcode"]) == (404, "M_NOT_FOUND"), path


async def wait_for(hs: Homeserver, admin: str, delete_id: str) -> Any:
    """The status once the job is over (each poll answers a known status)."""
    for _ in range(500):
        status = await ok(hs, "GET", f"{V2}/delete_status/{delete_id}", admin)
        if status["status"] not in ("shutting_down", "purging"):
            return status
        await asyncio.sleep(0.01)
    raise AssertionError(f"delete {delete_id} still running")


async def test_delete_v1_purges_by_default(start: StartHomeserver) -> None:
    hs, admin, alice, garden = await rooms_server(start)
    reply = await ok(hs, "DELETE", f"{V1}/{garden}", admin, {"block": True})
    assert reply["kicked_users"] == [ALICE, BOB]
    assert reply["local_aliases"] == ["#garden:test.example"]
    # Gone: unknown to the admin API and to its members; still blocked.
    status, reply = await hs.request("GET", f"{V1}/{garden}", token=admin)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
    assert garden not in [r["room_id"] for r in (await ok(hs, "GET", V1, admin))["rooms"]]
    status, reply = await hs.request("GET", f"/rooms/{garden}/messages", token=alice)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    assert hs.services.rooms.metadata.is_banned(garden)
    # A second delete finds nothing to purge: the room is unknown (only blockable).
    status, reply = await hs.request("DELETE", f"{V1}/{garden}", {}, token=admin)
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")


async def test_delete_v2_purges_in_the_background(start: StartHomeserver) -> None:
    hs, admin, alice, garden = await rooms_server(start)
    delete_id = (await ok(hs, "DELETE", f"{V2}/{garden}", admin, {"purge": True}))["delete_id"]
    status = await wait_for(hs, admin, delete_id)
    assert status["status"] == "complete", status
    assert (status["delete_id"], status["room_id"]) == (delete_id, garden)
    assert status["shutdown_room"]["kicked_users"] == [ALICE, BOB]
    assert await ok(hs, "GET", f"{V2}/{garden}/delete_status", admin) == {"results": [status]}
    assert not hs.services.rooms.storage.state.exists(garden)
    assert hs.services.rooms.storage.short.room(garden) is None
    # Not blocked: the room ID is free; nobody can join a room nobody has.
    assert not hs.services.rooms.metadata.is_banned(garden)
    synced = await ok(hs, "GET", "/sync", alice)
    assert garden not in synced["rooms"].get("join", {})
    assert garden not in synced["rooms"].get("leave", {})


async def test_the_admin_room_is_never_purged(start: StartHomeserver) -> None:
    hs, admin, _, _ = await rooms_server(start)
    admin_room = str(hs.admin.room.room_id())
    for path in (f"{V1}/{admin_room}", f"{V2}/{admin_room}"):
        status, reply = await hs.request("DELETE", path, {}, token=admin)
        assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM"), path
    assert hs.services.rooms.storage.member_index.is_joined("@admin:test.example", admin_room)
    assert hs.services.admin_api.deletions.purger.intents() == []


async def test_a_sliding_sync_connection_goes_on_after_a_purge(start: StartHomeserver) -> None:
    """The connection's stored rows of the room are kept (purge_rules.py): its next
    request answers without the room, incrementally."""
    hs, admin, alice, garden = await rooms_server(start)
    body = {"lists": {"all": {"ranges": [[0, 9]], "required_state": [], "timeline_limit": 1}}}
    first = await sliding(hs, alice, body)
    assert garden in first["rooms"] and first["lists"]["all"]["count"] == 2
    await ok(hs, "DELETE", f"{V1}/{garden}", admin, {})
    after = await sliding(hs, alice, body, pos=first["pos"], timeout_ms=0)
    assert after["lists"]["all"]["count"] == 1
    assert garden not in after["rooms"]
