"""Replay a room DAG: each event's state-before is the resolution of its
prev_events' states-after, and its auth_events are picked from that state.

Mirrors the harness of Synapse's tests/state/test_v2.py so its classic scenarios
can be written the same way (ids, senders, edges as chains ending in START).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from conduwuit.core import state_res
from conduwuit.core.auth_rules import auth_types_for_event
from conduwuit.core.events import Event
from conduwuit.core.power_levels import StateKey
from conduwuit.core.room_versions import RoomVersion

ALICE, BOB, CHARLIE, EVELYN, ZARA = "@alice:a", "@bob:b", "@charlie:c", "@evelyn:e", "@zara:z"


@dataclass
class Spec:
    id: str
    sender: str
    type: str
    state_key: str | None
    content: dict[str, Any] = field(default_factory=dict)


def initial(rv: RoomVersion) -> list[Spec]:
    create: dict[str, Any] = {"room_version": rv.identifier}
    if not rv.implicit_room_creator:
        create["creator"] = ALICE
    users = {} if rv.privileged_creators else {ALICE: 100}
    return [
        Spec("CREATE", ALICE, "m.room.create", "", create),
        Spec("IMA", ALICE, "m.room.member", ALICE, {"membership": "join"}),
        Spec("IPOWER", ALICE, "m.room.power_levels", "", {"users": users}),
        Spec("IJR", ALICE, "m.room.join_rules", "", {"join_rule": "public"}),
        Spec("IMB", BOB, "m.room.member", BOB, {"membership": "join"}),
        Spec("IMC", CHARLIE, "m.room.member", CHARLIE, {"membership": "join"}),
        Spec("IMZ", ZARA, "m.room.member", ZARA, {"membership": "join"}),
        Spec("START", ZARA, "m.room.message", None),
        Spec("END", ZARA, "m.room.message", None),
    ]


class Dag:
    def __init__(self, rv: RoomVersion, specs: list[Spec], edges: list[list[str]]) -> None:
        self.rv = rv
        self.events: dict[str, Event] = {}
        self.state_after: dict[str, dict[StateKey, str]] = {}
        self.state_before: dict[str, dict[StateKey, str]] = {}
        self.room_id = "!CREATE" if rv.room_id_from_create_event else "!room:a"
        init = initial(rv)
        all_specs = init[:-2] + specs + init[-2:]
        prevs: dict[str, set[str]] = {}
        chain = [s.id for s in init[:-1]]
        for child, parent in zip(chain[1:], chain[:-1], strict=True):
            prevs.setdefault(child, set()).add(parent)
        for path in edges:
            for child, parent in itertools.pairwise(path):
                prevs.setdefault(child, set()).add(parent)
        by_id = {s.id: s for s in all_specs}
        ts = {s.id: i for i, s in enumerate(all_specs)}
        order = self._topo(prevs, [s.id for s in all_specs])
        for node in order:
            self._add(by_id[node], sorted(prevs.get(node, ())), ts[node])

    @staticmethod
    def _topo(prevs: dict[str, set[str]], nodes: list[str]) -> list[str]:
        done: list[str] = []
        seen: set[str] = set()

        def visit(n: str) -> None:
            if n in seen:
                return
            seen.add(n)
            for p in sorted(prevs.get(n, ())):
                visit(p)
            done.append(n)

        for n in nodes:
            visit(n)
        return done

    def fetch(self, event_id: str) -> Event | None:
        return self.events.get(event_id)

    def eid(self, name: str) -> str:
        return f"${name}" if self.rv.room_id_from_create_event else f"${name}:example.com"

    def _add(self, spec: Spec, prevs: list[str], ts: int) -> None:
        prev_ids = [self.eid(p) for p in prevs]
        if prev_ids:
            before = state_res.resolve(self.rv, [self.state_after[p] for p in prev_ids], self.fetch)
        else:
            before = {}
        pdu: dict[str, Any] = {
            "type": spec.type,
            "sender": spec.sender,
            "content": spec.content,
            "origin_server_ts": ts,
            "depth": ts,
            "signatures": {},
        }
        if not (self.rv.room_id_from_create_event and spec.type == "m.room.create"):
            pdu["room_id"] = self.room_id
        if spec.state_key is not None:
            pdu["state_key"] = spec.state_key
        auth = [before[k] for k in auth_types_for_event(pdu, self.rv) if k in before]
        pdu["prev_events"] = prev_ids
        pdu["auth_events"] = auth
        if self.rv.identifier in ("1", "2"):
            pdu["prev_events"] = [[p, {}] for p in prev_ids]
            pdu["auth_events"] = [[a, {}] for a in auth]
        event_id = self.eid(spec.id)
        event = Event(pdu, self.rv, event_id=event_id)
        self.events[event_id] = event
        self.state_before[event_id] = before
        after = dict(before)
        # Like Synapse's harness: no auth check here, resolution sorts it out.
        if event.state_key is not None:
            after[(event.type, event.state_key)] = event_id
        self.state_after[event_id] = after

    def final_state(self) -> dict[StateKey, str]:
        return self.state_before[self.eid("END")]

    def expected(self, ids: list[str]) -> dict[StateKey, str]:
        """The initial state with the given events' keys overridden."""
        state = {
            (e.type, e.state_key): e.event_id
            for s in initial(self.rv)
            if (e := self.events[self.eid(s.id)]).state_key is not None
        }
        for name in ids:
            event = self.events[self.eid(name)]
            state[(event.type, event.state_key or "")] = event.event_id
        return state
