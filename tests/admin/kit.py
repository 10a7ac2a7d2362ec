"""Talking to the admin bot through the real admin room."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tests.kit.homeserver import Homeserver

ADMIN_ROOM = "#admins:test.example"
BOT = "@conduit:test.example"


def admin_room_id(hs: Homeserver) -> str:
    room_id = hs.admin.room.room_id()
    assert room_id is not None
    return room_id


async def say(hs: Homeserver, user: str, body: str, room_id: str | None = None) -> str:
    room = room_id or admin_room_id(hs)
    status, reply = await hs.request(
        "PUT",
        f"/rooms/{room}/send/m.room.message/{uuid.uuid4().hex}",
        {"msgtype": "m.text", "body": body},
        token=hs.tokens[user],
    )
    assert status == 200, reply
    event_id: str = reply["event_id"]
    return event_id


async def bot_replies(
    hs: Homeserver, user: str, room_id: str | None = None
) -> list[dict[str, Any]]:
    room = room_id or admin_room_id(hs)
    status, reply = await hs.request(
        "GET", f"/rooms/{room}/messages", params={"dir": "b", "limit": "100"}, token=hs.tokens[user]
    )
    assert status == 200, reply
    return [
        e["content"]
        for e in reversed(reply["chunk"])
        if e["type"] == "m.room.message" and e["sender"] == BOT
    ]


async def command(hs: Homeserver, user: str, body: str) -> dict[str, Any]:
    """Send ``body`` as ``user`` and return the bot's reply to it (bounded wait)."""
    event_id = await say(hs, user, body)
    for _ in range(500):
        for reply in await bot_replies(hs, user):
            if reply.get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id") == event_id:
                return reply
        await asyncio.sleep(0.01)
    raise AssertionError(f"no reply to {body!r}")
