"""Delayed events (MSC4140) over HTTP: scheduling on /send and /state, listing,
cancel/restart/send, firing on the (fake) clock through the normal pipeline, and
every refusal changing nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from conduwuit.service.rooms.delayed_events import DelayedEvents
from tests.http.rooms.conftest import Users
from tests.kit.homeserver import Homeserver

DELAYED = "/_matrix/client/unstable/org.matrix.msc4140/delayed_events"
DELAY = "org.matrix.msc4140.delay"
TYPE = "com.example.test"


def delay(ms: int | str) -> dict[str, str]:
    return {DELAY: str(ms)}


@pytest.fixture
async def delayed(hs: Homeserver) -> AsyncIterator[DelayedEvents]:
    service = hs.services.rooms.delayed_events
    yield service
    await service.stop()


async def _room(users: Users, owner: str, *members: str) -> str:
    body = {"preset": "public_chat", "power_level_content_override": {"events": {TYPE: 0}}}
    room = str((await users.ok(owner, "POST", "/createRoom", body))["room_id"])
    for member in members:
        await users.ok(member, "POST", f"/rooms/{room}/join", {})
    return room


async def _listing(users: Users, user: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = (await users.ok(user, "GET", DELAYED))["delayed_events"]
    return events


async def _state(users: Users, user: str, room: str, key: str) -> tuple[int, Any]:
    return await users.call(user, "GET", f"/rooms/{room}/state/{TYPE}/{key}")


async def _messages(users: Users, user: str, room: str) -> list[dict[str, Any]]:
    reply = await users.ok(user, "GET", f"/rooms/{room}/messages", dir="b", limit="50")
    return [e for e in reply["chunk"] if e["type"] == TYPE]


async def _fire(hs: Homeserver, ms: int) -> int:
    hs.clock.advance(ms)
    return await hs.services.rooms.delayed_events.fire_due()


async def test_schedule_list_and_fire_a_state_event(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    room = await _room(users, alice)
    path = f"/rooms/{room}/state/{TYPE}/k"
    reply = await users.ok(alice, "PUT", path, {"setter": "timeout"}, **delay(900))
    delay_id = reply["delay_id"]
    assert "event_id" not in reply
    listed = await _listing(users, alice)
    assert listed == [
        {
            "delay_id": delay_id,
            "room_id": room,
            "type": TYPE,
            "state_key": "k",
            "content": {"setter": "timeout"},
            "delay": 900,
            "running_since": hs.clock.now,
        }
    ]
    assert (await _state(users, alice, room, "k"))[0] == 404
    assert await _fire(hs, 899) == 0
    assert (await _state(users, alice, room, "k"))[0] == 404
    assert await _fire(hs, 1) == 1
    assert await _state(users, alice, room, "k") == (200, {"setter": "timeout"})
    assert await _listing(users, alice) == []


async def test_delayed_messages_fire_in_due_order_with_txn_retries(
    hs: Homeserver, users: Users
) -> None:
    alice = await users.add("alice")
    room = await _room(users, alice)
    ids = []
    for i, ms in enumerate([900, 700, 800]):
        path = f"/rooms/{room}/send/{TYPE}/txn{i}"
        delay_id = (await users.ok(alice, "PUT", path, {"n": i}, **delay(ms)))["delay_id"]
        # A retry (even without a body, as Complement sends it) gets the same delay ID.
        assert (await users.ok(alice, "PUT", path, None, **delay(ms)))["delay_id"] == delay_id
        ids.append(delay_id)
    assert [e["delay_id"] for e in await _listing(users, alice)] == [ids[1], ids[2], ids[0]]
    assert await _fire(hs, 1000) == 3
    sent = await _messages(users, alice, room)
    assert [e["content"]["n"] for e in reversed(sent)] == [1, 2, 0]
    assert all(e["sender"] == alice for e in sent)
    # A retry after it was sent does not schedule it again.
    path = f"/rooms/{room}/send/{TYPE}/txn0"
    assert (await users.ok(alice, "PUT", path, {"n": 0}, **delay(900)))["delay_id"] == ids[0]
    assert await _listing(users, alice) == []


async def test_other_users_see_none_of_them(hs: Homeserver, users: Users) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    room = await _room(users, alice, bob)
    await users.ok(alice, "PUT", f"/rooms/{room}/state/{TYPE}/k", {}, **delay(1000))
    assert await _listing(users, bob) == []
    status, _ = await hs.request("GET", DELAYED)
    assert status == 401


async def test_cancel_restart_and_send_now(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    room = await _room(users, alice)

    async def schedule(key: str, ms: int) -> str:
        path = f"/rooms/{room}/state/{TYPE}/{key}"
        return str((await users.ok(alice, "PUT", path, {"k": key}, **delay(ms)))["delay_id"])

    cancelled, restarted, sent = (
        await schedule("c", 1500),
        await schedule("r", 1500),
        await schedule("s", 100_000),
    )
    # Cancel unauthenticated, by the path with the action.
    status, reply = await hs.request("POST", f"{DELAYED}/{cancelled}/cancel", {})
    assert (status, reply) == (200, {})
    hs.clock.advance(1000)
    # Restart authenticated, with the action in the body.
    await users.ok(alice, "POST", f"{DELAYED}/{restarted}", {"action": "restart"})
    [entry] = [e for e in await _listing(users, alice) if e["delay_id"] == restarted]
    assert entry["running_since"] == hs.clock.now
    status, _ = await hs.request("POST", f"{DELAYED}/{sent}/send")
    assert status == 200
    assert await _state(users, alice, room, "s") == (200, {"k": "s"})
    assert await _fire(hs, 1000) == 0  # 2000 ms after scheduling: c is gone, r restarted
    assert (await _state(users, alice, room, "c"))[0] == 404
    assert (await _state(users, alice, room, "r"))[0] == 404
    assert await _fire(hs, 500) == 1
    assert await _state(users, alice, room, "r") == (200, {"k": "r"})
    assert await _listing(users, alice) == []


async def test_own_state_event_cancels_the_delayed_one(hs: Homeserver, users: Users) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    room = await _room(users, alice, bob)
    path = f"/rooms/{room}/state/{TYPE}/k"
    await users.ok(alice, "PUT", path, {"v": "delayed"}, **delay(1000))
    other = (await users.ok(alice, "PUT", f"/rooms/{room}/state/{TYPE}/other", {}, **delay(1000)))[
        "delay_id"
    ]
    bobs = (await users.ok(bob, "PUT", path, {"v": "bob's"}, **delay(1000)))["delay_id"]
    await users.ok(alice, "PUT", path, {"v": "now"})
    # Only alice's own pending event for that very state key is gone.
    assert [e["delay_id"] for e in await _listing(users, alice)] == [other]
    assert [e["delay_id"] for e in await _listing(users, bob)] == [bobs]
    assert await _fire(hs, 1000) == 2
    assert await _state(users, alice, room, "k") == (200, {"v": "bob's"})


async def test_auth_is_checked_again_when_it_fires(hs: Homeserver, users: Users) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    room = await _room(users, alice, bob)
    await users.ok(bob, "PUT", f"/rooms/{room}/send/{TYPE}/t1", {"n": 1}, **delay(1000))
    await users.ok(bob, "PUT", f"/rooms/{room}/state/{TYPE}/k", {"n": 2}, **delay(1000))
    await users.ok(bob, "POST", f"/rooms/{room}/leave", {})
    assert await _fire(hs, 1000) == 2  # both refused by the pipeline: logged and dropped
    assert await _messages(users, alice, room) == []
    assert (await _state(users, alice, room, "k"))[0] == 404
    assert await _listing(users, bob) == []


async def test_scheduling_checks_the_power_to_send(hs: Homeserver, users: Users) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    room = await _room(users, alice, bob)
    # State needs power 50 by default; bob has 0.
    status, reply = await users.call(
        bob, "PUT", f"/rooms/{room}/state/m.room.topic", {"topic": "x"}, **delay(1000)
    )
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    carol = await users.add("carol")  # not in the room
    status, reply = await users.call(
        carol, "PUT", f"/rooms/{room}/send/{TYPE}/t", {}, **delay(1000)
    )
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    assert await _listing(users, bob) == [] and await _listing(users, carol) == []


@pytest.mark.parametrize("value", ["-1", "1.5", "abc", "", "1e3"])
async def test_bad_delay_is_refused(hs: Homeserver, users: Users, value: str) -> None:
    alice = await users.add("alice")
    room = await _room(users, alice)
    for path in (f"/rooms/{room}/send/{TYPE}/t", f"/rooms/{room}/state/{TYPE}/k"):
        status, reply = await users.call(alice, "PUT", path, {}, **delay(value))
        assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM"), value
    assert await _listing(users, alice) == []
    assert await _messages(users, alice, room) == []
    assert (await _state(users, alice, room, "k"))[0] == 404


async def test_too_long_a_delay_is_refused_as_synapse(start: Any) -> None:
    hs = await start(max_event_delay_duration_ms=5000)
    users = Users(hs)
    alice = await users.add("alice")
    room = await _room(users, alice)
    status, reply = await users.call(
        alice, "PUT", f"/rooms/{room}/state/{TYPE}/k", {}, **delay(5001)
    )
    assert status == 400
    assert reply["errcode"] == "M_UNKNOWN"
    assert reply["org.matrix.msc4140.errcode"] == "M_MAX_DELAY_EXCEEDED"
    assert reply["org.matrix.msc4140.max_delay"] == 5000
    assert await _listing(users, alice) == []
    await users.ok(alice, "PUT", f"/rooms/{room}/state/{TYPE}/k", {}, **delay(5000))


async def test_unknown_and_other_users_ids_are_not_found(hs: Homeserver, users: Users) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    room = await _room(users, alice)
    path = f"/rooms/{room}/state/{TYPE}/k"
    delay_id = (await users.ok(alice, "PUT", path, {}, **delay(1000)))["delay_id"]
    before = await _listing(users, alice)
    for action in ("cancel", "restart", "send"):
        status, reply = await hs.request("POST", f"{DELAYED}/nope/{action}", {})
        assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
        status, reply = await users.call(bob, "POST", f"{DELAYED}/{delay_id}", {"action": action})
        assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
    assert await _listing(users, alice) == before


async def test_bad_actions_are_refused(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    room = await _room(users, alice)
    path = f"/rooms/{room}/state/{TYPE}/k"
    delay_id = (await users.ok(alice, "PUT", path, {}, **delay(1000)))["delay_id"]
    before = await _listing(users, alice)
    target = f"{DELAYED}/{delay_id}"
    status, reply = await users.call(alice, "POST", target, {})
    assert (status, reply["errcode"]) == (400, "M_MISSING_PARAM")
    status, reply = await users.call(alice, "POST", target, {"action": "oops"})
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")
    status, reply = await hs.request("POST", target, {"action": "cancel"})  # no token
    assert status == 401
    status, reply = await hs.request("POST", f"{target}/oops", {})
    assert (status, reply["errcode"]) == (404, "M_UNRECOGNIZED")
    assert await _listing(users, alice) == before


async def test_timer_fires_on_its_own(hs: Homeserver, users: Users, delayed: Any) -> None:
    """The started service's one timer sends the event when the clock says it is due
    (the fake clock is moved first; the timer then wakes on the next schedule)."""
    alice = await users.add("alice")
    room = await _room(users, alice)
    delayed.start()
    await users.ok(alice, "PUT", f"/rooms/{room}/state/{TYPE}/a", {"v": 1}, **delay(0))
    for _ in range(100):
        if (await _state(users, alice, room, "a"))[0] == 200:
            break
        await _sleep()
    assert await _state(users, alice, room, "a") == (200, {"v": 1})
    assert await _listing(users, alice) == []


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.02)


async def test_delayed_member_events(hs: Homeserver, users: Users) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    room = await _room(users, alice, bob)
    path = f"/rooms/{room}/state/m.room.member/{bob}"
    for content, key in (({"membership": "dance"}, bob), ({"membership": "leave"}, "nobody")):
        status, reply = await users.call(
            bob, "PUT", f"/rooms/{room}/state/m.room.member/{key}", content, **delay(1000)
        )
        assert (status, reply["errcode"]) == (400, "M_BAD_JSON")
    assert await _listing(users, bob) == []
    # A delayed leave goes through the membership path when it fires.
    await users.ok(bob, "PUT", path, {"membership": "leave"}, **delay(1000))
    assert bob in str(await users.ok(alice, "GET", f"/rooms/{room}/joined_members"))
    assert await _fire(hs, 1000) == 1
    assert bob not in str(await users.ok(alice, "GET", f"/rooms/{room}/joined_members"))
