"""The /sync filter (client-server API "Filtering"): which rooms, events and fields.

A filter arrives inline as JSON or as the ID of one the user uploaded; both parse
into a ``SyncFilter`` once per request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from conduwuit.core.errors import ErrCode, MatrixError, bad_json
from conduwuit.core.event_filter import RoomEventFilter, check_filter_size, parse_filter_json

#: Timeline events per room when the filter sets no limit (Synapse's default).
DEFAULT_TIMELINE_LIMIT = 10


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise bad_json(f"filter {name} must be an object")
    return value


@dataclass(frozen=True)
class SyncFilter:
    timeline: RoomEventFilter = field(default_factory=RoomEventFilter)
    state: RoomEventFilter = field(default_factory=RoomEventFilter)
    ephemeral: RoomEventFilter = field(default_factory=RoomEventFilter)
    room_account_data: RoomEventFilter = field(default_factory=RoomEventFilter)
    account_data: RoomEventFilter = field(default_factory=RoomEventFilter)
    presence: RoomEventFilter = field(default_factory=RoomEventFilter)
    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()
    include_leave: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SyncFilter:
        room = _section(data, "room")
        rooms = RoomEventFilter.from_json({k: room[k] for k in ("rooms", "not_rooms") if k in room})
        include_leave = room.get("include_leave", False)
        if not isinstance(include_leave, bool):
            raise bad_json("filter room.include_leave must be a boolean")
        return cls(
            timeline=RoomEventFilter.from_json(_section(room, "timeline")),
            state=RoomEventFilter.from_json(_section(room, "state")),
            ephemeral=RoomEventFilter.from_json(_section(room, "ephemeral")),
            room_account_data=RoomEventFilter.from_json(_section(room, "account_data")),
            account_data=RoomEventFilter.from_json(_section(data, "account_data")),
            presence=RoomEventFilter.from_json(_section(data, "presence")),
            rooms=rooms.rooms,
            not_rooms=rooms.not_rooms,
            include_leave=include_leave,
        )

    @property
    def timeline_limit(self) -> int:
        limit = self.timeline.limit
        return DEFAULT_TIMELINE_LIMIT if limit is None else max(0, min(limit, 1000))

    def wants_room(self, room_id: str) -> bool:
        if room_id in self.not_rooms:
            return False
        return self.rooms is None or room_id in self.rooms

    @staticmethod
    def wants(event_filter: RoomEventFilter, event: Mapping[str, Any]) -> bool:
        """Type and sender rules for events that are not room events (no room_id check)."""
        return event_filter.matches({k: v for k, v in event.items() if k != "room_id"})


def parse_filter(
    raw: str | None, user_id: str, lookup: Callable[[str, str], dict[str, Any] | None]
) -> SyncFilter:
    """``filter`` query parameter: inline JSON (starts with ``{``) or a filter ID."""
    if raw is None or raw == "":
        return SyncFilter()
    if raw.lstrip().startswith("{"):
        try:
            data = parse_filter_json(raw)
        except ValueError:
            raise MatrixError(ErrCode.NOT_JSON, "filter is not valid JSON") from None
        if not isinstance(data, dict):
            raise bad_json("filter must be a JSON object")
        check_filter_size(data)
        return SyncFilter.from_json(data)
    stored = lookup(user_id, raw)
    if stored is None:
        # Synapse answers an unknown filter ID with 400 M_NOT_FOUND.
        raise MatrixError(ErrCode.NOT_FOUND, f"No filter found with ID {raw!r}", status=400)
    check_filter_size(stored)  # one stored before filters were bounded
    return SyncFilter.from_json(stored)
