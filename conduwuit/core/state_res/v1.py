"""State resolution v1 for room version 1 (rooms/v1 "State resolution").

Follows Synapse's ``synapse/state/v1.py`` where the spec is loose: a key present
in only some state sets is unconflicted; conflicted events are authorised
against the unconflicted state's auth events plus what has been resolved so far
(rather than the whole of R); if no candidate for an ordinary key passes auth,
the last tried (least depth) wins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from conduwuit.core.auth_rules import auth_types_for_event, check
from conduwuit.core.errors import AuthError
from conduwuit.core.event_types import EventType
from conduwuit.core.events import Event
from conduwuit.core.power_levels import POWER_LEVELS_KEY, StateKey
from conduwuit.core.room_versions import RoomVersion
from conduwuit.core.state_res.common import FetchEvent, StateMap


def separate_v1(
    state_sets: Sequence[StateMap],
) -> tuple[dict[StateKey, str], dict[StateKey, set[str]]]:
    unconflicted = dict(state_sets[0])
    conflicted: dict[StateKey, set[str]] = {}
    for state in state_sets[1:]:
        for key, value in state.items():
            if key in conflicted:
                conflicted[key].add(value)
            elif key in unconflicted:
                if unconflicted[key] != value:
                    conflicted[key] = {unconflicted.pop(key), value}
            else:
                unconflicted[key] = value
    return unconflicted, conflicted


def _ordered(events: list[Event]) -> list[Event]:
    """Descending depth, then ascending sha1(event_id)."""
    return sorted(
        events, key=lambda e: (-e.depth, hashlib.sha1(e.event_id.encode("utf-8")).hexdigest())
    )


def _allowed(event: Event, auth: dict[StateKey, Event], rv: RoomVersion) -> bool:
    try:
        check(event, auth, rv)
    except AuthError:
        return False
    return True


def _resolve_auth_events(
    events: list[Event], auth: dict[StateKey, Event], rv: RoomVersion
) -> Event:
    ascending = list(reversed(_ordered(events)))
    keys = {k for e in events for k in auth_types_for_event(e, rv)}
    state = {k: auth[k] for k in keys if k in auth}
    previous = ascending[0]
    for event in ascending[1:]:
        state[(previous.type, previous.state_key or "")] = previous
        if not _allowed(event, state, rv):
            return previous
        previous = event
    return previous


def _resolve_normal_events(
    events: list[Event], auth: dict[StateKey, Event], rv: RoomVersion
) -> Event:
    ordered = _ordered(events)
    for event in ordered:
        if _allowed(event, auth, rv):
            return event
    return ordered[-1]


def resolve_v1(
    room_version: RoomVersion, state_sets: Sequence[StateMap], fetch: FetchEvent
) -> dict[StateKey, str]:
    if not state_sets:
        return {}
    if len(state_sets) == 1:
        return dict(state_sets[0])
    unconflicted, conflicted_ids = separate_v1(state_sets)
    conflicted: dict[StateKey, list[Event]] = {}
    for key, ids in conflicted_ids.items():
        events = [ev for i in sorted(ids) if (ev := fetch(i)) is not None]
        if len(events) > 1:
            conflicted[key] = events
        elif events:
            unconflicted[key] = events[0].event_id

    auth: dict[StateKey, Event] = {}
    for events in conflicted.values():
        for event in events:
            for key in auth_types_for_event(event, room_version):
                if key not in auth and key in unconflicted:
                    found = fetch(unconflicted[key])
                    if found is not None:
                        auth[key] = found

    resolved: dict[StateKey, Event] = {}
    if POWER_LEVELS_KEY in conflicted:
        resolved[POWER_LEVELS_KEY] = _resolve_auth_events(
            conflicted[POWER_LEVELS_KEY], auth, room_version
        )
    for event_type in (EventType.JOIN_RULES, EventType.MEMBER):
        auth.update(resolved)
        for key, events in conflicted.items():
            if key[0] == event_type:
                resolved[key] = _resolve_auth_events(events, auth, room_version)
    auth.update(resolved)
    for key, events in conflicted.items():
        if key not in resolved:
            resolved[key] = _resolve_normal_events(events, auth, room_version)

    out = dict(unconflicted)
    out.update({key: event.event_id for key, event in resolved.items()})
    return out
