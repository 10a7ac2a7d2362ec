"""History inserted into the timeline after a forward token was handed out.

A gap right after an event whose stream count is the one before the next event's
takes the history fetched into it at sub-positions of that event's own count
(``core.timeline_pos.between``): a forward token handed out right after the event
before that history came in must still read it forwards. And the missing prev
event of a gap, held only as an outlier (the state fetched for the event after the
gap), can be asked for by ``/event`` and is placed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from conduwuit.core.auth_rules import auth_types_for_event
from conduwuit.core.event_signing import hash_and_sign_event
from conduwuit.core.room_versions import V10
from conduwuit.core.timeline_pos import TimelinePos
from tests.kit.federation_peer import (
    FederationPeer,
    homeserver_with_peer,
    join_peer_user,
    signed,
)
from tests.kit.homeserver import Homeserver
from tests.service.federation.test_unknown_events import PeerRoom, get, join


@pytest.fixture
async def peer_and_hs(tmp_path: Path) -> AsyncIterator[tuple[FederationPeer, Homeserver]]:
    async with homeserver_with_peer(tmp_path, "127.0.0.11", sender=False) as pair:
        yield pair


async def gap_after_join(
    peer: FederationPeer, hs: Homeserver
) -> tuple[PeerRoom, str, str, str, str]:
    """Alice joins the peer's room; the peer then sends an event with history our
    server gets only part of: (room, Alice's token, the forward token right after
    her join taken before that, the missing event's ID, the event after the gap's
    ID)."""
    room = PeerRoom(peer, "shared")
    token = await join(hs, room.room)
    storage = hs.services.rooms.storage
    joined = storage.state.event_id_at(
        storage.state.current_hash(room.room), "m.room.member", "@alice:test.example"
    )
    assert joined is not None
    status, context = await get(hs, room.room, "context", joined, token)
    assert status == 200, context
    after_join = context["end"]
    unseen = room.message("unseen")
    after = room.message("after the gap")
    # Pushed a newer event, our server pulls the missing ones with
    # /get_missing_events: the peer gives the gap's newer event, not the one
    # before it, whose state then comes with /state_ids.
    peer.missing_events = [after]
    pushed = room.message("pushed")
    body = {"origin": peer.server_name, "origin_server_ts": 0, "pdus": [pushed], "edus": []}
    txn = f"/_matrix/federation/v1/send/t{time.monotonic_ns()}"
    status, answer = await signed(hs, peer, "PUT", txn, body)
    assert status == 200, answer
    after_id = room.event_id(after)
    assert answer["pdus"].get(room.event_id(pushed), {}).get("error") is None, answer
    return room, token, after_join, room.event_id(unseen), after_id


async def forwards(hs: Homeserver, room: str, token: str, since: str) -> list[str]:
    path = f"/rooms/{quote(room)}/messages?dir=f&limit=10&from={quote(since)}"
    status, page = await hs.request("GET", path, token=token)
    assert status == 200, page
    return [e["event_id"] for e in page["chunk"]]


async def test_a_forward_token_reads_history_inserted_after_it_later(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    """History goes in at sub-positions of an event's own count (as backfill places
    a gap's history when the event after the gap has the next count) after a
    forward token right after that event was handed out: reading forwards from the
    token gives it, then what followed."""
    peer, hs = peer_and_hs
    token = str((await hs.register("alice"))["access_token"])
    status, created = await hs.request(
        "POST", "/createRoom", {"preset": "public_chat", "room_version": "10"}, token=token
    )
    assert status == 200, created
    room = created["room_id"]
    storage = hs.services.rooms.storage
    await join_peer_user(storage, room, peer)
    sent = []
    for body in ("one", "two"):
        path = f"/rooms/{quote(room)}/send/m.room.message/t{time.monotonic_ns()}"
        status, answer = await hs.request(
            "PUT", path, {"msgtype": "m.text", "body": body}, token=token
        )
        assert status == 200, answer
        sent.append(answer["event_id"])
    one, two = sent
    path = f"/rooms/{quote(room)}/context/{quote(one)}?limit=0"
    status, context = await hs.request("GET", path, token=token)
    assert status == 200, context
    after_one = context["end"]
    assert await forwards(hs, room, token, after_one) == [two]

    # Dave's message, sent on top of "one", arrives as history placed right after
    # it, through the pipeline's backfill path.
    position = storage.timeline.position(one)
    assert position is not None and position.sub == 0
    state = storage.state.state_ids(storage.state.hash_before(one) or 0)
    dave = f"@dave:{peer.server_name}"
    pdu: dict[str, Any] = {
        "type": "m.room.message",
        "content": {"msgtype": "m.text", "body": "between"},
        "sender": dave,
        "room_id": room,
        "origin_server_ts": int(time.time() * 1000),
        "depth": int((storage.timeline.get(one) or {})["depth"]) + 1,
        "prev_events": [one],
    }
    pdu["auth_events"] = [state[k] for k in auth_types_for_event(pdu, V10) if k in state]
    signed_pdu = hash_and_sign_event(pdu, peer.server_name, peer.keypair, V10)
    between = TimelinePos(position.count, 1 << 63)
    event = await storage.pipeline.receive(signed_pdu, V10, lambda _: None, position=between)
    assert storage.timeline.position(event.event_id) == between

    assert await forwards(hs, room, token, after_one) == [event.event_id, two]
    # Backwards from the same token: "one" and before, as before.
    path = f"/rooms/{quote(room)}/messages?dir=b&limit=1&from={quote(after_one)}"
    status, page = await hs.request("GET", path, token=token)
    assert status == 200, page
    assert [e["event_id"] for e in page["chunk"]] == [one]


async def test_the_missing_event_of_a_gap_held_as_an_outlier_is_placed_by_event(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    room, token, after_join, unseen, after = await gap_after_join(peer, hs)
    timeline = hs.services.rooms.storage.timeline
    assert timeline.exists(unseen) and timeline.pdu_id(unseen) is None  # an outlier
    status, event = await get(hs, room.room, "event", unseen, token)
    assert (status, event.get("content", {}).get("body")) == (200, "unseen"), event
    assert timeline.pdu_id(unseen) is not None
    assert (await forwards(hs, room.room, token, after_join))[:2] == [unseen, after]
