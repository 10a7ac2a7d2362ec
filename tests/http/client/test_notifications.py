"""Notification counts in /sync, receipts clearing them (threaded too), and
GET /notifications; refused events and the sender notify nobody; counts survive a
restart; pushers' listeners hear of each notification after commit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.kit.homeserver import Homeserver, start_homeserver

THREADS = json.dumps({"room": {"timeline": {"unread_thread_notifications": True}}})


async def _user(hs: Homeserver, name: str) -> tuple[str, str]:
    reply = await hs.register(name)
    return reply["user_id"], reply["access_token"]


async def _room(hs: Homeserver, owner: str, *members: tuple[str, str]) -> str:
    status, reply = await hs.request(
        "POST", "/createRoom", {"invite": [m for m, _ in members]}, token=owner
    )
    assert status == 200, reply
    room: str = reply["room_id"]
    for _, token in members:
        status, reply = await hs.request("POST", f"/join/{room}", {}, token=token)
        assert status == 200, reply
    return room


async def _send(
    hs: Homeserver, token: str, room: str, text: str, *, mention: str | None = None, **extra: Any
) -> str:
    content: dict[str, Any] = {"msgtype": "m.text", "body": text, **extra}
    if mention is not None:
        content["m.mentions"] = {"user_ids": [mention]}
    status, reply = await hs.request(
        "PUT", f"/rooms/{room}/send/m.room.message/{text}", content, token=token
    )
    assert status == 200, reply
    event_id: str = reply["event_id"]
    return event_id


async def _sync(hs: Homeserver, token: str, **params: str) -> dict[str, Any]:
    status, body = await hs.request("GET", "/sync", token=token, params=params or None)
    assert status == 200, body
    result: dict[str, Any] = body
    return result


async def _counts(hs: Homeserver, token: str, room: str) -> tuple[int, int]:
    unread = (await _sync(hs, token))["rooms"]["join"][room]["unread_notifications"]
    return unread["notification_count"], unread["highlight_count"]


async def _receipt(
    hs: Homeserver, token: str, room: str, event_id: str, kind: str = "m.read", **body: Any
) -> None:
    status, reply = await hs.request(
        "POST", f"/rooms/{room}/receipt/{kind}/{event_id}", body, token=token
    )
    assert status == 200, reply


async def _notifications(hs: Homeserver, token: str, **params: str) -> dict[str, Any]:
    status, body = await hs.request("GET", "/notifications", token=token, params=params or None)
    assert status == 200, body
    result: dict[str, Any] = body
    return result


async def test_a_message_in_a_one_to_one_room_notifies_the_other_only(hs: Homeserver) -> None:
    await _user(hs, "admin")  # the first user is invited to the admin room: not alice
    _, alice = await _user(hs, "alice")
    bob_id, bob = await _user(hs, "bob")
    room = await _room(hs, alice, (bob_id, bob))
    event_id = await _send(hs, alice, room, "hi")
    assert await _counts(hs, bob, room) == (1, 0)
    # The sender is never notified by their own event.
    assert await _counts(hs, alice, room) == (0, 0)
    assert (await _notifications(hs, alice))["notifications"] == []
    listed = (await _notifications(hs, bob))["notifications"]
    # The invite notified bob too (.m.rule.invite_for_me); his join read it.
    assert [(n["event"]["type"], n["read"]) for n in listed] == [
        ("m.room.message", False),
        ("m.room.member", True),
    ]
    first = listed[0]
    assert first["room_id"] == room and first["read"] is False
    assert first["event"]["event_id"] == event_id
    assert first["event"]["content"]["body"] == "hi"
    assert first["event"]["room_id"] == room
    assert "notify" in first["actions"]
    assert isinstance(first["ts"], int)


async def test_a_mention_highlights(hs: Homeserver) -> None:
    _, alice = await _user(hs, "alice")
    bob_id, bob = await _user(hs, "bob")
    carol_id, carol = await _user(hs, "carol")
    room = await _room(hs, alice, (bob_id, bob), (carol_id, carol))
    await _send(hs, alice, room, "hey bob", mention=bob_id)
    assert await _counts(hs, bob, room) == (1, 1)
    assert await _counts(hs, carol, room) == (1, 0)
    await _send(hs, alice, room, "plain")
    assert await _counts(hs, bob, room) == (2, 1)
    highlights = (await _notifications(hs, bob, only="highlight"))["notifications"]
    assert [n["event"]["content"]["body"] for n in highlights] == ["hey bob"]
    assert {"set_tweak": "highlight"} in highlights[0]["actions"]


async def test_receipts_clear_up_to_their_event_and_the_later_one_wins(hs: Homeserver) -> None:
    _, alice = await _user(hs, "alice")
    bob_id, bob = await _user(hs, "bob")
    room = await _room(hs, alice, (bob_id, bob))
    first = await _send(hs, alice, room, "one", mention=bob_id)
    second = await _send(hs, alice, room, "two")
    assert await _counts(hs, bob, room) == (2, 1)
    await _receipt(hs, bob, room, first)
    assert await _counts(hs, bob, room) == (1, 0)
    since = (await _sync(hs, bob))["next_batch"]
    # A private receipt clears too, and the room comes back in an incremental sync
    # (a private receipt is in no ephemeral section: only the counts changed).
    await _receipt(hs, bob, room, second, "m.read.private")
    incremental = await _sync(hs, bob, since=since, timeout="0")
    assert incremental["rooms"]["join"][room]["unread_notifications"] == {
        "notification_count": 0,
        "highlight_count": 0,
    }
    # The m.read receipt, now behind the private one, changes nothing.
    await _receipt(hs, bob, room, first)
    assert await _counts(hs, bob, room) == (0, 0)
    listed = (await _notifications(hs, bob))["notifications"]
    assert [n["read"] for n in listed if n["event"]["type"] == "m.room.message"] == [True, True]
    # A new message counts again; a room with no change stays out of incremental syncs.
    since = (await _sync(hs, bob))["next_batch"]
    await _send(hs, alice, room, "three")
    incremental = await _sync(hs, bob, since=since, timeout="0")
    assert incremental["rooms"]["join"][room]["unread_notifications"]["notification_count"] == 1
    quiet = await _sync(hs, bob, since=incremental["next_batch"], timeout="0")
    assert room not in quiet["rooms"].get("join", {})


async def test_refused_receipts_change_nothing(hs: Homeserver) -> None:
    _, alice = await _user(hs, "alice")
    bob_id, bob = await _user(hs, "bob")
    room = await _room(hs, alice, (bob_id, bob))
    event_id = await _send(hs, alice, room, "hi")
    for kind, target, body, errcode in (
        ("m.read", "$nope:test.example", {}, "M_NOT_FOUND"),
        ("m.read", event_id, {"thread_id": "$not-a-thread"}, "M_INVALID_PARAM"),
        ("m.bogus", event_id, {}, "M_INVALID_PARAM"),
    ):
        status, reply = await hs.request(
            "POST", f"/rooms/{room}/receipt/{kind}/{target}", body, token=bob
        )
        assert status in (400, 404), reply
        assert reply["errcode"] == errcode
    assert await _counts(hs, bob, room) == (1, 0)


async def test_threaded_receipts_clear_only_their_thread(hs: Homeserver) -> None:
    _, alice = await _user(hs, "alice")
    bob_id, bob = await _user(hs, "bob")
    carol_id, carol = await _user(hs, "carol")
    room = await _room(hs, alice, (bob_id, bob), (carol_id, carol))
    root = await _send(hs, alice, room, "root")
    in_thread = {"rel_type": "m.thread", "event_id": root}
    await _send(hs, alice, room, "reply1", **{"m.relates_to": in_thread})
    reply2 = await _send(hs, alice, room, "reply2", mention=bob_id, **{"m.relates_to": in_thread})
    main = await _send(hs, alice, room, "main")
    assert await _counts(hs, bob, room) == (4, 1)
    joined = (await _sync(hs, bob, filter=THREADS))["rooms"]["join"][room]
    assert joined["unread_notifications"] == {"notification_count": 2, "highlight_count": 0}
    assert joined["unread_thread_notifications"] == {
        root: {"notification_count": 2, "highlight_count": 1}
    }
    await _receipt(hs, bob, room, reply2, thread_id=root)
    joined = (await _sync(hs, bob, filter=THREADS))["rooms"]["join"][room]
    assert joined["unread_notifications"] == {"notification_count": 2, "highlight_count": 0}
    assert "unread_thread_notifications" not in joined
    # The main timeline's receipt leaves a thread alone.
    await _send(hs, alice, room, "reply3", **{"m.relates_to": in_thread})
    await _receipt(hs, bob, room, main, thread_id="main")
    joined = (await _sync(hs, bob, filter=THREADS))["rooms"]["join"][room]
    assert joined["unread_notifications"]["notification_count"] == 0
    assert joined["unread_thread_notifications"][root]["notification_count"] == 1
    # An unthreaded receipt reads every thread up to its event.
    main2 = await _send(hs, alice, room, "main2")
    await _receipt(hs, bob, room, main2)
    assert await _counts(hs, bob, room) == (0, 0)
    # Carol read nothing.
    assert await _counts(hs, carol, room) == (6, 0)


async def test_an_unthreaded_receipt_keeps_each_threads_later_notifications(
    hs: Homeserver,
) -> None:
    """The scan of an unthreaded receipt leaves each thread at its first later entry
    (a receipt costs what it clears): every thread's later messages stay unread."""
    _, alice = await _user(hs, "alice")
    bob_id, bob = await _user(hs, "bob")
    room = await _room(hs, alice, (bob_id, bob))
    roots = [await _send(hs, alice, room, f"root{i}") for i in (1, 2)]
    threads = [{"m.relates_to": {"rel_type": "m.thread", "event_id": r}} for r in roots]
    for i, thread in enumerate(threads):
        await _send(hs, alice, room, f"early{i}", **thread)
    middle = await _send(hs, alice, room, "middle")
    for i, thread in enumerate(threads):
        await _send(hs, alice, room, f"late{i}a", **thread)
        await _send(hs, alice, room, f"late{i}b", **thread)
    await _send(hs, alice, room, "after")
    assert await _counts(hs, bob, room) == (10, 0)
    await _receipt(hs, bob, room, middle)
    joined = (await _sync(hs, bob, filter=THREADS))["rooms"]["join"][room]
    assert joined["unread_notifications"]["notification_count"] == 1
    assert {
        r: c["notification_count"] for r, c in joined["unread_thread_notifications"].items()
    } == {
        roots[0]: 2,
        roots[1]: 2,
    }


async def test_a_threaded_receipt_on_an_indirectly_related_event(hs: Homeserver) -> None:
    """A reaction to a reference to the root is related to the thread (the spec refuses
    only an event "not related to the thread_id"): its receipt reads the thread up to
    it and leaves the main timeline alone (Complement TestThreadedReceipts)."""
    _, alice = await _user(hs, "alice")
    bob_id, bob = await _user(hs, "bob")
    room = await _room(hs, alice, (bob_id, bob))
    root = await _send(hs, alice, room, "root")
    in_thread = {"rel_type": "m.thread", "event_id": root}
    await _send(hs, alice, room, "reply", **{"m.relates_to": in_thread})
    reference = await _send(
        hs, alice, room, "ref", **{"m.relates_to": {"rel_type": "m.reference", "event_id": root}}
    )
    reaction = {"m.relates_to": {"rel_type": "m.annotation", "event_id": reference, "key": "x"}}
    status, reply = await hs.request(
        "PUT", f"/rooms/{room}/send/m.reaction/r1", reaction, token=alice
    )
    assert status == 200, reply
    unrelated = await _send(hs, alice, room, "plain")
    status, refused = await hs.request(
        "POST", f"/rooms/{room}/receipt/m.read/{unrelated}", {"thread_id": root}, token=bob
    )
    assert (status, refused["errcode"]) == (400, "M_INVALID_PARAM")
    await _receipt(hs, bob, room, reply["event_id"], thread_id=root)
    joined = (await _sync(hs, bob, filter=THREADS))["rooms"]["join"][room]
    assert "unread_thread_notifications" not in joined
    # root, ref and plain are the main timeline's, unread.
    assert joined["unread_notifications"]["notification_count"] == 3


async def test_an_own_message_reads_its_thread(hs: Homeserver) -> None:
    _, alice = await _user(hs, "alice")
    bob_id, bob = await _user(hs, "bob")
    room = await _room(hs, alice, (bob_id, bob))
    await _send(hs, alice, room, "one")
    await _send(hs, alice, room, "two")
    assert await _counts(hs, bob, room) == (2, 0)
    await _send(hs, bob, room, "answer")
    assert await _counts(hs, bob, room) == (0, 0)


async def test_a_refused_event_notifies_nobody(hs: Homeserver) -> None:
    await _user(hs, "admin")  # the first user is invited to the admin room: not alice
    alice_id, alice = await _user(hs, "alice")
    bob_id, bob = await _user(hs, "bob")
    room = await _room(hs, alice, (bob_id, bob))
    path = f"/rooms/{room}/state/m.room.power_levels"
    status, levels = await hs.request("GET", path, token=alice)
    assert status == 200
    status, reply = await hs.request("PUT", path, {**levels, "events_default": 50}, token=alice)
    assert status == 200, reply
    status, reply = await hs.request(
        "PUT",
        f"/rooms/{room}/send/m.room.message/refused",
        {"msgtype": "m.text", "body": "hey", "m.mentions": {"user_ids": [alice_id]}},
        token=bob,
    )
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    assert await _counts(hs, alice, room) == (0, 0)
    assert (await _notifications(hs, alice))["notifications"] == []


def _labels(page: dict[str, Any]) -> list[str]:
    return [n["event"]["content"].get("body", n["event"]["type"]) for n in page["notifications"]]


async def test_notifications_pages_newest_first(hs: Homeserver) -> None:
    _, alice = await _user(hs, "alice")
    bob_id, bob = await _user(hs, "bob")
    room = await _room(hs, alice, (bob_id, bob))
    for n in range(5):
        await _send(hs, alice, room, f"m{n}", mention=bob_id if n % 2 else None)
    page = await _notifications(hs, bob, limit="2")
    assert _labels(page) == ["m4", "m3"]
    page = await _notifications(hs, bob, limit="2", **{"from": page["next_token"]})
    assert _labels(page) == ["m2", "m1"]
    page = await _notifications(hs, bob, limit="2", **{"from": page["next_token"]})
    # The oldest: bob's invite (.m.rule.invite_for_me).
    assert _labels(page) == ["m0", "m.room.member"]
    assert "next_token" not in page
    page = await _notifications(hs, bob, only="highlight", limit="1")
    assert _labels(page) == ["m3"]
    page = await _notifications(hs, bob, only="highlight", **{"from": page["next_token"]})
    assert _labels(page) == ["m1"]
    assert "next_token" not in page
    for params in ({"from": "abc"}, {"limit": "-1"}, {"limit": "many"}, {"from": "-5"}):
        status, body = await hs.request("GET", "/notifications", token=bob, params=params)
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM"), params
    status, body = await hs.request("GET", "/notifications")
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")
    assert await _counts(hs, bob, room) == (5, 2)


async def test_listeners_hear_each_notification_after_commit(hs: Homeserver) -> None:
    alice_id, alice = await _user(hs, "alice")
    bob_id, bob = await _user(hs, "bob")
    heard: list[tuple[str, str, str, list[Any], dict[str, int]]] = []

    def listener(
        user_id: str, room_id: str, event_id: str, actions: list[Any], counts: dict[str, int]
    ) -> None:
        # Called after commit: the event is readable.
        assert hs.services.rooms.storage.timeline.get(event_id) is not None
        heard.append((user_id, room_id, event_id, actions, counts))

    hs.services.push.notifications.listeners.append(listener)
    room = await _room(hs, alice, (bob_id, bob))
    other = await _room(hs, alice, (bob_id, bob))
    heard.clear()  # invites notify too (.m.rule.invite_for_me)
    first = await _send(hs, alice, room, "one")
    second = await _send(hs, alice, other, "two")
    assert [(u, r, e, c) for u, r, e, _, c in heard] == [
        (bob_id, room, first, {"unread": 1, "missed_calls": 0}),
        (bob_id, other, second, {"unread": 2, "missed_calls": 0}),
    ]
    assert "notify" in heard[0][3]
    assert all(u != alice_id for u, *_ in heard)


async def test_counts_survive_a_restart(tmp_path: Path) -> None:
    hs = await start_homeserver(tmp_path / "db")
    try:
        _, alice = await _user(hs, "alice")
        bob_id, bob = await _user(hs, "bob")
        room = await _room(hs, alice, (bob_id, bob))
        await _send(hs, alice, room, "one", mention=bob_id)
        await _send(hs, alice, room, "two")
        before = (await _notifications(hs, bob))["notifications"]
    finally:
        await hs.close()
    hs = await start_homeserver(tmp_path / "db")
    try:
        bob = (await hs.login("bob"))["access_token"]
        assert await _counts(hs, bob, room) == (2, 1)
        after = (await _notifications(hs, bob))["notifications"]
        assert [(n["event"]["event_id"], n["read"], n["actions"]) for n in after] == [
            (n["event"]["event_id"], n["read"], n["actions"]) for n in before
        ]
    finally:
        await hs.close()
