"""Invite permission for invites from other servers (PUT /invite v1 and v2): the
invitee's server refuses a blocked inviter with 403 ``M_INVITE_BLOCKED`` and keeps
nothing; an ignored invite is signed and stored, and /sync leaves it out."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from conduwuit.core.room_versions import KNOWN_ROOM_VERSIONS
from tests.http.federation.test_membership import V1, V2, invite_event
from tests.http.federation.test_room_reads import q
from tests.kit.homeserver import Homeserver
from tests.kit.remote import RemoteServer

MSC4155 = "org.matrix.msc4155.invite_permission_config"


async def configure(hs: Homeserver, user: dict[str, Any], content: dict[str, Any]) -> None:
    path = f"/user/{quote(user['user_id'])}/account_data/{MSC4155}"
    status, reply = await hs.request("PUT", path, content, token=user["access_token"])
    assert status == 200, reply


def v1_invite_event(remote: RemoteServer, room_id: str, invitee: str, ts: int) -> dict[str, Any]:
    """An invite in room version 1's format (what PUT /v1/invite assumes of an
    unknown room): the event ID is in the event, references carry hashes."""
    ref = [f"$prev:{remote.server_name}", {"sha256": "aaaa"}]
    return remote.sign(
        {
            "event_id": f"$invite{ts}:{remote.server_name}",
            "type": "m.room.member",
            "room_id": room_id,
            "sender": remote.user("inviter"),
            "state_key": invitee,
            "content": {"membership": "invite"},
            "origin_server_ts": ts,
            "prev_events": [ref],
            "auth_events": [ref],
            "depth": 5,
        },
        KNOWN_ROOM_VERSIONS["1"],
    )


async def invite(
    hs: Homeserver, remote: RemoteServer, room_id: str, invitee: str, version: str = V2
) -> tuple[int, Any]:
    if version == V1:
        pdu = v1_invite_event(remote, room_id, invitee, hs.clock())
        path = f"{V1}/invite/{q(room_id)}/{q(pdu['event_id'])}"
        return await remote.request(hs, "PUT", path, pdu)
    pdu = invite_event(remote, room_id, invitee, hs.clock())
    event_id = remote.event_id(pdu, KNOWN_ROOM_VERSIONS["10"])
    path = f"{V2}/invite/{q(room_id)}/{q(event_id)}"
    return await remote.request(hs, "PUT", path, {"room_version": "10", "event": pdu})


async def invited_rooms(hs: Homeserver, user: dict[str, Any]) -> set[str]:
    status, synced = await hs.request(
        "GET", "/sync", token=user["access_token"], params={"timeout": "0"}
    )
    assert status == 200, synced
    return set(synced.get("rooms", {}).get("invite", {}))


async def test_a_blocked_server_is_refused_on_v1_and_v2(
    fed_hs: Homeserver, remote: RemoteServer, other: RemoteServer
) -> None:
    carol = await fed_hs.register("carol")
    await configure(fed_hs, carol, {"blocked_servers": [remote.server_name]})
    for version in (V1, V2):
        room_id = f"!blocked{version[-2:]}:{remote.server_name}"
        status, answer = await invite(fed_hs, remote, room_id, carol["user_id"], version)
        assert (status, answer["errcode"]) == (403, "M_INVITE_BLOCKED"), answer
        index = fed_hs.services.rooms.storage.member_index
        assert index.membership(carol["user_id"], room_id) is None
    # Another server still invites her.
    room_id = f"!fine:{other.server_name}"
    status, answer = await invite(fed_hs, other, room_id, carol["user_id"])
    assert status == 200, answer
    assert await invited_rooms(fed_hs, carol) == {room_id}


async def test_an_ignored_remote_invite_is_signed_but_hidden(
    fed_hs: Homeserver, remote: RemoteServer
) -> None:
    carol = await fed_hs.register("carol")
    inviter = remote.user("inviter")
    await configure(fed_hs, carol, {"ignored_users": [inviter]})
    room_id = f"!ignored:{remote.server_name}"
    status, answer = await invite(fed_hs, remote, room_id, carol["user_id"])
    assert status == 200, answer
    assert set(answer["event"]["signatures"]) == {remote.server_name, "test.example"}
    assert await invited_rooms(fed_hs, carol) == set()
    # Allowing the inviter's server does not beat the user rule; dropping it does.
    await configure(fed_hs, carol, {"ignored_users": [inviter], "allowed_servers": ["*"]})
    assert await invited_rooms(fed_hs, carol) == set()
    await configure(fed_hs, carol, {})
    assert await invited_rooms(fed_hs, carol) == {room_id}
