"""Other servers' users joining, leaving and knocking on our rooms, and their
invites of our users, over signed requests from a remote server the test plays."""

from __future__ import annotations

import copy
from typing import Any

from conduwuit.core.room_versions import KNOWN_ROOM_VERSIONS
from tests.http.federation.test_room_reads import q, room_with, send
from tests.http.federation.test_send import transaction
from tests.kit.homeserver import Homeserver
from tests.kit.remote import RemoteServer

V1 = "/_matrix/federation/v1"
V2 = "/_matrix/federation/v2"


def members(hs: Homeserver, room_id: str) -> dict[str, str]:
    index = hs.services.rooms.storage.member_index
    out = {}
    for membership in ("join", "leave", "invite", "knock", "ban"):
        for user in index.members(room_id, membership):
            out[user] = membership
    return out


async def make(
    hs: Homeserver,
    remote: RemoteServer,
    kind: str,
    room_id: str,
    user: str,
    ver: tuple[str, ...] = ("10", "11"),
) -> tuple[int, Any]:
    query = "&".join(f"ver={v}" for v in ver)
    return await remote.request(hs, "GET", f"{V1}/make_{kind}/{q(room_id)}/{q(user)}?{query}")


async def signed_from_template(
    hs: Homeserver, remote: RemoteServer, kind: str, room_id: str, user: str
) -> tuple[dict[str, Any], str]:
    status, template = await make(hs, remote, kind, room_id, user)
    assert status == 200, template
    rv = KNOWN_ROOM_VERSIONS[template["room_version"]]
    event = {**template["event"], "origin_server_ts": hs.clock()}
    pdu = remote.sign(event, rv)
    return pdu, remote.event_id(pdu, rv)


async def test_a_remote_user_joins_then_leaves(fed_hs: Homeserver, remote: RemoteServer) -> None:
    room_id, token = await room_with(fed_hs)
    await send(fed_hs, room_id, token, "before")
    bob = remote.user("bob")
    pdu, event_id = await signed_from_template(fed_hs, remote, "join", room_id, bob)
    assert "join_authorised_via_users_server" not in pdu["content"]
    status, answer = await remote.request(
        fed_hs, "PUT", f"{V2}/send_join/{q(room_id)}/{q(event_id)}", pdu
    )
    assert status == 200, answer
    types = {(p["type"], p.get("state_key")) for p in answer["state"]}
    assert ("m.room.create", "") in types and ("m.room.member", bob) not in types
    assert answer["auth_chain"] and answer["origin"] == fed_hs.config.server_name
    assert members(fed_hs, room_id)[bob] == "join"
    # Sending the same join again changes nothing and answers the same.
    status, again = await remote.request(
        fed_hs, "PUT", f"{V1}/send_join/{q(room_id)}/{q(event_id)}", pdu
    )
    assert status == 200 and again[0] == 200 and len(again[1]["state"]) == len(answer["state"])

    # The joined server may now read the room.
    status, _ = await remote.request(fed_hs, "GET", f"{V1}/event/{q(event_id)}")
    assert status == 200

    leave, leave_id = await signed_from_template(fed_hs, remote, "leave", room_id, bob)
    status, answer = await remote.request(
        fed_hs, "PUT", f"{V2}/send_leave/{q(room_id)}/{q(leave_id)}", leave
    )
    assert (status, answer) == (200, {})
    assert members(fed_hs, room_id)[bob] == "leave"


async def test_join_refusals_change_nothing(
    fed_hs: Homeserver, remote: RemoteServer, other: RemoteServer
) -> None:
    room_id, token = await room_with(fed_hs)
    bob = remote.user("bob")
    # Another server's user; an unsupported version; an unknown room.
    status, answer = await make(fed_hs, other, "join", room_id, bob)
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN")
    status, answer = await make(fed_hs, remote, "join", room_id, bob, ver=("1", "2"))
    assert (status, answer["errcode"], answer["room_version"]) == (
        400,
        "M_INCOMPATIBLE_ROOM_VERSION",
        "11",
    )
    status, answer = await make(fed_hs, remote, "join", "!nope:test.example", bob)
    assert (status, answer["errcode"]) == (404, "M_NOT_FOUND")

    pdu, event_id = await signed_from_template(fed_hs, remote, "join", room_id, bob)
    path = f"{V2}/send_join/{q(room_id)}/{q(event_id)}"
    tampered = copy.deepcopy(pdu)
    tampered["signatures"][remote.server_name] = {
        k: "A" * 86 for k in pdu["signatures"][remote.server_name]
    }
    leave = {**pdu, "content": {"membership": "leave"}}
    for sender, body, expected in (
        (remote, tampered, (403, "M_FORBIDDEN")),  # bad signature
        (other, pdu, (403, "M_FORBIDDEN")),  # the user is not of the origin
        (remote, leave, (400, "M_BAD_JSON")),  # not a join
        (remote, {**pdu, "origin_server_ts": 5}, (400, "M_BAD_JSON")),  # not this event ID
        (remote, {"type": "m.room.member"}, (400, "M_BAD_JSON")),
    ):
        status, answer = await sender.request(fed_hs, "PUT", path, body)
        assert (status, answer["errcode"]) == expected, answer
    assert bob not in members(fed_hs, room_id)

    # An invite-only room: no template.
    await fed_hs.request(
        "PUT",
        f"/rooms/{q(room_id)}/state/m.room.join_rules/",
        {"join_rule": "invite"},
        token=token,
    )
    status, answer = await make(fed_hs, remote, "join", room_id, bob)
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN")
    status, answer = await remote.request(fed_hs, "PUT", path, pdu)
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN")
    assert bob not in members(fed_hs, room_id)


async def test_restricted_joins_are_authorised_and_signed_by_us(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    space_id, token = await room_with(fed_hs)
    await remote.join(fed_hs, space_id, "bob")
    status, answer = await fed_hs.request(
        "POST",
        "/createRoom",
        {
            "room_version": "10",
            "initial_state": [
                {
                    "type": "m.room.join_rules",
                    "state_key": "",
                    "content": {
                        "join_rule": "restricted",
                        "allow": [{"type": "m.room_membership", "room_id": space_id}],
                    },
                }
            ],
        },
        token=token,
    )
    assert status == 200, answer
    room_id = answer["room_id"]
    carol = remote.user("carol")  # not in the space
    status, answer = await make(fed_hs, remote, "join", room_id, carol)
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN")

    bob = remote.user("bob")
    pdu, event_id = await signed_from_template(fed_hs, remote, "join", room_id, bob)
    assert pdu["content"]["join_authorised_via_users_server"] == "@alice:test.example"
    status, answer = await remote.request(
        fed_hs, "PUT", f"{V2}/send_join/{q(room_id)}/{q(event_id)}", pdu
    )
    assert status == 200, answer
    assert set(answer["event"]["signatures"]) == {remote.server_name, "test.example"}
    assert members(fed_hs, room_id)[bob] == "join"


async def test_a_remote_user_knocks(fed_hs: Homeserver, remote: RemoteServer) -> None:
    room_id, token = await room_with(fed_hs, room_version="10")
    bob = remote.user("bob")
    status, answer = await make(fed_hs, remote, "knock", room_id, bob)
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN")  # public, not knock
    await fed_hs.request(
        "PUT",
        f"/rooms/{q(room_id)}/state/m.room.join_rules/",
        {"join_rule": "knock"},
        token=token,
    )
    pdu, event_id = await signed_from_template(fed_hs, remote, "knock", room_id, bob)
    status, answer = await remote.request(
        fed_hs, "PUT", f"{V1}/send_knock/{q(room_id)}/{q(event_id)}", pdu
    )
    assert status == 200, answer
    assert {e["type"] for e in answer["knock_room_state"]} >= {"m.room.create", "m.room.join_rules"}
    assert members(fed_hs, room_id)[bob] == "knock"


def invite_event(remote: RemoteServer, room_id: str, invitee: str, ts: int) -> dict[str, Any]:
    rv = KNOWN_ROOM_VERSIONS["10"]
    sender = remote.user("inviter")
    return remote.sign(
        {
            "type": "m.room.member",
            "room_id": room_id,
            "sender": sender,
            "state_key": invitee,
            "content": {"membership": "invite"},
            "origin_server_ts": ts,
            "prev_events": ["$prev"],
            "auth_events": ["$create", "$power", "$inviter"],
            "depth": 5,
        },
        rv,
    )


async def test_a_remote_invite_reaches_the_invitee_in_sync(
    fed_hs: Homeserver, remote: RemoteServer, other: RemoteServer
) -> None:
    carol = await fed_hs.register("carol")
    room_id = f"!remote:{remote.server_name}"
    pdu = invite_event(remote, room_id, carol["user_id"], fed_hs.clock())
    event_id = remote.event_id(pdu, KNOWN_ROOM_VERSIONS["10"])
    name = {
        "type": "m.room.name",
        "state_key": "",
        "sender": remote.user("inviter"),
        "content": {"name": "Remote room"},
    }
    path = f"{V2}/invite/{q(room_id)}/{q(event_id)}"

    # Refusals first: nothing reaches carol.
    nobody = invite_event(remote, room_id, "@nobody:test.example", fed_hs.clock())
    for sender, body, expected in (
        (other, {"room_version": "10", "event": pdu}, (403, "M_FORBIDDEN")),
        (remote, {"room_version": "999", "event": pdu}, (400, "M_INCOMPATIBLE_ROOM_VERSION")),
        (remote, {"room_version": "10", "event": {**pdu, "depth": 6}}, (400, "M_BAD_JSON")),
        (
            remote,
            {"room_version": "10", "event": nobody},
            (400, "M_BAD_JSON"),  # another event ID than the path's
        ),
    ):
        status, answer = await sender.request(fed_hs, "PUT", path, body)
        assert (status, answer["errcode"]) == expected, answer
    status, synced = await fed_hs.request("GET", "/sync", token=carol["access_token"])
    assert status == 200 and not synced.get("rooms", {}).get("invite")

    status, answer = await remote.request(
        fed_hs, "PUT", path, {"room_version": "10", "event": pdu, "invite_room_state": [name]}
    )
    assert status == 200, answer
    assert set(answer["event"]["signatures"]) == {remote.server_name, "test.example"}
    status, synced = await fed_hs.request("GET", "/sync", token=carol["access_token"])
    invite = synced["rooms"]["invite"][room_id]["invite_state"]["events"]
    assert {e["type"] for e in invite} == {"m.room.name", "m.room.member"}


async def test_only_the_inviter_takes_back_an_invite_to_a_room_we_are_not_in(
    fed_hs: Homeserver, remote: RemoteServer, other: RemoteServer
) -> None:
    """A leave of a room we are not in is taken only as the inviter's rescission of
    our user's invite (citing it); anything else stays refused (an unknown room)."""
    rv = KNOWN_ROOM_VERSIONS["10"]
    dana = await fed_hs.register("dana")
    user, token = dana["user_id"], dana["access_token"]
    room_id = f"!rescind:{remote.server_name}"
    pdu = invite_event(remote, room_id, user, fed_hs.clock())
    invite_id = remote.event_id(pdu, rv)
    create = {
        "type": "m.room.create",
        "state_key": "",
        "sender": remote.user("inviter"),
        "content": {"room_version": "10"},
    }
    status, answer = await remote.request(
        fed_hs,
        "PUT",
        f"{V2}/invite/{q(room_id)}/{q(invite_id)}",
        {"room_version": "10", "event": pdu, "invite_room_state": [create]},
    )
    assert status == 200, answer

    def leave(server: RemoteServer, sender: str, auth: list[str]) -> dict[str, Any]:
        return server.sign(
            {
                "type": "m.room.member",
                "room_id": room_id,
                "sender": sender,
                "state_key": user,
                "content": {"membership": "leave"},
                "origin_server_ts": fed_hs.clock(),
                "prev_events": [invite_id],
                "auth_events": auth,
                "depth": 6,
            },
            rv,
        )

    refused = [
        (remote, leave(remote, remote.user("admin"), [invite_id])),  # not the inviter
        (remote, leave(remote, remote.user("inviter"), ["$create"])),  # not citing it
        (other, leave(other, other.user("inviter"), [invite_id])),  # another server
    ]
    for i, (server, event) in enumerate(refused):
        status, answer = await transaction(fed_hs, server, f"r{i}", [event])
        assert status == 200, answer
        assert all("error" in result for result in answer["pdus"].values()), answer
    assert fed_hs.services.rooms.storage.member_index.membership(user, room_id) == "invite"

    taken_back = leave(remote, remote.user("inviter"), [invite_id])
    status, answer = await transaction(fed_hs, remote, "ok", [taken_back])
    assert (status, answer) == (200, {"pdus": {remote.event_id(taken_back, rv): {}}})
    status, synced = await fed_hs.request("GET", "/sync", token=token)
    assert room_id not in synced["rooms"].get("invite", {})
    status, synced = await fed_hs.request(
        "GET", "/sync?filter=" + q('{"room":{"include_leave":true}}'), token=token
    )
    (event,) = synced["rooms"]["leave"][room_id]["timeline"]["events"]
    assert (event["sender"], event["content"]) == (remote.user("inviter"), {"membership": "leave"})


async def test_a_member_event_sent_to_us_is_handed_on(
    fed_hs: Homeserver, remote: RemoteServer, other: RemoteServer
) -> None:
    """As the resident server we pass a send_knock/send_join/send_leave event on to
    the room's other servers (its origin sent it to us only); again, nothing more."""
    room_id, token = await room_with(fed_hs, room_version="10")
    await remote.join(fed_hs, room_id, "bob")
    await fed_hs.request(
        "PUT",
        f"/rooms/{q(room_id)}/state/m.room.join_rules/",
        {"join_rule": "knock"},
        token=token,
    )
    sender = fed_hs.services.federation.sender
    before = sender.pending(remote.server_name), sender.pending(other.server_name)
    pdu, event_id = await signed_from_template(fed_hs, other, "knock", room_id, other.user("eve"))
    for _ in range(2):
        status, answer = await other.request(
            fed_hs, "PUT", f"{V1}/send_knock/{q(room_id)}/{q(event_id)}", pdu
        )
        assert status == 200, answer
    after = sender.pending(remote.server_name), sender.pending(other.server_name)
    assert after == (before[0] + 1, before[1])
