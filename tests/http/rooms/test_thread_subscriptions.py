"""Thread subscriptions (MSC4306) over HTTP: subscribe, read, unsubscribe; automatic
subscriptions and the conflict with a later unsubscription; every refusal answers
with its errcode and changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conduwuit.db.maps import MAPS
from tests.http.rooms.conftest import Users
from tests.kit.homeserver import PASSWORD, Homeserver, start_homeserver

BASE = "/_matrix/client/unstable/io.element.msc4306"


def path(room: str, root: str) -> str:
    return f"{BASE}/rooms/{room}/thread/{root}/subscription"


async def send(users: Users, user: str, room: str, txn: str, root: str | None = None) -> str:
    content: dict[str, Any] = {"msgtype": "m.text", "body": txn}
    if root is not None:
        content["m.relates_to"] = {"rel_type": "m.thread", "event_id": root}
    reply = await users.ok(user, "PUT", f"/rooms/{room}/send/m.room.message/{txn}", content)
    return str(reply["event_id"])


async def subscription(users: Users, user: str, room: str, root: str) -> tuple[int, Any]:
    return await users.call(user, "GET", path(room, root))


async def test_subscribe_read_and_unsubscribe(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
    root = await send(users, alice, room, "root")
    status, reply = await subscription(users, alice, room, root)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
    await users.ok(alice, "PUT", path(room, root), {})
    assert await subscription(users, alice, room, root) == (200, {"automatic": False})
    # Subscribing again is idempotent.
    await users.ok(alice, "PUT", path(room, root), {})
    assert await subscription(users, alice, room, root) == (200, {"automatic": False})
    await users.ok(alice, "DELETE", path(room, root))
    status, reply = await subscription(users, alice, room, root)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
    # Unsubscribing when not subscribed succeeds and changes nothing.
    await users.ok(alice, "DELETE", path(room, root))
    assert (await subscription(users, alice, room, root))[0] == 404


async def test_automatic_subscriptions(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
    root, other_root = await send(users, alice, room, "root"), await send(users, alice, room, "o")
    reply1 = await send(users, alice, room, "r1", root)
    elsewhere = await send(users, alice, room, "e", other_root)
    # The cause must be in the thread: not the root, not another thread's reply.
    for cause in (root, elsewhere, other_root):
        status, reply = await users.call(alice, "PUT", path(room, root), {"automatic": cause})
        assert (status, reply["errcode"]) == (400, "IO.ELEMENT.MSC4306.M_NOT_IN_THREAD")
    assert (await subscription(users, alice, room, root))[0] == 404
    await users.ok(alice, "PUT", path(room, root), {"automatic": reply1})
    assert await subscription(users, alice, room, root) == (200, {"automatic": True})
    # A manual subscription replaces it; a later automatic request leaves it manual.
    await users.ok(alice, "PUT", path(room, root), {})
    await users.ok(alice, "PUT", path(room, root), {"automatic": reply1})
    assert await subscription(users, alice, room, root) == (200, {"automatic": False})


async def test_an_unsubscription_beats_older_automatic_causes(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
    root = await send(users, alice, room, "root")
    reply1 = await send(users, alice, room, "r1", root)
    await users.ok(alice, "PUT", path(room, root), {"automatic": reply1})
    reply2 = await send(users, alice, room, "r2", root)
    await users.ok(alice, "DELETE", path(room, root))
    reply3 = await send(users, alice, room, "r3", root)
    for cause in (reply1, reply2):
        status, reply = await users.call(alice, "PUT", path(room, root), {"automatic": cause})
        assert (status, reply["errcode"]) == (
            409,
            "IO.ELEMENT.MSC4306.M_CONFLICTING_UNSUBSCRIPTION",
        )
        assert (await subscription(users, alice, room, root))[0] == 404
    await users.ok(alice, "PUT", path(room, root), {"automatic": reply3})
    assert await subscription(users, alice, room, root) == (200, {"automatic": True})
    # By hand, the user may always subscribe again.
    await users.ok(alice, "DELETE", path(room, root))
    await users.ok(alice, "PUT", path(room, root), {})
    assert await subscription(users, alice, room, root) == (200, {"automatic": False})


async def test_refusals(hs: Homeserver, users: Users) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    room = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
    root = await send(users, alice, room, "root")
    other_room = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
    cases: list[tuple[str, str, str, str, Any, tuple[int, str]]] = [
        # Unknown roots, roots of another room, roots the user may not see: 404.
        (alice, "PUT", room, "$notathread:example.org", {}, (404, "M_NOT_FOUND")),
        (alice, "GET", room, "$notathread:example.org", None, (404, "M_NOT_FOUND")),
        (alice, "DELETE", room, "$notathread:example.org", None, (404, "M_NOT_FOUND")),
        (alice, "PUT", other_room, root, {}, (404, "M_NOT_FOUND")),
        (bob, "PUT", room, root, {}, (404, "M_NOT_FOUND")),
        (bob, "GET", room, root, None, (404, "M_NOT_FOUND")),
        # Malformed IDs and bodies.
        (alice, "PUT", room, "notanevent", {}, (400, "M_INVALID_PARAM")),
        (alice, "PUT", "notaroom", root, {}, (400, "M_INVALID_PARAM")),
        (alice, "PUT", room, root, {"automatic": 1}, (400, "M_BAD_JSON")),
        (alice, "PUT", room, root, {"automatic": "nope"}, (400, "M_INVALID_PARAM")),
        (alice, "PUT", room, root, {"automatic": "$unknown:example.org"}, (404, "M_NOT_FOUND")),
        (alice, "PUT", room, root, [], (400, "M_BAD_JSON")),
    ]
    for user, method, in_room, thread, body, expected in cases:
        status, reply = await users.call(user, method, path(in_room, thread), body)
        assert (status, reply.get("errcode")) == expected, (method, in_room, thread, body, reply)
    assert (await subscription(users, alice, room, root))[0] == 404
    status, reply = await hs.request("GET", path(room, root))
    assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")


async def test_subscriptions_are_per_user(hs: Homeserver, users: Users) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    await users.ok(bob, "POST", f"/join/{room}", {})
    root = await send(users, alice, room, "root")
    await users.ok(alice, "PUT", path(room, root), {})
    assert (await subscription(users, bob, room, root))[0] == 404
    await users.ok(bob, "DELETE", path(room, root))
    assert await subscription(users, alice, room, root) == (200, {"automatic": False})


async def test_subscriptions_and_unsubscriptions_survive_a_restart(tmp_path: Path) -> None:
    hs = await start_homeserver(tmp_path / "db")
    try:
        users = Users(hs)
        alice = await users.add("alice")
        room = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
        kept, left = await send(users, alice, room, "kept"), await send(users, alice, room, "left")
        old_reply = await send(users, alice, room, "old", left)
        await users.ok(alice, "PUT", path(room, kept), {})
        await users.ok(alice, "PUT", path(room, left), {})
        await users.ok(alice, "DELETE", path(room, left))
    finally:
        await hs.close()
    hs = await start_homeserver(tmp_path / "db")
    try:
        hs.tokens[alice] = (await hs.login("alice"))["access_token"]
        users = Users(hs)
        assert await subscription(users, alice, room, kept) == (200, {"automatic": False})
        status, reply = await users.call(alice, "PUT", path(room, left), {"automatic": old_reply})
        assert (status, reply["errcode"]) == (
            409,
            "IO.ELEMENT.MSC4306.M_CONFLICTING_UNSUBSCRIPTION",
        )
    finally:
        await hs.close()


async def test_deactivation_drops_the_users_subscriptions_only(
    hs: Homeserver, users: Users
) -> None:
    alice, bob = await users.add("alice"), await users.add("bob")
    room = (await users.ok(alice, "POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    await users.ok(bob, "POST", f"/join/{room}", {})
    root = await send(users, alice, room, "root")
    for user in (alice, bob):
        await users.ok(user, "PUT", path(room, root), {})
    stored = hs.services.rooms.storage.db.map(MAPS.userroomthread_threadsubscription)
    assert len(list(stored.iter_prefix(b""))) == 2
    auth = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": bob}}
    await users.ok(bob, "POST", "/account/deactivate", {"auth": {**auth, "password": PASSWORD}})
    assert [k.split(b"\xff")[0] for k, _ in stored.iter_prefix(b"")] == [alice.encode()]
    assert await subscription(users, alice, room, root) == (200, {"automatic": False})
