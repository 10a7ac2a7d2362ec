"""Invite permission (spec v1.18) and MSC4155 invite filtering for invites between
local users: a blocked inviter gets 403 ``M_INVITE_BLOCKED`` and nothing changes,
on /invite, the state API and createRoom; an ignored one succeeds but the invitee
never sees the invite in /sync nor gets a notification for it."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.admin.kit import admin_room_id, command
from tests.http.rooms.conftest import Users
from tests.kit.homeserver import Homeserver

MSC4155 = "org.matrix.msc4155.invite_permission_config"
STABLE = "m.invite_permission_config"


async def configure(users: Users, user: str, content: dict[str, Any], kind: str = MSC4155) -> None:
    await users.ok(user, "PUT", f"/user/{quote(user)}/account_data/{kind}", content)


async def invites_in_sync(users: Users, user: str) -> dict[str, Any]:
    synced = await users.ok(user, "GET", "/sync", timeout="0")
    invites: dict[str, Any] = synced.get("rooms", {}).get("invite", {})
    return invites


async def membership(users: Users, viewer: str, room: str, user: str) -> str | None:
    status, content = await users.call(
        viewer, "GET", f"/rooms/{quote(room)}/state/m.room.member/{quote(user)}"
    )
    return str(content["membership"]) if status == 200 else None


async def room_of(users: Users, creator: str) -> str:
    return str(
        (await users.ok(creator, "POST", "/createRoom", {"preset": "private_chat"}))["room_id"]
    )


async def test_a_blocked_inviter_is_refused_on_every_invite_path(
    hs: Homeserver, users: Users
) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    await configure(users, alice, {"blocked_users": [bob]})
    room = await room_of(users, bob)
    refusals = [
        await users.call(bob, "POST", f"/rooms/{quote(room)}/invite", {"user_id": alice}),
        await users.call(
            bob,
            "PUT",
            f"/rooms/{quote(room)}/state/m.room.member/{quote(alice)}",
            {"membership": "invite"},
        ),
    ]
    for status, reply in refusals:
        assert (status, reply["errcode"]) == (403, "M_INVITE_BLOCKED"), reply
    assert await membership(users, bob, room, alice) is None
    # createRoom with her in ``invite``: refused before any room exists.
    before = (await users.ok(bob, "GET", "/joined_rooms"))["joined_rooms"]
    status, reply = await users.call(bob, "POST", "/createRoom", {"invite": [alice]})
    assert (status, reply["errcode"]) == (403, "M_INVITE_BLOCKED"), reply
    assert (await users.ok(bob, "GET", "/joined_rooms"))["joined_rooms"] == before
    assert await invites_in_sync(users, alice) == {}
    # Others still invite her; lifting the block lets bob too.
    chris = await users.add("chris")
    other = await room_of(users, chris)
    await users.ok(chris, "POST", f"/rooms/{quote(other)}/invite", {"user_id": alice})
    await configure(users, alice, {})
    await users.ok(bob, "POST", f"/rooms/{quote(room)}/invite", {"user_id": alice})
    assert set(await invites_in_sync(users, alice)) == {room, other}


async def test_an_ignored_invite_succeeds_but_the_invitee_never_sees_it(
    hs: Homeserver, users: Users
) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    await configure(users, alice, {"ignored_servers": [hs.config.server_name]})
    room = await room_of(users, bob)
    await users.ok(bob, "POST", f"/rooms/{quote(room)}/invite", {"user_id": alice})
    # The inviter sees an invite like any other...
    assert await membership(users, bob, room, alice) == "invite"
    # ...the invitee neither in /sync (initial or incremental) nor as a notification.
    synced = await users.ok(alice, "GET", "/sync", timeout="0")
    assert "invite" not in synced.get("rooms", {})
    other = await room_of(users, bob)
    await users.ok(bob, "POST", f"/rooms/{quote(other)}/invite", {"user_id": alice})
    later = await users.ok(alice, "GET", "/sync", timeout="0", since=synced["next_batch"])
    assert "invite" not in later.get("rooms", {})
    notified = (await users.ok(alice, "GET", "/notifications"))["notifications"]
    assert not {n["room_id"] for n in notified} & {room, other}
    # She may still join (the invite is real); allowing bob shows his invites.
    await configure(users, alice, {"allowed_users": [bob], "ignored_servers": ["*"]})
    assert set(await invites_in_sync(users, alice)) == {room, other}


async def test_an_allowed_user_beats_a_blocked_server_and_nulls_are_empty(
    hs: Homeserver, users: Users
) -> None:
    alice, bob, chris = await users.add("alice"), await users.add("bob"), await users.add("chris")
    await configure(
        users, alice, {"allowed_users": [bob], "blocked_servers": ["*"], "ignored_users": None}
    )
    allowed, blocked = await room_of(users, bob), await room_of(users, chris)
    await users.ok(bob, "POST", f"/rooms/{quote(allowed)}/invite", {"user_id": alice})
    status, reply = await users.call(
        chris, "POST", f"/rooms/{quote(blocked)}/invite", {"user_id": alice}
    )
    assert (status, reply["errcode"]) == (403, "M_INVITE_BLOCKED")
    assert set(await invites_in_sync(users, alice)) == {allowed}
    await users.ok(alice, "POST", f"/join/{quote(allowed)}", {})
    assert await membership(users, bob, allowed, alice) == "join"


async def test_the_spec_default_action_block_refuses_all_and_hides_earlier_invites(
    hs: Homeserver, users: Users
) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    earlier = await room_of(users, bob)
    await users.ok(bob, "POST", f"/rooms/{quote(earlier)}/invite", {"user_id": alice})
    # The stable event wins over MSC4155's, which would allow bob.
    await configure(users, alice, {"allowed_users": [bob]})
    await configure(users, alice, {"default_action": "block"}, kind=STABLE)
    room = await room_of(users, bob)
    status, reply = await users.call(
        bob, "POST", f"/rooms/{quote(room)}/invite", {"user_id": alice}
    )
    assert (status, reply["errcode"]) == (403, "M_INVITE_BLOCKED")
    assert await invites_in_sync(users, alice) == {}
    # The earlier invite stays hidden while blocking, and is served again after.
    await configure(users, alice, {}, kind=STABLE)
    assert set(await invites_in_sync(users, alice)) == {earlier}


async def test_the_servers_own_user_is_never_blocked(hs: Homeserver, users: Users) -> None:
    """The admin room's invite of a new admin comes from the server's user."""
    alice, bob = await users.add("alice"), await users.add("bob")
    await configure(users, bob, {"blocked_servers": ["*"]})
    reply = await command(hs, alice, f"!admin users make-user-admin {bob}")
    assert reply["body"] == f"{bob} is now a server admin."
    joined = (await users.ok(bob, "GET", "/joined_rooms"))["joined_rooms"]
    assert joined == [admin_room_id(hs)]
