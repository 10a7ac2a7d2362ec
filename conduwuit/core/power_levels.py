"""Power levels as the auth rules read them (client-server API ``m.room.power_levels``;
rooms/v1 "stringy" and "floaty" power levels; rooms/v12 infinite creators).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from conduwuit.core.event_types import EventType
from conduwuit.core.events import Event
from conduwuit.core.room_versions import RoomVersion

StateKey = tuple[str, str]
AuthState = Mapping[StateKey, Event]

CREATE_KEY: StateKey = (EventType.CREATE, "")
POWER_LEVELS_KEY: StateKey = (EventType.POWER_LEVELS, "")
JOIN_RULES_KEY: StateKey = (EventType.JOIN_RULES, "")

# v12 creators are "infinitely" powerful; no canonical-JSON integer reaches this.
INFINITE_POWER = 2**63

_STRINGY_INT = re.compile(r"\s*[+-]?\d+\s*")


def to_int(value: Any, room_version: RoomVersion) -> int | None:
    """Read a power-level value: strict integers in v10+, else also integer strings
    and finite floats (truncated), per the v1 "stringy"/"floaty" fragments."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if room_version.integer_power_levels:
        return None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    if isinstance(value, str) and _STRINGY_INT.fullmatch(value):
        return int(value)
    return None


def creators(auth_state: AuthState, room_version: RoomVersion) -> frozenset[str]:
    """The room creators: ``content.creator`` (v1-10), the create ``sender`` (v11),
    plus ``additional_creators`` (v12)."""
    create = auth_state.get(CREATE_KEY)
    if create is None:
        return frozenset()
    if not room_version.implicit_room_creator:
        creator = create.content.get("creator")
        return frozenset({creator}) if isinstance(creator, str) else frozenset()
    found = {create.sender}
    if room_version.privileged_creators:
        extra = create.content.get("additional_creators")
        if isinstance(extra, list):
            found.update(u for u in extra if isinstance(u, str))
    return frozenset(found)


def _level(content: Mapping[str, Any], key: str, default: int, rv: RoomVersion) -> int:
    value = to_int(content.get(key, default), rv)
    return default if value is None else value


class PowerLevels:
    """The effective power levels of a room state (defaults applied)."""

    __slots__ = ("_content", "_creators", "_has_event", "_rv")

    def __init__(self, auth_state: AuthState, room_version: RoomVersion) -> None:
        event = auth_state.get(POWER_LEVELS_KEY)
        self._has_event = event is not None
        self._content: Mapping[str, Any] = event.content if event is not None else {}
        self._creators = creators(auth_state, room_version)
        self._rv = room_version

    def user_level(self, user_id: str) -> int:
        if self._rv.privileged_creators and user_id in self._creators:
            return INFINITE_POWER
        if not self._has_event:
            return 100 if user_id in self._creators else 0
        users = self._content.get("users")
        if isinstance(users, dict) and user_id in users:
            value = to_int(users[user_id], self._rv)
            if value is not None:
                return value
        return _level(self._content, "users_default", 0, self._rv)

    def send_level(self, event_type: str, is_state: bool) -> int:
        """The *required power level* for sending an event of this type."""
        events = self._content.get("events")
        if isinstance(events, dict) and event_type in events:
            value = to_int(events[event_type], self._rv)
            if value is not None:
                return value
        if is_state:
            return _level(self._content, "state_default", 50, self._rv)
        return _level(self._content, "events_default", 0, self._rv)

    def named_level(self, name: str) -> int:
        """``ban``/``kick``/``redact`` default to 50, ``invite`` to 0."""
        return _level(self._content, name, 0 if name == "invite" else 50, self._rv)
