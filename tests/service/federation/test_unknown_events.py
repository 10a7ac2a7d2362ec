"""``/event`` and ``/context`` for events this server never received, against a peer
that can lie (tests/kit/federation_peer.py): after joining the peer's room, our
client names an event from before the join; it is fetched from the peer
(``GET /event``), checked, judged visible on the state before it (``/state_ids``)
and placed into the gap before our join, or refused with nothing stored."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from conduwuit.service.federation import unknown_events
from tests.kit.federation_peer import FederationPeer, homeserver_with_peer
from tests.kit.homeserver import Homeserver


@pytest.fixture
async def peer_and_hs(tmp_path: Path) -> AsyncIterator[tuple[FederationPeer, Homeserver]]:
    async with homeserver_with_peer(tmp_path, "127.0.0.10", sender=False) as pair:
        yield pair


class PeerRoom:
    """A room of the peer with messages sent before our server's user joins it."""

    def __init__(self, peer: FederationPeer, history_visibility: str | None = None) -> None:
        self.peer = peer
        self.room = peer.make_room()
        state = peer.state_ids(self.room)
        charlie = peer.user("charlie")
        self.auth = [state[("m.room.create", "")], state[("m.room.power_levels", "")]]
        self.auth.append(state[("m.room.member", charlie)])
        if history_visibility is not None:
            peer.event(
                self.room,
                "m.room.history_visibility",
                {"history_visibility": history_visibility},
                state_key="",
                auth_events=self.auth,
            )

    def message(self, body: str, **extra: Any) -> dict[str, Any]:
        content = {"msgtype": "m.text", "body": body}
        return self.peer.event(self.room, "m.room.message", content, auth_events=self.auth, **extra)

    def event_id(self, pdu: dict[str, Any]) -> str:
        return self.peer.event_id(pdu)


async def join(hs: Homeserver, room: str, name: str = "alice") -> str:
    token = str((await hs.register(name))["access_token"])
    status, reply = await hs.request("POST", f"/join/{quote(room)}", {}, token=token)
    assert status == 200, reply
    return token


async def get(hs: Homeserver, room: str, what: str, event_id: str, token: str) -> tuple[int, Any]:
    return await hs.request(
        "GET", f"/rooms/{quote(room)}/{what}/{quote(event_id)}?limit=4", token=token
    )


async def test_an_event_from_before_the_join_is_fetched_into_the_gap(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    room = PeerRoom(peer, "shared")
    first, second = room.message("first"), room.message("second")
    token = await join(hs, room.room)
    timeline = hs.services.rooms.storage.timeline
    current = hs.services.rooms.storage.state.current_hash(room.room)
    assert not timeline.exists(room.event_id(first))

    status, event = await get(hs, room.room, "event", room.event_id(first), token)
    assert status == 200, event
    assert (event["event_id"], event["content"]["body"]) == (room.event_id(first), "first")
    assert peer.event_requests == [room.event_id(first)]
    # In our timeline now, below the join: /context reads around it, and it changed
    # nothing current.
    assert timeline.pdu_id(room.event_id(first)) is not None
    assert hs.services.rooms.storage.state.current_hash(room.room) == current

    status, context = await get(hs, room.room, "context", room.event_id(second), token)
    assert status == 200, context
    assert context["event"]["content"]["body"] == "second"
    # What we hold around it: the one fetched before it, our join after it.
    assert [e["event_id"] for e in context["events_before"]] == [room.event_id(first)]
    assert [e["type"] for e in context["events_after"]] == ["m.room.member"]
    # Backwards from its start, /messages backfills the rest of the room's history.
    path = f"/rooms/{quote(room.room)}/messages?dir=b&limit=20&from={quote(context['start'])}"
    status, page = await hs.request("GET", path, token=token)
    assert status == 200, page
    assert page["chunk"][-1]["type"] == "m.room.create", page

    # Held now: asked again, the peer is not.
    status, _ = await get(hs, room.room, "event", room.event_id(second), token)
    assert status == 200
    assert peer.event_requests == [room.event_id(first), room.event_id(second)]


async def test_an_event_the_user_may_not_see_is_refused_and_not_stored(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    room = PeerRoom(peer, "joined")
    secret = room.message("before you came")
    token = await join(hs, room.room)
    timeline = hs.services.rooms.storage.timeline
    for what in ("event", "context"):
        status, reply = await get(hs, room.room, what, room.event_id(secret), token)
        assert (status, reply["errcode"]) == (404, "M_NOT_FOUND"), reply
    assert not timeline.exists(room.event_id(secret))
    # Asked once: the second request found it backing off.
    assert peer.event_requests == [room.event_id(secret)]
    assert peer.state_ids_requests == [room.event_id(secret)]


async def test_a_lying_server_gets_nothing_stored(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    room = PeerRoom(peer)
    other = PeerRoom(peer)  # a second room of the peer's
    elsewhere = other.message("of another room")
    tampered = room.message("secret")
    tampered["content"] = {"msgtype": "m.text", "body": "changed"}
    forged = room.message("forged")
    forged["signatures"] = {peer.server_name: {peer.keypair.key_id: "A" * 86}}
    token = await join(hs, room.room)
    timeline = hs.services.rooms.storage.timeline

    for pdu in (elsewhere, forged):
        status, reply = await get(hs, room.room, "event", room.event_id(pdu), token)
        assert (status, reply["errcode"]) == (404, "M_NOT_FOUND"), reply
        assert not timeline.exists(room.event_id(pdu))
    # A content hash mismatch: the spec's answer is the redacted copy, never the
    # changed content.
    status, event = await get(hs, room.room, "event", room.event_id(tampered), token)
    assert status == 200, event
    assert event["content"] == {}, event
    # An event above everything we hold fits no gap (new events come by /send or
    # /get_missing_events): refused, not kept as an outlier we could not judge.
    newer = room.message("after the join")
    status, reply = await get(hs, room.room, "event", room.event_id(newer), token)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND"), reply
    assert not timeline.exists(room.event_id(newer))
    assert room.event_id(newer) in peer.event_requests
    # A well-formed ID nobody has, and one that is no event ID: 404; the second is
    # never asked for.
    for unknown in ("$" + "A" * 43, "not-an-event"):
        status, reply = await get(hs, room.room, "event", unknown, token)
        assert (status, reply["errcode"]) == (404, "M_NOT_FOUND"), reply
    assert "not-an-event" not in peer.event_requests


async def test_only_users_who_may_read_the_room_have_events_fetched(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    shared = PeerRoom(peer, "shared")
    old = shared.message("old")
    await join(hs, shared.room)
    outsider = str((await hs.register("eve"))["access_token"])
    status, reply = await get(hs, shared.room, "event", shared.event_id(old), outsider)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND"), reply
    # A room this server never joined: nothing to ask about either.
    status, reply = await get(hs, "!nowhere:" + peer.server_name, "event", "$x", outsider)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND"), reply
    assert peer.event_requests == []
    # A world-readable room is anyone's to read: fetched for a non-member too.
    public = PeerRoom(peer, "world_readable")
    older = public.message("for everyone")
    await join(hs, public.room, "bob")
    status, event = await get(hs, public.room, "event", public.event_id(older), outsider)
    assert (status, event["content"].get("body")) == (200, "for everyone"), event


async def test_a_slow_server_is_given_up_in_bounded_time(
    peer_and_hs: tuple[FederationPeer, Homeserver], monkeypatch: pytest.MonkeyPatch
) -> None:
    peer, hs = peer_and_hs
    monkeypatch.setattr(unknown_events, "REQUEST_TIMEOUT", 0.5)
    room = PeerRoom(peer)
    old = room.message("old")
    token = await join(hs, room.room)
    peer.event_delay = 3.0  # past the timeout
    started = time.monotonic()
    status, reply = await get(hs, room.room, "event", room.event_id(old), token)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND"), reply
    assert time.monotonic() - started < 5
    assert not hs.services.rooms.storage.timeline.exists(room.event_id(old))
    # Backing off: asked again at once, the peer is not.
    peer.event_delay = 0.0
    status, _ = await get(hs, room.room, "event", room.event_id(old), token)
    assert status == 404
    assert peer.event_requests == [room.event_id(old)]


async def test_an_event_from_while_the_server_was_away_goes_into_that_gap(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    """Alice leaves (our server with her), the room goes on, she joins again: an
    event from meanwhile lands in the gap before her re-join, above her leave."""
    peer, hs = peer_and_hs
    room = PeerRoom(peer, "shared")
    token = await join(hs, room.room)
    status, reply = await hs.request("POST", f"/rooms/{quote(room.room)}/leave", {}, token=token)
    assert status == 200, reply
    # The peer's copy of the room takes Alice's leave (by /send in real life; this
    # peer sends nothing itself); then history goes on without our server.
    storage = hs.services.rooms.storage
    leave = storage.state.event_id_at(
        storage.state.current_hash(room.room), "m.room.member", "@alice:test.example"
    )
    left = storage.timeline.get(leave or "")
    assert left is not None and left["content"]["membership"] == "leave"
    peer.rooms[room.room].append({k: v for k, v in left.items() if k != "event_id"})
    meanwhile = room.message("while you were away")
    room.message("later")
    status, reply = await hs.request("POST", f"/join/{quote(room.room)}", {}, token=token)
    assert status == 200, reply

    status, context = await get(hs, room.room, "context", room.event_id(meanwhile), token)
    assert status == 200, context
    assert context["event"]["content"]["body"] == "while you were away"
    before = [(e["type"], e["content"].get("membership")) for e in context["events_before"]]
    assert before[0] == ("m.room.member", "leave"), before
    assert [e["content"].get("membership") for e in context["events_after"]] == ["join"]
    # The rest of the gap (above it) comes by pagination, in order.
    path = f"/rooms/{quote(room.room)}/messages?dir=b&limit=4&from={quote(context['end'])}"
    status, page = await hs.request("GET", path, token=token)
    assert status == 200, page
    shown = [e["content"].get("body") or e["content"].get("membership") for e in page["chunk"]]
    assert shown == ["join", "later", "while you were away", "leave"], shown


async def test_requests_at_once_for_one_event_ask_the_server_once(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    room = PeerRoom(peer)
    old = room.message("old")
    token = await join(hs, room.room)
    peer.event_delay = 0.5
    replies = await asyncio.gather(
        *(get(hs, room.room, what, room.event_id(old), token) for what in ("event", "context"))
    )
    assert [status for status, _ in replies] == [200, 200], replies
    assert peer.event_requests == [room.event_id(old)]


async def test_state_from_another_room_does_not_open_history(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    """The server names, among the state before a hidden event, the world-readable
    visibility of another room we hold: it does not count; nothing is stored."""
    peer, hs = peer_and_hs
    hidden = PeerRoom(peer, "joined")
    secret = hidden.message("before you came")
    public = PeerRoom(peer, "world_readable")
    token = await join(hs, hidden.room)
    await join(hs, public.room, "bob")
    peer.state_ids_extra = [public.peer.state_ids(public.room)[("m.room.history_visibility", "")]]
    status, reply = await get(hs, hidden.room, "event", hidden.event_id(secret), token)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND"), reply
    assert not hs.services.rooms.storage.timeline.exists(hidden.event_id(secret))
