"""State resolution v2 (rooms/v2 "State resolution"; fragments/v2-state-res.md) and
its v12 revision ("v2.1": an empty start for the first iterative auth checks and
the conflicted state subgraph in the full conflicted set).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

from conduwuit.core.event_types import EventType
from conduwuit.core.events import Event
from conduwuit.core.membership import MembershipState
from conduwuit.core.power_levels import POWER_LEVELS_KEY, PowerLevels, StateKey
from conduwuit.core.room_versions import RoomVersion, StateResAlgorithm
from conduwuit.core.state_res.common import (
    FetchEvent,
    StateMap,
    auth_closure,
    auth_events_map,
    iterative_auth_checks,
    separate,
)


def is_power_event(event: Event) -> bool:
    """Power levels, join rules, and kicks/bans (member leave/ban by someone else).

    Like Synapse we also count ``m.room.create`` (it is the root of every auth chain).
    """
    if event.state_key is None:
        return False
    if event.type in (EventType.POWER_LEVELS, EventType.JOIN_RULES, EventType.CREATE):
        return event.state_key == ""
    if event.type == EventType.MEMBER:
        return (
            event.membership in (MembershipState.LEAVE, MembershipState.BAN)
            and event.sender != event.state_key
        )
    return False


def auth_difference(
    state_sets: Sequence[StateMap],
    unconflicted: StateMap,
    conflicted: dict[StateKey, set[str]],
    fetch: FetchEvent,
) -> set[str]:
    """union(C_i) - intersection(C_i), where C_i is the auth chain of S_i *including
    S_i's own events* (as Synapse's ``get_auth_chain_difference`` counts them).

    C_i = U | c_i with U the closure of the unconflicted events, so the difference
    is union(c_i) - intersection(c_i) with each c_i walked only until it meets U.
    """
    common = auth_closure(unconflicted.values(), fetch)
    frozen = frozenset(common)
    chains = []
    for state in state_sets:
        own = [event_id for key, event_id in state.items() if key in conflicted]
        chains.append(auth_closure(own, fetch, stop=frozen))
    union: set[str] = set().union(*chains)
    intersection = set(chains[0]).intersection(*chains[1:])
    return union - intersection


def conflicted_subgraph(conflicted_ids: set[str], fetch: FetchEvent) -> set[str]:
    """v12: every event on an ``auth_events`` path between two conflicted events."""
    reachable = auth_closure(conflicted_ids, fetch)
    # Post-order DFS gives auth parents before children.
    order: list[str] = []
    visited: set[str] = set()
    for root in conflicted_ids:
        if root in visited:
            continue
        stack: list[tuple[str, bool]] = [(root, False)]
        while stack:
            event_id, expanded = stack.pop()
            if expanded:
                order.append(event_id)
                continue
            if event_id in visited:
                continue
            visited.add(event_id)
            stack.append((event_id, True))
            event = fetch(event_id)
            if event is not None:
                stack.extend((p, False) for p in event.auth_event_ids if p in reachable)
    reaches: dict[str, bool] = {}
    for event_id in order:
        event = fetch(event_id)
        parents = event.auth_event_ids if event is not None else ()
        reaches[event_id] = event_id in conflicted_ids or any(
            reaches.get(p, False) for p in parents
        )
    return {event_id for event_id, hit in reaches.items() if hit}


def _sender_power(event: Event, fetch: FetchEvent, room_version: RoomVersion) -> int:
    return PowerLevels(auth_events_map(event, fetch, room_version), room_version).user_level(
        event.sender
    )


def reverse_topological_power_sort(
    event_ids: set[str], fetch: FetchEvent, room_version: RoomVersion
) -> list[str]:
    """Kahn's algorithm over the auth DAG restricted to ``event_ids``, choosing the
    smallest (-sender power, origin_server_ts, event_id) among ready events.

    Edges are direct ``auth_events`` links between members of the set, as in
    Synapse's ``_reverse_topological_power_sort``.
    """
    children: dict[str, list[str]] = {e: [] for e in event_ids}
    pending: dict[str, int] = {}
    keys: dict[str, tuple[int, int, str]] = {}
    for event_id in event_ids:
        event = fetch(event_id)
        if event is None:
            continue
        parents = {p for p in event.auth_event_ids if p in event_ids}
        pending[event_id] = len(parents)
        for parent in parents:
            children[parent].append(event_id)
        power = _sender_power(event, fetch, room_version)
        keys[event_id] = (-power, event.origin_server_ts, event_id)
    heap = [keys[e] for e, n in pending.items() if n == 0]
    heapq.heapify(heap)
    out: list[str] = []
    while heap:
        _, _, event_id = heapq.heappop(heap)
        out.append(event_id)
        for child in children[event_id]:
            if child not in pending:
                continue
            pending[child] -= 1
            if pending[child] == 0:
                heapq.heappush(heap, keys[child])
    return out


def _power_levels_parent(event: Event, fetch: FetchEvent) -> Event | None:
    for auth_id in event.auth_event_ids:
        parent = fetch(auth_id)
        if parent is not None and parent.type == EventType.POWER_LEVELS and parent.state_key == "":
            return parent
    return None


def mainline_sort(
    event_ids: Iterable[str], power_levels_id: str | None, fetch: FetchEvent
) -> list[str]:
    """Order by mainline position (older mainline first), then ts, then event ID."""
    depth_of: dict[str, int] = {}
    mainline: list[str] = []
    current = fetch(power_levels_id) if power_levels_id else None
    while current is not None:
        mainline.append(current.event_id)
        current = _power_levels_parent(current, fetch)
    for index, event_id in enumerate(reversed(mainline)):
        depth_of[event_id] = index + 1  # the oldest mainline event has depth 1

    cache: dict[str, int] = {}

    def mainline_depth(event: Event) -> int:
        walked: list[str] = []
        parent = _power_levels_parent(event, fetch)
        depth = 0
        while parent is not None:
            if parent.event_id in depth_of:
                depth = depth_of[parent.event_id]
                break
            if parent.event_id in cache:
                depth = cache[parent.event_id]
                break
            walked.append(parent.event_id)
            parent = _power_levels_parent(parent, fetch)
        for event_id in walked:
            cache[event_id] = depth
        return depth

    keyed = []
    for event_id in event_ids:
        event = fetch(event_id)
        if event is None:
            continue
        keyed.append((mainline_depth(event), event.origin_server_ts, event_id))
    keyed.sort()
    return [event_id for _, _, event_id in keyed]


def resolve_v2(
    room_version: RoomVersion, state_sets: Sequence[StateMap], fetch: FetchEvent
) -> dict[StateKey, str]:
    if not state_sets:
        return {}
    unconflicted, conflicted = separate(state_sets)
    if not conflicted:
        return unconflicted
    conflicted_ids: set[str] = set().union(*conflicted.values())
    full = conflicted_ids | auth_difference(state_sets, unconflicted, conflicted, fetch)
    v2_1 = room_version.state_res is StateResAlgorithm.V2_1
    if v2_1:
        full |= conflicted_subgraph(conflicted_ids, fetch)
    # Events we cannot fetch cannot take part (Synapse drops them the same way).
    events = {e: ev for e in full if (ev := fetch(e)) is not None}

    power_ids = {e for e, ev in events.items() if is_power_event(ev)}
    # One walk for all power events: the union of their auth chains, cut to the set.
    selected = power_ids | (auth_closure(power_ids, fetch) & events.keys())
    sorted_power = reverse_topological_power_sort(selected, fetch, room_version)
    partial = iterative_auth_checks(sorted_power, {} if v2_1 else unconflicted, fetch, room_version)

    leftover = [e for e in events if e not in selected]
    ordered = mainline_sort(leftover, partial.get(POWER_LEVELS_KEY), fetch)
    resolved = iterative_auth_checks(ordered, partial, fetch, room_version)
    resolved.update(unconflicted)
    return resolved
