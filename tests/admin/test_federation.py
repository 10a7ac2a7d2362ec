"""``!admin federation`` through the admin room, with a remote server the test plays
(tests/kit/remote.py): disabled and banned rooms refuse its requests."""

from __future__ import annotations

import asyncio
import json

import trustme
from aiohttp import web

from conduwuit.core.room_versions import KNOWN_ROOM_VERSIONS
from tests.admin.kit import command
from tests.http.federation.test_membership import V1, make
from tests.http.federation.test_room_reads import q, room_with
from tests.http.federation.test_send import event_id, message, stored, transaction
from tests.kit.homeserver import Homeserver
from tests.kit.remote import RemoteServer
from tests.service.federation.netkit import WellKnownServer

V11 = KNOWN_ROOM_VERSIONS["11"]
DISABLED = "Federation of this room is disabled on this server."


async def test_disable_and_enable_room(fed_hs: Homeserver, remote: RemoteServer) -> None:
    room_id, _ = await room_with(fed_hs)  # alice, the first user: an admin
    alice = "@alice:test.example"
    await remote.join(fed_hs, room_id, "bob")
    reply = await command(fed_hs, alice, f"!admin federation disable-room {room_id}")
    assert reply["body"] == f"Incoming federation of {room_id} is disabled."
    # Joins, events and reads of the room are refused; nothing is stored.
    status, error = await make(fed_hs, remote, "join", room_id, remote.user("carol"))
    assert (status, error["errcode"], error["error"]) == (403, "M_FORBIDDEN", DISABLED)
    pdu = message(fed_hs, remote, room_id, "while disabled")
    eid = event_id(fed_hs, remote, room_id, pdu)
    status, answer = await transaction(fed_hs, remote, "t1", [pdu])
    assert (status, answer) == (200, {"pdus": {eid: {"error": DISABLED}}})
    assert not stored(fed_hs, eid)
    status, error = await remote.request(fed_hs, "GET", f"{V1}/state_ids/{q(room_id)}?event_id=x")
    assert (status, error["error"]) == (403, DISABLED)
    reply = await command(fed_hs, alice, f"!admin federation disable-room {room_id}")
    assert reply["body"] == f"Error: Federation of {room_id} is already disabled"

    reply = await command(fed_hs, alice, f"!admin federation enable-room {room_id}")
    assert reply["body"] == f"Incoming federation of {room_id} is enabled."
    status, _ = await make(fed_hs, remote, "join", room_id, remote.user("carol"))
    assert status == 200
    status, answer = await transaction(fed_hs, remote, "t2", [pdu])
    assert (status, answer) == (200, {"pdus": {eid: {}}})
    assert stored(fed_hs, eid)
    reply = await command(fed_hs, alice, f"!admin federation enable-room {room_id}")
    assert reply["body"] == f"Error: Federation of {room_id} is not disabled"
    reply = await command(fed_hs, alice, "!admin federation disable-room nonsense")
    assert reply["body"] == "Error: 'nonsense' is not a room ID or alias"


async def test_a_banned_room_refuses_federation_and_invites(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    room_id, _ = await room_with(fed_hs)
    alice = "@alice:test.example"
    bob = (await fed_hs.register("bob"))["user_id"]
    await command(fed_hs, alice, f"!admin rooms moderation ban-room {room_id}")
    status, error = await make(fed_hs, remote, "join", room_id, remote.user("carol"))
    assert (status, error["error"]) == (403, DISABLED)
    # An invite of a local user to a banned room we do not know is refused too.
    far = "!far:" + remote.server_name
    await command(fed_hs, alice, f"!admin rooms moderation ban-room {far}")
    invite = remote.sign(
        {
            "type": "m.room.member",
            "room_id": far,
            "sender": remote.user("carol"),
            "state_key": bob,
            "content": {"membership": "invite"},
            "origin_server_ts": fed_hs.clock(),
            "prev_events": [],
            "auth_events": [],
            "depth": 1,
        },
        V11,
    )
    status, error = await remote.request(
        fed_hs,
        "PUT",
        f"/_matrix/federation/v2/invite/{q(far)}/{q(remote.event_id(invite, V11))}",
        {"event": invite, "room_version": "11", "invite_room_state": []},
    )
    assert (status, error["error"]) == (403, DISABLED)
    assert fed_hs.services.rooms.storage.member_index.membership(bob, far) is None
    reply = await command(fed_hs, alice, f"!admin federation enable-room {room_id}")
    assert reply["body"].startswith(f"Error: {room_id} is banned: unban it")


async def test_incoming_federation_lists_the_pdus_being_handled(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    room_id, _ = await room_with(fed_hs)
    alice = "@alice:test.example"
    await remote.join(fed_hs, room_id, "bob")
    reply = await command(fed_hs, alice, "!admin federation incoming-federation")
    assert reply["body"] == "No incoming PDU is being handled."
    # A PDU citing an event we lack: handling it waits on the origin's
    # /get_missing_events, which the test holds until it has looked.
    first = message(fed_hs, remote, room_id, "first")
    first_id = event_id(fed_hs, remote, room_id, first)
    second = message(
        fed_hs, remote, room_id, "second", prev_events=[first_id], depth=first["depth"] + 1
    )
    second_id = event_id(fed_hs, remote, room_id, second)
    asked, release = asyncio.Event(), asyncio.Event()

    async def missing(request: web.Request) -> web.Response:
        asked.set()
        await asyncio.wait_for(release.wait(), 10)
        return web.json_response({"events": [first]})

    remote.routes[("POST", "/_matrix/federation/v1/get_missing_events/")] = missing
    sending = asyncio.ensure_future(transaction(fed_hs, remote, "held", [second]))
    try:
        await asyncio.wait_for(asked.wait(), 10)
        reply = await command(fed_hs, alice, "!admin federation incoming-federation")
        head, _, listing = reply["body"].partition("\n")
        assert head == "Handling 1 incoming PDU(s):"
        assert listing.startswith(f"```\n{room_id} {second_id} from {remote.server_name}, for ")
        assert listing.endswith(" s\n```")
    finally:
        release.set()
        status, answer = await asyncio.wait_for(sending, 10)
    assert (status, answer) == (200, {"pdus": {second_id: {}}})
    reply = await command(fed_hs, alice, "!admin federation incoming-federation")
    assert reply["body"] == "No incoming PDU is being handled."
    reply = await command(fed_hs, alice, "!admin federation incoming-federation extra")
    assert "unrecognized arguments: extra" in reply["body"], reply


async def test_remote_user_in_rooms(fed_hs: Homeserver, remote: RemoteServer) -> None:
    room_id, _ = await room_with(fed_hs)
    alice = "@alice:test.example"
    await remote.join(fed_hs, room_id, "bob")
    bob = remote.user("bob")
    reply = await command(fed_hs, alice, f"!admin federation remote-user-in-rooms {bob}")
    assert reply["body"] == f"{bob} is joined to 1 room(s) known here:\n```\n{room_id}\n```"
    for user, error in (
        (alice, f"Error: {alice} is a local user"),
        (remote.user("nobody"), f"Error: {remote.user('nobody')} shares no room"),
        ("not-a-user", "Error: 'not-a-user' is not a user ID"),
    ):
        reply = await command(fed_hs, alice, f"!admin federation remote-user-in-rooms {user}")
        assert reply["body"].startswith(error), reply


async def test_fetch_support_well_known(fed_hs: Homeserver, ca: trustme.CA) -> None:
    alice = (await fed_hs.register("alice"))["user_id"]
    site = await WellKnownServer(ca, []).start()
    try:
        server = f"127.0.0.1:{site.port}"
        site.serve_json(
            "127.0.0.1",
            json.dumps(
                {
                    "contacts": [
                        {"matrix_id": "@admin:example.org", "role": "m.role.admin"},
                        {"email_address": "security@example.org", "role": "m.role.security"},
                    ],
                    "support_page": "https://example.org/help",
                }
            ),
        )
        line = f"!admin federation fetch-support-well-known {server}"
        reply = await command(fed_hs, alice, line)
        assert reply["body"] == (
            f"Support information of {server}:\n```\n"
            "m.role.admin: @admin:example.org\n"
            "m.role.security: security@example.org\n"
            "support page: https://example.org/help\n```"
        )
        for body, error in (
            ("[1, 2]", "is not a JSON object"),
            ("{}", "names no contact nor page"),
            ("not json", "is not a JSON object"),
        ):
            site.serve_json("127.0.0.1", body)
            reply = await command(fed_hs, alice, line)
            assert reply["body"].startswith("Error: ") and error in reply["body"], reply
        site.handlers.clear()
        reply = await command(fed_hs, alice, line)
        assert reply["body"].startswith(f"Error: No support information from {server}: ")
        assert "answered 404" in reply["body"]
    finally:
        await site.stop()
    reply = await command(fed_hs, alice, "!admin federation fetch-support-well-known 'a b'")
    assert reply["body"].startswith("Error: No support information from a b: 'a b' is not")


async def test_ban_room_by_another_servers_alias(fed_hs: Homeserver, remote: RemoteServer) -> None:
    alice = (await fed_hs.register("alice"))["user_id"]
    spam = f"#spam:{remote.server_name}"
    spam_room = f"!spam:{remote.server_name}"

    async def directory(request: web.Request) -> web.Response:
        if request.query.get("room_alias") != spam:
            return web.json_response({"errcode": "M_NOT_FOUND"}, status=404)
        return web.json_response({"room_id": spam_room, "servers": [remote.server_name]})

    remote.routes[("GET", "/_matrix/federation/v1/query/directory")] = directory
    reply = await command(fed_hs, alice, f"!admin rooms moderation ban-room '{spam}'")
    assert reply["body"] == f"Banned {spam_room}; 0 local user(s) made to leave."
    assert fed_hs.services.rooms.metadata.is_banned(spam_room)
    other = f"#other:{remote.server_name}"
    reply = await command(fed_hs, alice, f"!admin rooms moderation ban-room '{other}'")
    assert reply["body"].startswith(f"Error: Could not resolve {other}: ")
    reply = await command(fed_hs, alice, f"!admin rooms moderation unban-room '{spam}'")
    assert reply["body"].startswith(f"Unbanned {spam_room}")
    assert fed_hs.services.rooms.metadata.banned() == []
