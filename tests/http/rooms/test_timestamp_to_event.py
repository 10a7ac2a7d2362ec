"""``/timestamp_to_event`` among events of the same millisecond: ties are broken in
the room's order, as Synapse's ``get_event_id_for_timestamp`` does (``ORDER BY
origin_server_ts, depth, stream_ordering``, ascending looking forwards, descending
looking backwards)."""

from __future__ import annotations

from tests.kit.homeserver import Homeserver

from .conftest import Users

JUMP = "/_matrix/client/v1/rooms/{}/timestamp_to_event"


async def _jump(users: Users, user: str, room: str, ts: int, direction: str) -> str:
    found = await users.ok(user, "GET", JUMP.format(room), ts=str(ts), dir=direction)
    return str(found["event_id"])


async def _send(users: Users, user: str, room: str, body: str) -> str:
    path = f"/rooms/{room}/send/m.room.message/{body}"
    sent = await users.ok(user, "PUT", path, {"msgtype": "m.text", "body": body})
    return str(sent["event_id"])


async def test_equal_timestamps_follow_the_room_order(hs: Homeserver, users: Users) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    hs.clock.advance(1000)
    same_ms = hs.clock()
    await users.ok(bob, "POST", f"/join/{room}")
    join = await users.ok(bob, "GET", f"/rooms/{room}/state/m.room.member/{bob}", format="event")
    await _send(users, bob, room, "one")
    second = await _send(users, bob, room, "two")
    # Forwards: the first of the millisecond, even a join before the messages (so a
    # client that reads its clock in the millisecond of its join lands on the join,
    # on Synapse as here); backwards: the last of it.
    assert await _jump(users, alice, room, same_ms, "f") == join["event_id"]
    assert await _jump(users, alice, room, same_ms, "b") == second

    # Complement's "topologically after/before ... all message timestamps are the
    # same": the join a millisecond earlier, then two messages of one millisecond.
    hs.clock.advance(1)
    later = hs.clock()
    third, fourth = await _send(users, bob, room, "three"), await _send(users, bob, room, "four")
    assert await _jump(users, alice, room, later, "f") == third
    assert await _jump(users, alice, room, later, "b") == fourth
    assert await _jump(users, alice, room, later - 1, "b") == second
