"""/members?at= for an invitee (Synapse's ``_user_can_see_state_at_event``): the
members at a point they were invited are theirs to see unless history is for
joined members only; without ``at`` they are 403 as before (as Synapse)."""

from __future__ import annotations

import pytest

from tests.kit.homeserver import Homeserver

from .conftest import Users


@pytest.mark.parametrize(
    ("visibility", "allowed"),
    [("world_readable", True), ("shared", True), ("invited", True), ("joined", False)],
)
async def test_invitee_reads_members_at_unless_joined_only(
    hs: Homeserver, users: Users, visibility: str, allowed: bool
) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    body = {
        "preset": "private_chat",
        "initial_state": [
            {"type": "m.room.history_visibility", "content": {"history_visibility": visibility}}
        ],
    }
    room = (await users.ok(alice, "POST", "/createRoom", body))["room_id"]
    await users.ok(alice, "POST", f"/rooms/{room}/invite", {"user_id": bob})
    at = (await users.ok(bob, "GET", "/sync"))["next_batch"]

    status, reply = await users.call(bob, "GET", f"/rooms/{room}/members", at=at)
    if allowed:
        assert status == 200, reply
        members = {e["state_key"]: e["content"]["membership"] for e in reply["chunk"]}
        assert members == {alice: "join", bob: "invite"}
    else:
        assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    status, reply = await users.call(bob, "GET", f"/rooms/{room}/members")
    if visibility == "world_readable":
        assert status == 200
    else:
        assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")


async def test_stranger_still_refused_members_at(hs: Homeserver, users: Users) -> None:
    alice, eve = await users.add("alice"), await users.add("eve")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "private_chat"}))["room_id"]
    at = (await users.ok(eve, "GET", "/sync"))["next_batch"]
    status, reply = await users.call(eve, "GET", f"/rooms/{room}/members", at=at)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
