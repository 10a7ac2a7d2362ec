"""Backfill from Synapse (tests/kit/synapse_peer.py): a room with history on
Synapse, which our server joins late; our client paginates back through all of it,
in order, fetched from Synapse with ``/backfill`` and ``/state_ids``; then leaves,
re-joins, and paginates across the gap of what was said meanwhile.

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
