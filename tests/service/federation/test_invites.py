"""Inviting a user of another server: the invitee's server signs the invite first
(PUT /invite/v2, against the peer of tests/kit/federation_peer.py), then it is
persisted with both signatures; a refusal changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.kit.federation_peer import FederationPeer, homeserver_with_peer
from tests.kit.homeserver import Homeserver

OURS = "test.example"


@pytest.fixture
async def peer_and_hs(tmp_path: Path) -> AsyncIterator[tuple[FederationPeer, Homeserver]]:
    async with homeserver_with_peer(tmp_path, "127.0.0.10", sender=False) as pair:
        yield pair


async def member_state(hs: Homeserver, token: str, room: str, user: str) -> tuple[int, Any]:
    path = f"/rooms/{quote(room)}/state/m.room.member/{quote(user)}"
    return await hs.request("GET", path, token=token, params={"format": "event"})


def stored_signatures(hs: Homeserver, event_id: str) -> dict[str, Any]:
    stored = hs.services.rooms.storage.timeline.get(event_id)
    assert stored is not None
    signatures: dict[str, Any] = stored["signatures"]
    return signatures


async def test_invite_a_remote_user(peer_and_hs: tuple[FederationPeer, Homeserver]) -> None:
    peer, hs = peer_and_hs
    token = (await hs.register("alice"))["access_token"]
    status, created = await hs.request("POST", "/createRoom", {"name": "Tea"}, token=token)
    room = created["room_id"]
    dave = peer.user("dave")
    status, reply = await hs.request(
        "POST", f"/rooms/{quote(room)}/invite", {"user_id": dave}, token=token
    )
    assert status == 200, reply
    (sent,) = peer.invites
    assert sent["room_version"] == "11"
    assert sent["event"]["state_key"] == dave
    kinds = {e["type"] for e in sent["invite_room_state"]}
    assert {"m.room.create", "m.room.join_rules", "m.room.name", "m.room.member"} <= kinds
    status, event = await member_state(hs, token, room, dave)
    assert status == 200, event
    assert event["content"]["membership"] == "invite"
    assert set(stored_signatures(hs, event["event_id"])) == {OURS, peer.server_name}


async def test_create_room_inviting_a_remote_user(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    token = (await hs.register("alice"))["access_token"]
    dave = peer.user("dave")
    body = {"invite": [dave], "is_direct": True, "preset": "trusted_private_chat"}
    status, created = await hs.request("POST", "/createRoom", body, token=token)
    assert status == 200, created
    status, event = await member_state(hs, token, created["room_id"], dave)
    assert event["content"] == {"membership": "invite", "is_direct": True}
    assert peer.server_name in stored_signatures(hs, event["event_id"])


# M_INVITE_BLOCKED: the invitee's invite permission refuses (spec v1.18); the
# inviting user gets that errcode, as the spec tells clients to expect.
@pytest.mark.parametrize("errcode", ["M_FORBIDDEN", "M_INVITE_BLOCKED"])
async def test_a_refused_invite_changes_nothing(
    peer_and_hs: tuple[FederationPeer, Homeserver], errcode: str
) -> None:
    peer, hs = peer_and_hs
    peer.invite_error = (403, {"errcode": errcode, "error": "no invites"})
    token = (await hs.register("alice"))["access_token"]
    status, created = await hs.request("POST", "/createRoom", {}, token=token)
    room = created["room_id"]
    status, state_before = await hs.request("GET", f"/rooms/{quote(room)}/state", token=token)
    dave = peer.user("dave")
    status, reply = await hs.request(
        "POST", f"/rooms/{quote(room)}/invite", {"user_id": dave}, token=token
    )
    assert (status, reply["errcode"]) == (403, errcode), reply
    status, state_after = await hs.request("GET", f"/rooms/{quote(room)}/state", token=token)
    assert {e["event_id"] for e in state_after} == {e["event_id"] for e in state_before}
    status, _ = await member_state(hs, token, room, dave)
    assert status == 404
