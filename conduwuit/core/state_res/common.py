"""Shared pieces of state resolution: state maps, the event-fetch callback, splitting
states into unconflicted and conflicted parts, auth chains, iterative auth checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from conduwuit.core.auth_rules import auth_types_for_event, check
from conduwuit.core.errors import AuthError
from conduwuit.core.events import Event
from conduwuit.core.power_levels import CREATE_KEY, StateKey
from conduwuit.core.room_versions import RoomVersion

StateMap = Mapping[StateKey, str]
# Returns the event with this ID, or None if the server does not have it.
FetchEvent = Callable[[str], Event | None]


class StateResolutionError(ValueError):
    """Resolution cannot proceed (e.g. an event the algorithm needs is missing)."""


def separate(
    state_sets: Sequence[StateMap],
) -> tuple[dict[StateKey, str], dict[StateKey, set[str]]]:
    """v2 split: a key is unconflicted iff every state set has it with the same ID."""
    unconflicted: dict[StateKey, str] = {}
    conflicted: dict[StateKey, set[str]] = {}
    first, rest = state_sets[0], state_sets[1:]
    keys: set[StateKey] = set(first)
    for state in rest:
        keys.update(state)
    for key in keys:
        value = first.get(key)
        if value is not None and all(state.get(key) == value for state in rest):
            unconflicted[key] = value
            continue
        ids = {state[key] for state in state_sets if key in state}
        conflicted[key] = ids
    return unconflicted, conflicted


def auth_closure(
    start: Iterable[str], fetch: FetchEvent, stop: set[str] | frozenset[str] = frozenset()
) -> set[str]:
    """``start`` plus every event reachable through ``auth_events``, not walking into
    (nor including) events in ``stop``. Unknown events are kept but not expanded."""
    seen: set[str] = set()
    stack = [e for e in start if e not in stop]
    while stack:
        event_id = stack.pop()
        if event_id in seen:
            continue
        seen.add(event_id)
        event = fetch(event_id)
        if event is None:
            continue
        for parent in event.auth_event_ids:
            if parent not in seen and parent not in stop:
                stack.append(parent)
    return seen


def create_event_id(event: Event) -> str | None:
    """v12: the room's create event ID, from the room ID."""
    room_id = event.room_id
    return "$" + room_id[1:] if room_id and room_id.startswith("!") else None


def auth_events_map(
    event: Event, fetch: FetchEvent, room_version: RoomVersion
) -> dict[StateKey, Event]:
    """The event's cited, non-rejected auth events by key (plus the v12 create event)."""
    out: dict[StateKey, Event] = {}
    for auth_id in event.auth_event_ids:
        auth_event = fetch(auth_id)
        if auth_event is not None and not auth_event.rejected and auth_event.state_key is not None:
            out[(auth_event.type, auth_event.state_key)] = auth_event
    if room_version.room_id_from_create_event and CREATE_KEY not in out:
        create_id = create_event_id(event)
        create = fetch(create_id) if create_id else None
        if create is not None:
            out[CREATE_KEY] = create
    return out


def iterative_auth_checks(
    event_ids: Iterable[str],
    base_state: Mapping[StateKey, str],
    fetch: FetchEvent,
    room_version: RoomVersion,
) -> dict[StateKey, str]:
    """Apply each state event in order if it passes auth against the state so far,
    falling back to its own (non-rejected) auth events for keys the state lacks."""
    state = dict(base_state)
    for event_id in event_ids:
        event = fetch(event_id)
        if event is None or event.state_key is None:
            continue
        auth_state = auth_events_map(event, fetch, room_version)
        for key in auth_types_for_event(event, room_version):
            current_id = state.get(key)
            if current_id is None:
                continue
            current = fetch(current_id)
            if current is not None and not current.rejected:
                auth_state[key] = current
        try:
            check(event, auth_state, room_version)
        except AuthError:
            continue
        state[(event.type, event.state_key)] = event_id
    return state
