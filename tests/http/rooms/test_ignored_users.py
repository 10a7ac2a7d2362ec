"""Ignoring Users (client-server module): a viewer gets no non-state events of the
users in their ``m.ignored_user_list``, on every read path; state events still come."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.kit.homeserver import Homeserver


async def register(hs: Homeserver, name: str) -> str:
    return str((await hs.register(name))["access_token"])


async def ignore(hs: Homeserver, token: str, user: str, ignored: list[str]) -> None:
    status, reply = await hs.request(
        "PUT",
        f"/user/{quote(user)}/account_data/m.ignored_user_list",
        {"ignored_users": {u: {} for u in ignored}},
        token=token,
    )
    assert status == 200, reply


async def send(hs: Homeserver, token: str, room_id: str, body: str, txn: str) -> str:
    status, reply = await hs.request(
        "PUT",
        f"/rooms/{room_id}/send/m.room.message/{txn}",
        {"msgtype": "m.text", "body": body},
        token=token,
    )
    assert status == 200, reply
    return str(reply["event_id"])


async def timeline(hs: Homeserver, token: str, room_id: str) -> list[dict[str, Any]]:
    status, reply = await hs.request("GET", "/sync", token=token, params={"timeout": "0"})
    assert status == 200, reply
    events: list[dict[str, Any]] = reply["rooms"]["join"][room_id]["timeline"]["events"]
    return events


async def test_ignored_users_messages_are_left_out_but_their_state_is_not(
    hs: Homeserver,
) -> None:
    name = hs.config.server_name
    alice, bob, chris = [await register(hs, n) for n in ("alice", "bob", "chris")]
    status, reply = await hs.request(
        "POST",
        "/createRoom",
        {"preset": "public_chat", "power_level_content_override": {"events": {"m.room.topic": 0}}},
        token=alice,
    )
    assert status == 200, reply
    room_id = reply["room_id"]
    for token in (bob, chris):
        assert (await hs.request("POST", f"/join/{room_id}", {}, token=token))[0] == 200
    await ignore(hs, alice, f"@alice:{name}", [f"@bob:{name}"])

    hidden = await send(hs, bob, room_id, "you will not see this", "1")
    status, reply = await hs.request(
        "PUT", f"/rooms/{room_id}/state/m.room.topic", {"topic": "bob's topic"}, token=bob
    )
    assert status == 200, reply
    topic = reply["event_id"]
    shown = await send(hs, chris, room_id, "chris speaks", "1")

    ids = [e["event_id"] for e in await timeline(hs, alice, room_id)]
    assert hidden not in ids and topic in ids and shown in ids
    status, page = await hs.request(
        "GET", f"/rooms/{room_id}/messages", token=alice, params={"dir": "b", "limit": "50"}
    )
    assert status == 200, page
    ids = [e["event_id"] for e in page["chunk"]]
    assert hidden not in ids and topic in ids and shown in ids
    status, _ = await hs.request("GET", f"/rooms/{room_id}/event/{hidden}", token=alice)
    assert status == 404
    status, context = await hs.request("GET", f"/rooms/{room_id}/context/{shown}", token=alice)
    assert status == 200, context
    assert hidden not in [e["event_id"] for e in context["events_before"]]

    # Someone who does not ignore bob sees everything.
    ids = [e["event_id"] for e in await timeline(hs, chris, room_id)]
    assert hidden in ids and topic in ids
    # Un-ignoring: bob's messages come again.
    await ignore(hs, alice, f"@alice:{name}", [])
    again = await send(hs, bob, room_id, "hello again", "2")
    assert again in [e["event_id"] for e in await timeline(hs, alice, room_id)]


async def test_ignored_users_messages_notify_nobody_who_ignores_them(hs: Homeserver) -> None:
    name = hs.config.server_name
    await register(hs, "admin")  # the first user is invited to the admin room: not alice
    alice, bob = [await register(hs, n) for n in ("alice", "bob")]
    status, reply = await hs.request(
        "POST", "/createRoom", {"preset": "private_chat", "is_direct": True}, token=alice
    )
    assert status == 200, reply
    room_id = reply["room_id"]
    await hs.request("POST", f"/rooms/{room_id}/invite", {"user_id": f"@bob:{name}"}, token=alice)
    assert (await hs.request("POST", f"/join/{room_id}", {}, token=bob))[0] == 200

    async def notifications() -> int:
        status, reply = await hs.request("GET", "/notifications", token=alice)
        assert status == 200, reply
        return len(reply["notifications"])

    await send(hs, bob, room_id, "a one-to-one message notifies", "1")
    assert await notifications() == 1
    await ignore(hs, alice, f"@alice:{name}", [f"@bob:{name}"])
    await send(hs, bob, room_id, "not while ignored", "2")
    assert await notifications() == 1
    await ignore(hs, alice, f"@alice:{name}", [])
    await send(hs, bob, room_id, "again after un-ignoring", "3")
    assert await notifications() == 2
