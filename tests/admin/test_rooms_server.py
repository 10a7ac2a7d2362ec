"""``!admin rooms`` and ``!admin server`` through the admin room."""

from __future__ import annotations

import json

from tests.admin.kit import ADMIN_ROOM, admin_room_id, command
from tests.kit.homeserver import Homeserver, StartHomeserver


async def test_list_rooms_with_member_counts(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    bob = (await hs.register("bob"))["user_id"]
    status, created = await hs.request(
        "POST", "/createRoom", {"name": "Bob's place"}, token=hs.tokens[bob]
    )
    assert status == 200
    reply = await command(hs, alice, "!admin rooms list-rooms")
    body = reply["body"]
    assert body.startswith("Rooms (2):")
    assert f"{created['room_id']}  members: 1  name: Bob's place" in body
    assert f"{admin_room_id(hs)}  members: 2  name: Admin Room" in body
    assert alice


async def test_info_and_state(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    reply = await command(hs, alice, f"!admin rooms info {ADMIN_ROOM}")
    assert f"Room ID: {admin_room_id(hs)}" in reply["body"]
    assert "Joined members: 2" in reply["body"]
    assert f"Local aliases: {ADMIN_ROOM}" in reply["body"]
    reply = await command(hs, alice, f"!admin rooms state {admin_room_id(hs)}")
    body = reply["body"]
    state = json.loads(body[body.index("```") + 3 : body.rindex("```")])
    assert {e["type"] for e in state} >= {"m.room.create", "m.room.power_levels"}
    for bad in ("!nope:test.example", "#nope:test.example", "#bad alias"):
        reply = await command(hs, alice, f"!admin rooms info '{bad}'")
        assert reply["body"].startswith("Error: "), reply


async def test_server_uptime_config_memory(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    reply = await command(hs, alice, "!admin server uptime")
    assert reply["body"].startswith("Up for 0 days, 0 hours")
    reply = await command(hs, alice, "!admin server show-config")
    assert "server_name = 'test.example'" in reply["body"]
    reply = await command(hs, alice, "!admin server memory-usage")
    assert float(reply["body"].split()[3]) > 1


async def test_show_config_redacts_secrets(start: StartHomeserver) -> None:
    hs = await start(registration_shared_secret="very-secret-value", turn_secret="turn-it")
    alice = (await hs.register("alice"))["user_id"]
    reply = await command(hs, alice, "!admin server show-config")
    assert "registration_shared_secret = '<redacted>'" in reply["body"]
    assert "turn_secret = '<redacted>'" in reply["body"]
    assert "very-secret-value" not in reply["body"] + reply["formatted_body"]
    assert "turn-it" not in reply["body"]
