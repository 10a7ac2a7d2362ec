"""Reports reach the admin room as notices from the server user."""

from __future__ import annotations

import asyncio

import pytest

from conduwuit.core.errors import MatrixError
from conduwuit.core.ids import RoomId, UserId
from tests.admin.kit import bot_replies
from tests.kit.homeserver import Homeserver


async def wait_for_notices(hs: Homeserver, user: str, count: int) -> list[str]:
    for _ in range(500):
        bodies = [r["body"] for r in await bot_replies(hs, user)]
        replies = [b for b in bodies if "report received" in b.lower()]
        if len(replies) >= count:
            return replies
        await asyncio.sleep(0.01)
    raise AssertionError("no notice in the admin room")


async def test_event_report_over_http_is_posted(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    bob = (await hs.register("bob"))["user_id"]
    status, created = await hs.request("POST", "/createRoom", {}, token=hs.tokens[bob])
    room_id = created["room_id"]
    status, sent = await hs.request(
        "PUT",
        f"/rooms/{room_id}/send/m.room.message/t1",
        {"msgtype": "m.text", "body": "spam"},
        token=hs.tokens[bob],
    )
    assert status == 200
    status, reply = await hs.request(
        "POST",
        f"/rooms/{room_id}/report/{sent['event_id']}",
        {"reason": "<b>spam</b>", "score": -100},
        token=hs.tokens[bob],
    )
    assert status == 200, reply
    (body,) = await wait_for_notices(hs, alice, 1)
    assert body == (
        f"Report received from {bob}:\n\nEvent ID: {sent['event_id']}\nRoom ID: {room_id}\n"
        "Score: -100\nReason: <b>spam</b>"
    )
    (content,) = [r for r in await bot_replies(hs, alice) if "Report received" in r["body"]]
    assert "&lt;b&gt;spam&lt;/b&gt;" in content["formatted_body"]


async def test_room_and_user_reports_are_posted_refused_ones_not(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    bob = (await hs.register("bob"))["user_id"]
    status, created = await hs.request("POST", "/createRoom", {}, token=hs.tokens[bob])
    assert status == 200
    reports = hs.services.rooms.reports
    reports.report_room(UserId.parse(bob), RoomId.parse(created["room_id"]), "bad room")
    reports.report_user(UserId.parse(bob), UserId.parse(alice), "rude")
    bodies = await wait_for_notices(hs, alice, 2)
    assert bodies == [
        f"Room report received from {bob}:\n\nRoom ID: {created['room_id']}\nReason: bad room",
        f"User report received from {bob}:\n\nUser ID: {alice}\nReason: rude",
    ]
    with pytest.raises(MatrixError) as refused:
        reports.report_user(UserId.parse(bob), UserId.parse("@ghost:test.example"), "x")
    assert refused.value.status == 404
    await asyncio.sleep(0.05)
    assert len(await wait_for_notices(hs, alice, 2)) == 2
