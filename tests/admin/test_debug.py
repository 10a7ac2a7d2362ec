"""``!admin debug`` through the admin room."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from aiohttp import web

from tests.admin.kit import admin_room_id, command, say
from tests.kit.homeserver import Homeserver
from tests.kit.remote import RemoteServer


def json_of(body: str) -> object:
    return json.loads(body[body.index("```json") + 7 : body.rindex("```")])


async def test_echo_and_get_pdu_and_room_state(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    reply = await command(hs, alice, "!admin debug echo hello  there")
    assert reply["body"] == "hello there"
    event_id = await say(hs, alice, "just a message")
    reply = await command(hs, alice, f"!admin debug get-pdu '{event_id}'")
    pdu = json_of(reply["body"])
    assert isinstance(pdu, dict)
    assert (pdu["event_id"], pdu["content"]["body"]) == (event_id, "just a message")
    reply = await command(hs, alice, "!admin debug get-pdu '$nope'")
    assert reply["body"] == "Error: No event $nope here"
    reply = await command(hs, alice, f"!admin debug get-room-state {admin_room_id(hs)}")
    assert reply["body"].startswith(f"State of {admin_room_id(hs)}:")
    reply = await command(hs, alice, "!admin debug get-room-state !nope:test.example")
    assert reply["body"] == "Error: Room !nope:test.example is not known here"


async def test_ping_and_resolve(fed_hs: Homeserver, remote: RemoteServer) -> None:
    alice = (await fed_hs.register("alice"))["user_id"]

    async def version(request: web.Request) -> web.Response:
        return web.json_response({"server": {"name": "Remote", "version": "1.2.3"}})

    remote.routes[("GET", "/_matrix/federation/v1/version")] = version
    reply = await command(fed_hs, alice, f"!admin debug ping {remote.server_name}")
    assert reply["body"].startswith(f"{remote.server_name} answered in ")
    assert json_of(reply["body"]) == {"server": {"name": "Remote", "version": "1.2.3"}}
    assert ("GET", "/_matrix/federation/v1/version") in remote.calls
    reply = await command(fed_hs, alice, "!admin debug ping test.example")
    assert reply["body"] == (
        "Error: test.example did not answer: a federation request to ourselves"
    )
    reply = await command(fed_hs, alice, "!admin debug ping 'not a server'")
    assert reply["body"].startswith("Error: 'not a server' is not a server name")
    reply = await command(
        fed_hs, alice, f"!admin debug resolve-true-destination {remote.server_name}"
    )
    assert reply["body"].startswith(f"{remote.server_name} resolves to 127.0.0.2 port")


@pytest.fixture
def root_level() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)
    logging.getLogger("conduwuit.service").setLevel(logging.NOTSET)


@pytest.mark.usefixtures("root_level")
async def test_change_log_level(hs: Homeserver) -> None:
    alice = (await hs.register("alice"))["user_id"]
    service = logging.getLogger("conduwuit.service")
    reply = await command(hs, alice, "!admin debug change-log-level debug,conduwuit.service=error")
    assert reply["body"] == "Log filter is now 'debug,conduwuit.service=error'."
    assert logging.getLogger().level == logging.DEBUG
    assert service.level == logging.ERROR
    reply = await command(hs, alice, "!admin debug change-log-level loud")
    assert reply["body"].startswith("Error: Log filter not changed: unknown log level 'loud'")
    assert (logging.getLogger().level, service.level) == (logging.DEBUG, logging.ERROR)
    reply = await command(hs, alice, "!admin debug change-log-level")
    assert reply["body"].startswith("Error: Give a log filter")
    reply = await command(hs, alice, "!admin debug change-log-level --reset")
    assert reply["body"] == "Log filter is now 'info'."
    assert (logging.getLogger().level, service.level) == (logging.INFO, logging.NOTSET)
