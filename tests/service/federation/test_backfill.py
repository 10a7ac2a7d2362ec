"""Backfill against a peer that lies (tests/kit/federation_peer.py): after joining the
peer's room, our client's /messages fetches the history before the join with
/backfill; an event with a bad signature is dropped, one the auth rules refuse (its
sender was never in the room) is kept as rejected and never served, one whose
content does not match its hash is served redacted; the honest ones come in order,
down to the create event, and nothing of it changes the room's current state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from conduwuit.service.federation.backfill import reachable
from tests.kit.federation_peer import FederationPeer, homeserver_with_peer
from tests.kit.homeserver import Homeserver


@pytest.fixture
async def peer_and_hs(tmp_path: Path) -> AsyncIterator[tuple[FederationPeer, Homeserver]]:
    async with homeserver_with_peer(tmp_path, "127.0.0.9", sender=False) as pair:
        yield pair


async def test_backfill_drops_forged_events_and_refuses_unauthorised_ones(
    peer_and_hs: tuple[FederationPeer, Homeserver],
) -> None:
    peer, hs = peer_and_hs
    room = peer.make_room()
    state = peer.state_ids(room)
    charlie = peer.user("charlie")
    auth = [state[("m.room.create", "")], state[("m.room.power_levels", "")]]
    auth.append(state[("m.room.member", charlie)])

    def message(body: str, **extra: Any) -> dict[str, Any]:
        return peer.event(
            room, "m.room.message", {"msgtype": "m.text", "body": body}, auth_events=auth, **extra
        )

    first = message("first")
    after_first = [peer.event_id(first)]
    forged = message("forged", prev_events=after_first)
    forged["signatures"] = {peer.server_name: {peer.keypair.key_id: "A" * 86}}
    stranger = message("stranger", prev_events=after_first, sender=peer.user("mallory"))
    tampered = message("secret", prev_events=after_first)
    tampered["content"] = {"msgtype": "m.text", "body": "changed"}
    last = message("last", prev_events=[peer.event_id(e) for e in (first, stranger, tampered)])

    token = (await hs.register("alice"))["access_token"]
    status, reply = await hs.request("POST", f"/join/{quote(room)}", {}, token=token)
    assert status == 200, reply
    storage = hs.services.rooms.storage
    current = storage.state.current_hash(room)

    seen: list[dict[str, Any]] = []
    path = f"/rooms/{quote(room)}/messages?dir=b&limit=3"
    for _ in range(10):
        status, page = await hs.request("GET", path, token=token)
        assert status == 200, page
        seen.extend(page["chunk"])
        if "end" not in page:
            break
        path = f"/rooms/{quote(room)}/messages?dir=b&limit=3&from={page['end']}"
    shown = [(e["type"], e["content"].get("body")) for e in seen]
    assert shown == [
        ("m.room.member", None),
        ("m.room.message", "last"),
        ("m.room.message", None),  # the tampered one, redacted
        ("m.room.message", "first"),
        ("m.room.join_rules", None),
        ("m.room.power_levels", None),
        ("m.room.member", None),
        ("m.room.create", None),
    ]
    assert seen[1]["event_id"] == peer.event_id(last)
    assert seen[2]["event_id"] == peer.event_id(tampered) and seen[2]["content"] == {}
    timeline = storage.timeline
    assert not timeline.exists(peer.event_id(forged))
    assert timeline.is_rejected(peer.event_id(stranger))
    assert peer.backfills  # it was asked
    status, _ = await hs.request(
        "GET", f"/rooms/{quote(room)}/event/{quote(peer.event_id(stranger))}", token=token
    )
    assert status == 404
    # History changed nothing current.
    assert storage.state.current_hash(room) == current
    # Paginating again asks nothing more of the peer: the create event was reached.
    asked = len(peer.backfills)
    status, page = await hs.request("GET", f"/rooms/{quote(room)}/messages?dir=b", token=token)
    assert status == 200 and len(peer.backfills) == asked


def test_a_gap_takes_only_the_history_reached_from_its_missing_events() -> None:
    """Of a /backfill answer for a gap, the events reached from the gap's missing prev
    events through prev events not held here: not what lies past a held event (the
    server goes on into history held already, or older history of elsewhere)."""

    def ev(event_id: str, *prevs: str) -> tuple[str, dict[str, Any]]:
        return event_id, {"prev_events": list(prevs)}

    held = {"$leave"}
    answer = [
        ev("$old1"),
        ev("$old2", "$old1"),
        ev("$leave", "$old2"),
        ev("$g1", "$leave"),
        ev("$g2", "$g1"),
        ev("$branch", "$old2"),  # a branch of the gap down to older history
        ev("$g3", "$g2", "$branch"),
        ev("$unrelated"),
    ]
    kept = reachable(answer, ["$g3"], held.__contains__)
    assert [i for i, _ in kept] == ["$old1", "$old2", "$g1", "$g2", "$branch", "$g3"]
    held |= {"$old2"}
    kept = reachable(answer, ["$g3"], held.__contains__)
    assert [i for i, _ in kept] == ["$g1", "$g2", "$branch", "$g3"]
    assert reachable(answer, ["$nothing"], held.__contains__) == []
