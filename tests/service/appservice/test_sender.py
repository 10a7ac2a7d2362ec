"""Events reach an application service (a real HTTP service on loopback) in
transactions: the interesting ones, exactly once, also across a restart while the
service was failing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.admin.kit import command
from tests.kit.appservice import AS_TOKEN, FakeAppservice
from tests.service.appservice.kit import register_user, send, started, until


async def test_interesting_events_arrive_once_across_a_restart(
    tmp_path: Path, appservice: FakeAppservice
) -> None:
    hs = await started(tmp_path / "db")
    try:
        alice = (await hs.register("alice"))["user_id"]
        reply = await command(
            hs, alice, f"!admin appservices register\n```yaml\n{appservice.registration_yaml()}```"
        )
        assert reply["body"] == "Registered appservice fake."
        token = hs.tokens[alice]
        # A room without namespace users: nothing goes to the service.
        status, quiet = await hs.request("POST", "/createRoom", {}, token=token)
        quiet_event = await send(hs, quiet["room_id"], "quiet", token)
        status, room = await hs.request(
            "POST", "/createRoom", {"preset": "public_chat"}, token=token
        )
        room_id = room["room_id"]
        await register_user(hs, "_fake_bob")
        status, reply = await hs.request(
            "POST",
            f"/rooms/{room_id}/join",
            {},
            token=AS_TOKEN,
            params={"user_id": "@_fake_bob:test.example"},
        )
        assert status == 200, reply
        first = await send(hs, room_id, "one", token)
        await until(lambda: first in appservice.event_ids(), "the first message")
        assert quiet_event not in appservice.event_ids()
        delivered = appservice.event_ids()
        assert len(delivered) == len(set(delivered))
        types = [e["type"] for _, events in appservice.transactions for e in events]
        assert "m.room.member" in types  # bob's join: its state_key is in the namespace
        # The service fails; an event is queued and survives the restart.
        appservice.failing = True
        second = await send(hs, room_id, "two", token)
        await until(lambda: appservice.refused >= 2, "a refused attempt")
        assert hs.services.appservice_sender.pending("fake") == 1
    finally:
        await hs.close()
    appservice.failing = False
    hs = await started(tmp_path / "db")
    try:
        await until(lambda: second in appservice.event_ids(), "the queued message after restart")
        token = (await hs.login("alice"))["access_token"]
        third = await send(hs, room_id, "three", token)
        await until(lambda: third in appservice.event_ids(), "a message after restart")
        ids = appservice.event_ids()
        assert ids.count(first) == ids.count(second) == ids.count(third) == 1
        assert hs.services.appservice_sender.pending("fake") == 0
        event = next(e for _, es in appservice.transactions for e in es if e["event_id"] == second)
        assert event["content"]["body"] == "two" and event["sender"] == alice
    finally:
        await hs.close()


async def test_unregistering_drops_the_queue(tmp_path: Path, appservice: FakeAppservice) -> None:
    hs = await started(tmp_path / "db")
    try:
        alice = (await hs.register("alice"))["user_id"]
        appservice.failing = True
        reply = await command(
            hs, alice, f"!admin appservices register\n```yaml\n{appservice.registration_yaml()}```"
        )
        assert reply["body"] == "Registered appservice fake."
        status, room = await hs.request(
            "POST", "/createRoom", {"room_alias_name": "_fake_room"}, token=AS_TOKEN
        )
        assert status == 200, room
        await until(lambda: appservice.refused >= 1, "a refused attempt")
        assert hs.services.appservice_sender.pending("fake") > 0
        reply = await command(hs, alice, "!admin appservices unregister fake")
        assert hs.services.appservice_sender.pending("fake") == 0
        appservice.failing = False
        await asyncio.sleep(0.2)
        assert appservice.transactions == []
    finally:
        await hs.close()
