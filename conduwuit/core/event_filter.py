"""RoomEventFilter (client-server API "Filtering"): which timeline events a
/messages or /context response includes, and whether members are lazy-loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from conduwuit.core.errors import ErrCode, MatrixError


def _strings(value: Any, name: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MatrixError(ErrCode.BAD_JSON, f"filter {name} must be a list of strings")
    return tuple(value)


def _type_matches(event_type: str, patterns: tuple[str, ...]) -> bool:
    # '*' is a wildcard (the spec's "A '*' can be used as a wildcard").
    return any(fnmatchcase(event_type, p) for p in patterns)


@dataclass(frozen=True)
class RoomEventFilter:
    types: tuple[str, ...] | None = None
    not_types: tuple[str, ...] = ()
    senders: tuple[str, ...] | None = None
    not_senders: tuple[str, ...] = ()
    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()
    contains_url: bool | None = None
    lazy_load_members: bool = False
    include_redundant_members: bool = False
    limit: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> RoomEventFilter:
        if not data:
            return cls()
        if not isinstance(data, Mapping):
            raise MatrixError(ErrCode.BAD_JSON, "filter must be an object")
        contains_url = data.get("contains_url")
        if contains_url is not None and not isinstance(contains_url, bool):
            raise MatrixError(ErrCode.BAD_JSON, "filter contains_url must be a boolean")
        limit = data.get("limit")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)):
            raise MatrixError(ErrCode.BAD_JSON, "filter limit must be an integer")
        return cls(
            types=_strings(data.get("types"), "types"),
            not_types=_strings(data.get("not_types"), "not_types") or (),
            senders=_strings(data.get("senders"), "senders"),
            not_senders=_strings(data.get("not_senders"), "not_senders") or (),
            rooms=_strings(data.get("rooms"), "rooms"),
            not_rooms=_strings(data.get("not_rooms"), "not_rooms") or (),
            contains_url=contains_url,
            lazy_load_members=data.get("lazy_load_members") is True,
            include_redundant_members=data.get("include_redundant_members") is True,
            limit=limit,
        )

    def matches(self, pdu: Mapping[str, Any]) -> bool:
        event_type = str(pdu.get("type", ""))
        sender = str(pdu.get("sender", ""))
        room_id = str(pdu.get("room_id", ""))
        if _type_matches(event_type, self.not_types):
            return False
        if self.types is not None and not _type_matches(event_type, self.types):
            return False
        if sender in self.not_senders:
            return False
        if self.senders is not None and sender not in self.senders:
            return False
        if room_id in self.not_rooms or (self.rooms is not None and room_id not in self.rooms):
            return False
        if self.contains_url is not None:
            content = pdu.get("content")
            has_url = isinstance(content, dict) and isinstance(content.get("url"), str)
            if has_url != self.contains_url:
                return False
        return True
