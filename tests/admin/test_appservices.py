"""``!admin appservices``: registering, listing, showing and removing application
services through the real admin room; registrations survive a restart."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.admin.kit import command
from tests.kit.homeserver import Homeserver, StartHomeserver, start_homeserver

REGISTRATION = """\
id: bridge
url: null
as_token: as-token-1
hs_token: hs-token-1
sender_localpart: _bridge_bot
rate_limited: false
namespaces:
  users:
    - exclusive: true
      regex: '@_bridge_.*:test\\.example'
  aliases: []
  rooms: []
"""


def register_body(registration: str = REGISTRATION) -> str:
    return f"!admin appservices register\n```yaml\n{registration}```"


async def test_register_list_show_unregister(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    reply = await command(hs, alice, register_body())
    assert reply["body"] == "Registered appservice bridge."
    assert hs.services.users.accounts.exists("@_bridge_bot:test.example")
    reply = await command(hs, alice, "!admin appservices list")
    assert reply["body"] == "Appservices (1): bridge"
    reply = await command(hs, alice, "!admin appservices show-appservice-config bridge")
    shown = reply["body"].split("```yaml\n", 1)[1].rsplit("```", 1)[0]
    assert yaml.safe_load(shown) == {
        **yaml.safe_load(REGISTRATION),
        "namespaces": {
            "users": [{"exclusive": True, "regex": "@_bridge_.*:test\\.example"}],
            "aliases": [],
            "rooms": [],
        },
        "receive_ephemeral": False,
    }
    reply = await command(
        hs, alice, register_body(REGISTRATION.replace("url: null", "url: http://127.0.0.1:1"))
    )
    assert reply["body"] == "Replaced appservice bridge."
    assert hs.services.users.appservices.get("bridge").url == "http://127.0.0.1:1"  # type: ignore[union-attr]
    reply = await command(hs, alice, "!admin appservices unregister bridge")
    assert reply["body"] == "Unregistered appservice bridge."
    reply = await command(hs, alice, "!admin appservices list")
    assert reply["body"] == "Appservices (0): "
    reply = await command(hs, alice, "!admin appservices unregister bridge")
    assert reply["body"] == "Error: No appservice is registered as 'bridge'"
    reply = await command(hs, alice, "!admin appservices show-appservice-config bridge")
    assert reply["body"] == "Error: No appservice is registered as 'bridge'"


async def test_bad_registrations_are_refused_and_change_nothing(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    reply = await command(hs, alice, "!admin appservices register")
    assert reply["body"].startswith("Error: Expected the registration YAML in a code block")
    reply = await command(hs, alice, register_body("id: [unclosed\n"))
    assert reply["body"].startswith(
        "Error: Invalid appservice registration: the registration is not valid YAML"
    )
    reply = await command(
        hs, alice, register_body(REGISTRATION.replace("hs_token: hs-token-1\n", ""))
    )
    assert reply["body"] == "Error: Invalid appservice registration: 'hs_token' is required"
    reply = await command(hs, alice, register_body(REGISTRATION.replace("_bridge_bot", "Bad Name")))
    assert reply["body"].startswith("Error: Invalid appservice registration: 'sender_localpart'")
    reply = await command(hs, alice, register_body(REGISTRATION.replace("_bridge_bot", "conduit")))
    assert (
        reply["body"]
        == "Error: Invalid appservice registration: 'sender_localpart' 'conduit' is reserved"
    )
    assert hs.services.users.appservices.all() == []
    assert (await command(hs, alice, register_body()))["body"] == "Registered appservice bridge."
    reply = await command(hs, alice, register_body(REGISTRATION.replace("id: bridge", "id: other")))
    assert reply["body"].endswith("'as_token' is already used by appservice 'bridge'")
    assert [r.id for r in hs.services.users.appservices.all()] == ["bridge"]


async def test_non_admins_cannot_register(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    bob = (await hs.register("bob"))["user_id"]
    room_id = hs.admin.room.room_id()
    status, _ = await hs.request(
        "POST", f"/rooms/{room_id}/invite", {"user_id": bob}, token=hs.tokens[alice]
    )
    assert status == 200
    status, _ = await hs.request("POST", f"/rooms/{room_id}/join", {}, token=hs.tokens[bob])
    assert status == 200
    reply = await command(hs, bob, register_body())
    assert "is not a server admin" in reply["body"]
    assert hs.services.users.appservices.all() == []


async def test_registrations_survive_a_restart(tmp_path: Path, start: StartHomeserver) -> None:
    del start
    hs = await start_homeserver(tmp_path / "db")
    try:
        alice = (await hs.register("alice"))["user_id"]
        assert (await command(hs, alice, register_body()))[
            "body"
        ] == "Registered appservice bridge."
    finally:
        await hs.close()
    hs = await start_homeserver(tmp_path / "db")
    try:
        reg = hs.services.users.appservices.by_as_token("as-token-1")
        assert reg is not None and reg.id == "bridge"
    finally:
        await hs.close()
