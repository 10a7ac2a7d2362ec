"""Backfill from Synapse (tests/kit/synapse_peer.py): a room with history on
Synapse, which our server joins late; our client paginates back through all of it,
in order, fetched from Synapse with ``/backfill`` and ``/state_ids``; then leaves,
re-joins, and paginates across the gap of what was said meanwhile. Events of the
room from before our join are fetched by ID for ``/event`` and ``/context`` too.

Skipped only when the ``crosscheck`` extra (matrix-synapse) is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_federation_backfill import CS, MESSAGES, room_with_history
from tests.e2e.test_federation_gaps import arrives, join, leave, say
from tests.kit.federation import FederationNet, call, federation, q, register, walk
from tests.kit.synapse_peer import synapse_available

pytestmark = pytest.mark.skipif(
    not synapse_available(), reason="matrix-synapse (the crosscheck extra) is not installed"
)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FederationNet]:
    with federation(tmp_path_factory.mktemp("fed-backfill-synapse")) as net:
        net.server(45).start(wait=False)
        net.synapse(46).start()
        net.servers[0].wait_ready(60)
        yield net


def test_history_of_a_synapse_room_is_backfilled(net: FederationNet) -> None:
    [a], [s] = net.servers, net.synapses
    _, alice_token = s.register("alice")
    bob, bob_token = register(a, "bob")
    room = room_with_history(s, alice_token)
    status, topic = call(
        s, "PUT", f"{CS}/rooms/{q(room)}/state/m.room.topic/", {"topic": "t"}, token=alice_token
    )
    assert status == 200, topic
    status, joined = call(
        a, "POST", f"{CS}/join/{q(room)}?server_name={q(s.server_name)}", {}, token=bob_token
    )
    assert status == 200, joined
    expected = [e["event_id"] for e in walk(s, alice_token, room, None)]
    seen = walk(a, bob_token, room, None)
    ids = [e["event_id"] for e in seen]
    assert len(ids) == len(set(ids))
    # Bob's join, then Synapse's history as Synapse serves it, down to the create event.
    assert seen[0]["type"] == "m.room.member" and seen[0]["state_key"] == bob
    assert ids[1:] == [e for e in expected if e != ids[0]]
    assert seen[-1]["type"] == "m.room.create"
    bodies = [e["content"]["body"] for e in seen if e["type"] == "m.room.message"]
    assert bodies == [f"old {n}" for n in reversed(range(MESSAGES))]
    # The topic set before the join is the room's current state here.
    status, state = call(a, "GET", f"{CS}/rooms/{q(room)}/state/m.room.topic/", token=bob_token)
    assert (status, state) == (200, {"topic": "t"})

    # Bob leaves, Synapse's users go on, Bob re-joins: the gap is backfilled in order.
    leave(a, bob_token, room, s, alice_token)
    away = say(s, alice_token, room, [f"away {n}" for n in range(20)])
    join(a, bob_token, room, s.server_name)
    arrives(a, bob_token, room, say(s, alice_token, room, ["back"])[-1])
    expected = [e["event_id"] for e in walk(s, alice_token, room, None)]
    ids = [e["event_id"] for e in walk(a, bob_token, room, None, limit=7)]
    assert ids == expected
    assert set(away) <= set(ids)


def test_events_from_before_the_join_are_fetched_from_synapse_by_id(net: FederationNet) -> None:
    """/event and /context for an event of Synapse's room from before our server
    joined: fetched from Synapse (``/event``, ``/state_ids``), checked, placed into
    the gap before the join and answered."""
    [a], [s] = net.servers, net.synapses
    _, carol_token = s.register("carol")
    _, dan_token = register(a, "dan")
    room = room_with_history(s, carol_token)
    messages = [e for e in walk(s, carol_token, room, None) if e["type"] == "m.room.message"]
    old, older = messages[2], messages[3]
    status, joined = call(
        a, "POST", f"{CS}/join/{q(room)}?server_name={q(s.server_name)}", {}, token=dan_token
    )
    assert status == 200, joined
    path = f"{CS}/rooms/{q(room)}/event/{q(old['event_id'])}"
    status, event = call(a, "GET", path, token=dan_token)
    assert status == 200, event
    assert (event["event_id"], event["content"]) == (old["event_id"], old["content"])
    path = f"{CS}/rooms/{q(room)}/context/{q(older['event_id'])}?limit=2"
    status, context = call(a, "GET", path, token=dan_token)
    assert status == 200, context
    assert context["event"]["content"] == older["content"]
    assert [e["event_id"] for e in context["events_after"]] == [old["event_id"]]
