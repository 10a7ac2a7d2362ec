"""Events reach an application service (a real HTTP service on loopback) in
transactions: the interesting ones, exactly once, also across a restart while the
service was failing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conduwuit.service.appservice.sender import AppserviceSenderSettings
from tests.admin.kit import command
from tests.kit.appservice import AS_TOKEN, FakeAppservice
from tests.kit.homeserver import Homeserver, start_homeserver

FAST = AppserviceSenderSettings(retry_base_s=0.02, retry_max_s=0.1)


@pytest.fixture
async def appservice() -> AsyncIterator[FakeAppservice]:
    fake = FakeAppservice()
    await fake.start()
    yield fake
    await fake.close()


async def started(path: Path) -> Homeserver:
    hs = await start_homeserver(path)
    hs.services.appservice_sender.settings = FAST
    hs.services.appservice_sender.start()
    return hs


async def until(condition: object, what: str) -> None:
    for _ in range(500):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def send(hs: Homeserver, room_id: str, body: str, token: str) -> str:
    status, reply = await hs.request(
        "PUT",
        f"/rooms/{room_id}/send/m.room.message/{body}",
        {"msgtype": "m.text", "body": body},
        token=token,
    )
    assert status == 200, reply
    event_id: str = reply["event_id"]
    return event_id


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
        status, reply = await hs.request(
            "POST",
            "/register",
            {"type": "m.login.application_service", "username": "_fake_bob"},
            token=AS_TOKEN,
        )
        assert status == 200, reply
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
