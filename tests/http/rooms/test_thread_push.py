"""MSC4306's push rules over HTTP, with ``thread_subscription_push_rules`` on: the
``postcontent`` kind in /pushrules, a thread message notifying only the room members
subscribed to its thread (mentions still do), /versions advertising
``org.matrix.msc4306``; and with it off (the default) none of that."""

from __future__ import annotations

from typing import Any

from tests.http.rooms.conftest import Users
from tests.http.rooms.test_thread_subscriptions import path, send
from tests.kit.homeserver import Homeserver, StartHomeserver

RULES = "/pushrules/global"
UNSUBSCRIBED = ".io.element.msc4306.rule.unsubscribed_thread"
SUBSCRIBED = ".io.element.msc4306.rule.subscribed_thread"
FEATURE = "org.matrix.msc4306"


async def notified(users: Users, user: str) -> list[tuple[str, bool]]:
    """(event ID, highlighted?) of the user's message notifications, newest first."""
    reply = await users.ok(user, "GET", "/notifications")
    return [
        (n["event"]["event_id"], any(a == {"set_tweak": "highlight"} for a in n["actions"]))
        for n in reply["notifications"]
        if n["event"]["type"] == "m.room.message"
    ]


async def room_of(users: Users, owner: str, *members: str) -> str:
    room = str((await users.ok(owner, "POST", "/createRoom", {}))["room_id"])
    for member in members:
        await users.ok(owner, "POST", f"/rooms/{room}/invite", {"user_id": member})
        await users.ok(member, "POST", f"/join/{room}", {})
    return room


async def test_pushrules_and_versions_with_the_feature_on(start: StartHomeserver) -> None:
    users = Users(await start(thread_subscription_push_rules=True))
    alice = await users.add("alice")
    rules = await users.ok(alice, "GET", "/pushrules/")
    kinds = list(rules["global"])
    assert kinds == ["override", "content", "postcontent", "room", "sender", "underride"]
    assert [r["rule_id"] for r in rules["global"]["postcontent"]] == [UNSUBSCRIBED, SUBSCRIBED]
    rule = await users.ok(alice, "GET", f"{RULES}/postcontent/{SUBSCRIBED}")
    assert rule["conditions"] == [
        {"kind": "io.element.msc4306.thread_subscription", "subscribed": True}
    ]
    # Complement's thread notification tests switch both rules off this way.
    await users.ok(alice, "PUT", f"{RULES}/postcontent/{UNSUBSCRIBED}/enabled", {"enabled": False})
    assert await users.ok(alice, "GET", f"{RULES}/postcontent/{UNSUBSCRIBED}/enabled") == {
        "enabled": False
    }
    # Clients cannot add their own postcontent rules, nor delete the defaults.
    before = await users.ok(alice, "GET", "/pushrules/")
    for method, rule_path, body in (
        ("PUT", f"{RULES}/postcontent/mine", {"actions": [], "conditions": []}),
        ("DELETE", f"{RULES}/postcontent/{SUBSCRIBED}", None),
    ):
        status, reply = await users.call(alice, method, rule_path, body)
        assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")
    assert await users.ok(alice, "GET", "/pushrules/") == before
    status, reply = await users.call(alice, "GET", f"{RULES}/postcontent/nope")
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
    versions = await users.ok(alice, "GET", "/_matrix/client/versions")
    assert versions["unstable_features"][FEATURE] is True


async def test_the_feature_is_off_by_default(hs: Homeserver, users: Users) -> None:
    alice = await users.add("alice")
    assert "postcontent" not in (await users.ok(alice, "GET", "/pushrules/"))["global"]
    status, reply = await users.call(alice, "GET", f"{RULES}/postcontent/{SUBSCRIBED}")
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
    versions = await users.ok(alice, "GET", "/_matrix/client/versions")
    assert FEATURE not in versions["unstable_features"]
    # Thread messages notify every member, as before.
    bob = await users.add("bob")
    room = await room_of(users, alice, bob)
    root = await send(users, alice, room, "root")
    reply = await send(users, alice, room, "reply", root)
    assert [e for e, _ in await notified(users, bob)] == [reply, root]


async def test_thread_messages_notify_subscribers_only(start: StartHomeserver) -> None:
    users = Users(await start(thread_subscription_push_rules=True))
    alice, bob, carol = [await users.add(n) for n in ("alice", "bob", "carol")]
    room = await room_of(users, alice, bob, carol)
    root = await send(users, alice, room, "root")
    await users.ok(bob, "PUT", path(room, root), {})
    reply = await send(users, alice, room, "reply", root)
    assert await notified(users, bob) == [(reply, False), (root, False)]
    assert await notified(users, carol) == [(root, False)]
    # A mention reaches carol in the thread she does not follow, highlighted.
    content: dict[str, Any] = {
        "msgtype": "m.text",
        "body": "carol?",
        "m.mentions": {"user_ids": [carol]},
        "m.relates_to": {"rel_type": "m.thread", "event_id": root},
    }
    sent = await users.ok(alice, "PUT", f"/rooms/{room}/send/m.room.message/m1", content)
    assert (await notified(users, carol))[0] == (sent["event_id"], True)
    # Bob leaves the thread: its next message is silent for him; the sync counts agree.
    await users.ok(bob, "DELETE", path(room, root))
    await send(users, alice, room, "later", root)
    assert len(await notified(users, bob)) == 3  # reply, the mention, root
    sync = await users.ok(bob, "GET", "/sync")
    assert sync["rooms"]["join"][room]["unread_notifications"]["notification_count"] == 3
