"""The building blocks of state resolution v2, on small hand-made auth graphs."""

from typing import Any

from conduwuit.core import room_versions as rv
from conduwuit.core.events import Event
from conduwuit.core.state_res.common import auth_closure, separate
from conduwuit.core.state_res.v2 import (
    auth_difference,
    conflicted_subgraph,
    is_power_event,
    mainline_sort,
    reverse_topological_power_sort,
)

from .roomkit import CREATOR, Room


def graph(edges: dict[str, list[str]], **extra: dict[str, Any]) -> dict[str, Event]:
    events = {}
    for event_id, parents in edges.items():
        pdu: dict[str, Any] = {
            "type": "m.room.member",
            "state_key": "@x:a",
            "sender": "@x:a",
            "room_id": "!r:a",
            "content": {"membership": "join"},
            "auth_events": parents,
            "prev_events": [],
            "origin_server_ts": 0,
            "depth": 0,
        }
        pdu.update(extra.get(event_id, {}))
        events[event_id] = Event(pdu, rv.V12, event_id=event_id)
    return events


def test_separate_treats_missing_keys_as_conflicted() -> None:
    a = {("t", ""): "$1", ("m", "x"): "$2", ("only", ""): "$3"}
    b = {("t", ""): "$1", ("m", "x"): "$4"}
    unconflicted, conflicted = separate([a, b])
    assert unconflicted == {("t", ""): "$1"}
    assert conflicted == {("m", "x"): {"$2", "$4"}, ("only", ""): {"$3"}}


def test_auth_closure_includes_start_and_stops() -> None:
    events = graph({"A": [], "B": ["A"], "C": ["B"]})
    assert auth_closure(["C"], events.get) == {"A", "B", "C"}
    assert auth_closure(["C"], events.get, stop={"B"}) == {"C"}


def test_conflicted_subgraph_is_paths_between_conflicted_events() -> None:
    #   E <- A <- B <- C      D <- ... cites A only
    events = graph({"E": [], "A": ["E"], "B": ["A"], "C": ["B"], "D": ["A"]})
    assert conflicted_subgraph({"A", "C"}, events.get) == {"A", "B", "C"}
    assert conflicted_subgraph({"C", "D"}, events.get) == {"C", "D"}


def test_auth_difference() -> None:
    events = graph({"X": [], "P1": ["X"], "P2": ["X"], "M1": ["P1"], "M2": ["P2"], "U": ["X"]})
    s1 = {("u", ""): "U", ("m", ""): "M1"}
    s2 = {("u", ""): "U", ("m", ""): "M2"}
    unconflicted, conflicted = separate([s1, s2])
    assert auth_difference([s1, s2], unconflicted, conflicted, events.get) == {
        "M1",
        "M2",
        "P1",
        "P2",
    }


def test_power_events() -> None:
    room = Room(rv.V11)
    assert is_power_event(room.state[("m.room.power_levels", "")])
    assert is_power_event(room.create)
    assert not is_power_event(room.state[("m.room.member", CREATOR)])
    kick = room.make("m.room.member", "@v:a", CREATOR, {"membership": "leave"})
    assert is_power_event(kick)
    leave = room.make("m.room.member", "@v:a", "@v:a", {"membership": "leave"})
    assert not is_power_event(leave)


def test_reverse_topological_power_sort_parents_first_then_power() -> None:
    room = Room(rv.V11, users={"@mod:b": 50})
    create = room.create.event_id
    pl = room.state[("m.room.power_levels", "")].event_id
    low = room.make("m.room.join_rules", "", "@nobody:c", {"join_rule": "invite"})
    high = room.make("m.room.join_rules", "", CREATOR, {"join_rule": "public"})
    mod = room.make("m.room.join_rules", "", "@mod:b", {"join_rule": "knock"})
    for event in (low, high, mod):
        room.events[event.event_id] = event
    order = reverse_topological_power_sort(
        {create, pl, low.event_id, high.event_id, mod.event_id},
        room.events.get,
        rv.V11,
    )
    assert order[:2] == [create, pl]
    assert order[2:] == [high.event_id, mod.event_id, low.event_id]


def test_mainline_sort_orders_by_mainline_then_ts_then_id() -> None:
    room = Room(rv.V11)
    old_pl = room.state[("m.room.power_levels", "")].event_id
    early = room.send("m.room.topic", "", CREATOR, {"topic": "early"})
    new_pl = room.send("m.room.power_levels", "", CREATOR, {"users": {CREATOR: 100}}).event_id
    late_a = room.make("m.room.topic", "", CREATOR, {}, event_id="$b", origin_server_ts=5)
    late_b = room.make("m.room.topic", "", CREATOR, {}, event_id="$a", origin_server_ts=5)
    for event in (late_a, late_b):
        room.events[event.event_id] = event
    order = mainline_sort(
        [late_a.event_id, early.event_id, late_b.event_id], new_pl, room.events.get
    )
    assert order == [early.event_id, "$a", "$b"]
    assert old_pl != new_pl
