"""The partial-state resync's bounds (service/federation/partial_resync.py), against
the peer of tests/kit/federation_peer.py as the resident: when every server keeps
refusing the room's state the resync gives up (the mark stays, resumed later), and
once none of our users is in the room it ends at once, clearing the mark."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest

from conduwuit.service.federation.partial_resync import PartialStateResync
from tests.kit.federation_peer import FederationPeer, homeserver_with_peer
from tests.kit.homeserver import Homeserver

OURS = "test.example"
REFUSED = (403, {"errcode": "M_FORBIDDEN", "error": "Host not in room."})


@pytest.fixture
async def peer_and_hs(tmp_path: Path) -> AsyncIterator[tuple[FederationPeer, Homeserver]]:
    async with homeserver_with_peer(
        tmp_path, "127.0.0.53", sender=True, federation_partial_state_joins=True
    ) as (peer, hs):
        peer.partial_joins = True
        peer.state_ids_error = REFUSED
        resync = hs.services.federation.partial_resync
        resync.first_retry_s = 0.01
        resync.max_failed_rounds = 3
        yield peer, hs


async def join(peer: FederationPeer, hs: Homeserver) -> tuple[str, str]:
    """Alice joins the peer's new room with partial state: (room ID, her token)."""
    room = peer.make_room()
    token = (await hs.register("alice"))["access_token"]
    status, reply = await hs.request("POST", f"/join/{quote(room)}", {}, token=token)
    assert status == 200, reply
    assert peer.send_join_queries == ["omit_members=true"]
    assert hs.services.rooms.storage.partial.is_partial(room)
    return room, token


async def until_ended(resync: PartialStateResync, room: str) -> None:
    deadline = time.monotonic() + 20
    await asyncio.sleep(0)
    while resync.running(room):
        assert time.monotonic() < deadline, "the resync did not end"
        await asyncio.sleep(0.02)


async def test_a_resync_every_server_refuses_gives_up_and_resumes_later(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    resync = hs.services.federation.partial_resync
    room, token = await join(peer, hs)
    await until_ended(resync, room)
    # Three rounds of the one server, then it gave up; the room stays partial (our
    # user is still in it), as Synapse leaves it.
    assert len(peer.state_ids_requests) == 3
    assert hs.services.rooms.storage.partial.is_partial(room)
    status, joined = await hs.request("GET", "/joined_rooms", token=token)
    assert room in joined["joined_rooms"]

    # Resumed (as at the next start-up), with the server answering now: complete.
    peer.state_ids_error = None
    resync.start()
    await until_ended(resync, room)
    assert not hs.services.rooms.storage.partial.is_partial(room)
    status, members = await hs.request("GET", f"/rooms/{quote(room)}/joined_members", token=token)
    assert status == 200 and set(members["joined"]) == {f"@alice:{OURS}", peer.user("charlie")}


async def test_a_resync_ends_at_once_when_none_of_our_users_is_left(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    resync = hs.services.federation.partial_resync
    resync.first_retry_s = 0.5  # room for the kick before the second round
    resync.max_failed_rounds = 1000
    room, token = await join(peer, hs)
    # Charlie kicks alice (sent over federation): none of our users is in the room.
    state = peer.state_ids(room)
    kick = peer.event(
        room,
        "m.room.member",
        {"membership": "leave"},
        state_key=f"@alice:{OURS}",
        auth_events=[
            state[("m.room.create", "")],
            state[("m.room.power_levels", "")],
            state[("m.room.member", peer.user("charlie"))],
            peer.event_id(peer.send_joins[0]),
        ],
    )
    base = str(hs.client.make_url("")).rstrip("/")
    status, answer = await peer.send_transaction(OURS, base, "k1", [kick])
    assert status == 200 and answer["pdus"][peer.event_id(kick)] == {}, answer
    await until_ended(resync, room)
    # The next refused round ended the resync and cleared the mark.
    assert len(peer.state_ids_requests) < 5
    assert not hs.services.rooms.storage.partial.is_partial(room)
    status, joined = await hs.request("GET", "/joined_rooms", token=token)
    assert room not in joined["joined_rooms"]
