"""Backfill across two of our server processes (tests/kit/federation.py): a room with
history on A; B joins late and its client paginates /messages backwards past B's
oldest event, so B fetches the older history from A (``/backfill``, ``/state_ids``
for the state before the oldest fetched event) and serves all of it, in order, with
tokens that continue the walk; the backfilled events reach no /sync as new, and a
second walk is served by B alone (A is down by then).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.kit.federation import FederationNet, HasBaseUrl, call, q, register, running, walk

CS = "/_matrix/client/v3"
MESSAGES = 130


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FederationNet]:
    with running(tmp_path_factory.mktemp("fed-backfill"), 41, 42) as net:
        yield net


def room_with_history(server: HasBaseUrl, token: str) -> str:
    """A public room (shared history) with ``MESSAGES`` messages."""
    status, created = call(
        server, "POST", f"{CS}/createRoom", {"preset": "public_chat", "name": "Old"}, token=token
    )
    assert status == 200, created
    room = str(created["room_id"])
    for n in range(MESSAGES):
        status, _ = call(
            server,
            "PUT",
            f"{CS}/rooms/{q(room)}/send/m.room.message/t{n}",
            {"msgtype": "m.text", "body": f"old {n}"},
            token=token,
        )
        assert status == 200
    return room


def test_one_large_page_waits_for_several_backfills(net: FederationNet) -> None:
    a, b = net.servers
    _, alice_token = register(a, "alice0")
    _, bob_token = register(b, "bob0")
    room = room_with_history(a, alice_token)
    status, joined = call(
        b, "POST", f"{CS}/join/{q(room)}?server_name={q(a.server_name)}", {}, token=bob_token
    )
    assert status == 200, joined
    # More than one backfill (100 events each) fetches: the page is full all the same.
    status, page = call(b, "GET", f"{CS}/rooms/{q(room)}/messages?dir=b&limit=120", token=bob_token)
    assert status == 200, page
    assert len(page["chunk"]) == 120 and "end" in page
    bodies = [e["content"].get("body") for e in page["chunk"]]
    assert bodies[1:] == [f"old {n}" for n in reversed(range(MESSAGES - 119, MESSAGES))]
    rest = walk(b, bob_token, room, page["end"], limit=200)
    assert rest[-1]["type"] == "m.room.create"
    assert len(page["chunk"]) + len(rest) == len(walk(a, alice_token, room, None))


def test_paginating_past_the_join_backfills_history_from_the_other_server(
    net: FederationNet,
) -> None:
    a, b = net.servers
    _, alice_token = register(a, "alice")
    bob, bob_token = register(b, "bob")
    room = room_with_history(a, alice_token)
    status, joined = call(
        b, "POST", f"{CS}/join/{q(room)}?server_name={q(a.server_name)}", {}, token=bob_token
    )
    assert status == 200, joined
    # The join is a partial-state one (federation_partial_state_joins, the default):
    # an eager /sync shows the room once its state is complete, which
    # /joined_members waits for.
    status, _ = call(b, "GET", f"{CS}/rooms/{q(room)}/joined_members", token=bob_token)
    assert status == 200
    status, first_sync = call(b, "GET", f"{CS}/sync?timeout=0", token=bob_token)
    assert status == 200, first_sync
    timeline = first_sync["rooms"]["join"][room]["timeline"]
    # B knows only its join: the room's history is A's.
    assert [e["type"] for e in timeline["events"]] == ["m.room.member"]

    expected = walk(a, alice_token, room, None)
    assert expected[-1]["type"] == "m.room.create"
    assert len([e for e in expected if e["type"] == "m.room.message"]) == MESSAGES

    seen = walk(b, bob_token, room, timeline["prev_batch"])
    ids = [e["event_id"] for e in seen]
    assert len(ids) == len(set(ids)), "an event was served twice"
    # All of A's history before the join, newest first, down to the create event.
    join_id = timeline["events"][0]["event_id"]

    def show(evs: list[dict[str, Any]]) -> list[str]:
        return [f"{e['type']} {e['content'].get('body', e.get('state_key'))}" for e in evs]

    assert ids == [e["event_id"] for e in expected if e["event_id"] != join_id], (
        show(seen),
        show(expected),
    )
    assert [e["content"].get("body") for e in seen if e["type"] == "m.room.message"] == [
        f"old {n}" for n in reversed(range(MESSAGES))
    ]
    # From the newest event down, B serves its join then the same history.
    everything = walk(b, bob_token, room, None)
    assert [e["event_id"] for e in everything] == [join_id, *ids]

    # History is not news: B's /sync does not hand the backfilled events out, and the
    # room's current state (members, name) is what it was.
    status, later = call(
        b, "GET", f"{CS}/sync?timeout=0&since={first_sync['next_batch']}", token=bob_token
    )
    assert status == 200, later
    news = later["rooms"].get("join", {}).get(room, {}).get("timeline", {}).get("events", [])
    assert not {e["event_id"] for e in news} & set(ids)
    status, members = call(b, "GET", f"{CS}/rooms/{q(room)}/joined_members", token=bob_token)
    assert status == 200, members
    assert bob in members["joined"] and len(members["joined"]) == 2

    # A second walk is B's own: A is down.
    a.stop()
    assert [e["event_id"] for e in walk(b, bob_token, room, None)] == [join_id, *ids]
