"""Joining a room hosted by another server (make_join/send_join), against the peer of
tests/kit/federation_peer.py hosting a v10 room: the joined room is in /sync, its
state is the peer's, and what our user sends next goes to the peer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from conduwuit.core.room_versions import V10
from tests.kit.federation_peer import FederationPeer, homeserver_with_peer
from tests.kit.homeserver import Homeserver

OURS = "test.example"


@pytest.fixture
async def peer_and_hs(tmp_path: Path) -> AsyncIterator[tuple[FederationPeer, Homeserver]]:
    async with homeserver_with_peer(tmp_path, "127.0.0.8", sender=True) as pair:
        yield pair


async def test_join_a_remote_room_then_talk_in_it(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    room = peer.make_room()
    token = (await hs.register("alice"))["access_token"]
    status, reply = await hs.request("POST", f"/join/{quote(room)}", {}, token=token)
    assert status == 200, reply
    assert reply == {"room_id": room}
    # Every supported version was offered; the join was signed by us and sent.
    assert "ver=10" in peer.make_joins[0] and "ver=1&" in peer.make_joins[0]
    (join,) = peer.send_joins
    assert join["sender"] == "@alice:test.example" and OURS in join["signatures"]
    # We ask for partial state (federation_partial_state_joins, on by default); this
    # resident answers the full state, so the room is not partial-state.
    assert peer.send_join_queries == ["omit_members=true"]
    assert not hs.services.rooms.storage.partial.is_partial(room)
    assert join["content"]["membership"] == "join"

    status, joined = await hs.request("GET", "/joined_rooms", token=token)
    assert room in joined["joined_rooms"]
    status, state = await hs.request("GET", f"/rooms/{quote(room)}/state", token=token)
    assert status == 200, state
    by_key = {(e["type"], e["state_key"]): e for e in state}
    assert by_key[("m.room.join_rules", "")]["content"] == {"join_rule": "public"}
    assert by_key[("m.room.member", peer.user("charlie"))]["content"]["membership"] == "join"
    assert by_key[("m.room.member", "@alice:test.example")]["event_id"] == peer.event_id(join)
    status, sync = await hs.request("GET", "/sync", token=token)
    assert room in sync["rooms"]["join"], sync
    status, members = await hs.request("GET", f"/rooms/{quote(room)}/joined_members", token=token)
    assert set(members["joined"]) == {"@alice:test.example", peer.user("charlie")}

    status, sent = await hs.request(
        "PUT",
        f"/rooms/{quote(room)}/send/m.room.message/t1",
        {"msgtype": "m.text", "body": "hi"},
        token=token,
    )
    assert status == 200, sent

    def messages(p: FederationPeer) -> list[dict[str, Any]]:
        return [x for r in p.received for x in r.body["pdus"] if x["type"] == "m.room.message"]

    await peer.wait_for(lambda p: len(messages(p)) == 1)
    (message,) = messages(peer)
    assert message["prev_events"] == [peer.event_id(join)]
    # The join went with send_join only: the resident server hands it on.
    assert [x["type"] for r in peer.received for x in r.body["pdus"]] == ["m.room.message"]


async def test_badly_signed_state_is_dropped_not_fatal(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    room = peer.make_room()
    bad = peer.event(room, "m.room.name", {"name": "forged"}, state_key="")
    peer.rooms[room].remove(bad)
    peer.extra_state = [{**bad, "signatures": {peer.server_name: {peer.keypair.key_id: "AAAA"}}}]
    token = (await hs.register("alice"))["access_token"]
    status, reply = await hs.request("POST", f"/join/{quote(room)}", {}, token=token)
    assert status == 200, reply
    status, name = await hs.request("GET", f"/rooms/{quote(room)}/state/m.room.name/", token=token)
    assert status == 404, name


async def test_join_by_the_peers_alias(peer_and_hs: tuple[FederationPeer, Homeserver]) -> None:
    peer, hs = peer_and_hs
    room = peer.make_room()
    alias = f"#tea:{peer.server_name}"
    peer.aliases[alias] = room
    token = (await hs.register("alice"))["access_token"]
    status, reply = await hs.request("POST", f"/join/{quote(alias)}", {}, token=token)
    assert (status, reply) == (200, {"room_id": room})
    status, reply = await hs.request(
        "POST", f"/join/{quote('#none:' + peer.server_name)}", {}, token=token
    )
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")


async def test_incompatible_room_version_stops_at_once(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    peer.make_join_error = (
        400,
        {"errcode": "M_INCOMPATIBLE_ROOM_VERSION", "error": "no", "room_version": "99"},
    )
    token = (await hs.register("alice"))["access_token"]
    room = f"!x:{peer.server_name}"
    path = f"/join/{quote(room)}"
    status, reply = await hs.request(
        "POST", f"{path}?via={peer.server_name}&via=127.0.0.9:1", {}, token=token
    )
    assert (status, reply["errcode"]) == (400, "M_INCOMPATIBLE_ROOM_VERSION"), reply
    assert reply["room_version"] == "99"
    assert len(peer.make_joins) == 1
    assert not hs.services.rooms.storage.state.exists(room)


async def test_a_refused_join_changes_nothing(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    peer.make_join_error = (403, {"errcode": "M_FORBIDDEN", "error": "banned"})
    await hs.register("admin")  # the first user joins the admin room: not alice
    token = (await hs.register("alice"))["access_token"]
    room = f"!x:{peer.server_name}"
    status, reply = await hs.request("POST", f"/join/{quote(room)}", {}, token=token)
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN"), reply
    assert not hs.services.rooms.storage.state.exists(room)
    status, joined = await hs.request("GET", "/joined_rooms", token=token)
    assert joined["joined_rooms"] == []


def test_v10_is_what_the_peer_hosts() -> None:
    assert V10.identifier == "10"
