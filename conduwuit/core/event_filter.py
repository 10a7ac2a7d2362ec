"""RoomEventFilter (client-server API "Filtering"): which timeline events a
/messages or /context response includes, and whether members are lazy-loaded.

MSC3874 adds ``org.matrix.msc3874.rel_types`` / ``org.matrix.msc3874.not_rel_types``:
keep (or drop) events whose ``m.relates_to.rel_type`` is one of the listed types,
compared exactly (no globs), as Synapse does wherever it applies a room event
filter (/messages, /context, /sync timelines, search).

Filters are bounded (``check_filter_size``: entries per list, length of an entry,
size of the whole filter) wherever one enters, uploaded or inline, so one filter
cannot make every event cost thousands of pattern matches. Each list of type
patterns compiles once into one regular expression (cached by its patterns), and
sender and room lists become sets: matching an event is a few lookups.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import translate
from functools import cached_property, lru_cache
from typing import Any

from conduwuit.core.errors import MatrixError, bad_json


def _strings(value: Any, name: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_json(f"filter {name} must be a list of strings")
    return tuple(value)


#: Entries in one list of a filter (types, not_types, senders, rooms, event_fields...).
#: Clients send a handful; Synapse bounds filters only by its request size, which
#: lets one filter cost every event tens of thousands of matches, so conduwuit caps.
MAX_FILTER_LIST = 500
#: Characters in one entry: event types, user and room IDs are at most 255 bytes.
MAX_FILTER_ENTRY = 255
#: The whole filter as compact JSON.
MAX_FILTER_BYTES = 64 * 1024


def _too_big(message: str) -> MatrixError:
    # Synapse answers a filter it cannot accept with 400 M_BAD_JSON.
    return bad_json(message)


def check_filter_size(definition: Any) -> None:
    """Refuse (400 M_BAD_JSON) a filter with a list of more than ``MAX_FILTER_LIST``
    entries, an entry longer than ``MAX_FILTER_ENTRY`` or a total JSON size over
    ``MAX_FILTER_BYTES``. Walks the whole definition, so unknown keys count too."""
    if len(json.dumps(definition, separators=(",", ":"), ensure_ascii=False)) > MAX_FILTER_BYTES:
        raise _too_big(f"filter is larger than {MAX_FILTER_BYTES} bytes")
    pending = [definition]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            if len(value) > MAX_FILTER_LIST:
                raise _too_big(f"filter lists may have at most {MAX_FILTER_LIST} entries")
            for entry in value:
                if isinstance(entry, str) and len(entry) > MAX_FILTER_ENTRY:
                    raise _too_big(f"filter entries may be at most {MAX_FILTER_ENTRY} long")
            pending.extend(value)


def parse_filter_json(raw: str) -> Any:
    """An inline filter's JSON, refused before parsing if it is too large."""
    if len(raw) > MAX_FILTER_BYTES:
        raise _too_big(f"filter is larger than {MAX_FILTER_BYTES} bytes")
    return json.loads(raw)


@lru_cache(maxsize=256)
def compile_globs(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """Whether a string matches any of ``patterns`` (``fnmatch`` globs; the spec's
    "A '*' can be used as a wildcard"), as one regular expression compiled once."""
    if not patterns:
        return lambda _: False
    if all(not any(c in p for c in "*?[") for p in patterns):
        literal = frozenset(patterns)
        return literal.__contains__
    # Each translation ends in \Z and its groups are atomic or unnamed, so the
    # alternation matches exactly when one of the patterns does.
    regex = re.compile("|".join(f"(?:{translate(p)})" for p in dict.fromkeys(patterns)))
    return lambda s: regex.match(s) is not None


#: MSC3874's unstable keys for filtering by relation type.
REL_TYPES_KEY = "org.matrix.msc3874.rel_types"
NOT_REL_TYPES_KEY = "org.matrix.msc3874.not_rel_types"


def relation_type(pdu: Mapping[str, Any]) -> str | None:
    """The ``rel_type`` of an event's relation, or ``None`` if it has no well-formed
    one (Synapse's ``relation_from_event``: both ``rel_type`` and ``event_id`` must
    be strings)."""
    content = pdu.get("content")
    relates = content.get("m.relates_to") if isinstance(content, Mapping) else None
    if not isinstance(relates, Mapping):
        return None
    rel_type = relates.get("rel_type")
    if not isinstance(rel_type, str) or not isinstance(relates.get("event_id"), str):
        return None
    return rel_type


@dataclass(frozen=True)
class RoomEventFilter:
    types: tuple[str, ...] | None = None
    not_types: tuple[str, ...] = ()
    senders: tuple[str, ...] | None = None
    not_senders: tuple[str, ...] = ()
    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()
    contains_url: bool | None = None
    #: MSC3874: relation types to keep (``None``: any, relation or not) and to drop.
    rel_types: tuple[str, ...] | None = None
    not_rel_types: tuple[str, ...] = ()
    lazy_load_members: bool = False
    include_redundant_members: bool = False
    #: /sync only: per-thread notification counts (spec v1.4, room_event_filter.yaml).
    unread_thread_notifications: bool = False
    limit: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> RoomEventFilter:
        if not data:
            return cls()
        if not isinstance(data, Mapping):
            raise bad_json("filter must be an object")
        contains_url = data.get("contains_url")
        if contains_url is not None and not isinstance(contains_url, bool):
            raise bad_json("filter contains_url must be a boolean")
        limit = data.get("limit")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)):
            raise bad_json("filter limit must be an integer")
        return cls(
            types=_strings(data.get("types"), "types"),
            not_types=_strings(data.get("not_types"), "not_types") or (),
            senders=_strings(data.get("senders"), "senders"),
            not_senders=_strings(data.get("not_senders"), "not_senders") or (),
            rooms=_strings(data.get("rooms"), "rooms"),
            not_rooms=_strings(data.get("not_rooms"), "not_rooms") or (),
            contains_url=contains_url,
            rel_types=_strings(data.get(REL_TYPES_KEY), REL_TYPES_KEY),
            not_rel_types=_strings(data.get(NOT_REL_TYPES_KEY), NOT_REL_TYPES_KEY) or (),
            lazy_load_members=data.get("lazy_load_members") is True,
            include_redundant_members=data.get("include_redundant_members") is True,
            unread_thread_notifications=data.get("unread_thread_notifications") is True,
            limit=limit,
        )

    # Compiled once per filter object (and the regexes once per pattern list).
    @cached_property
    def _not_types(self) -> Callable[[str], bool]:
        return compile_globs(self.not_types)

    @cached_property
    def _types(self) -> Callable[[str], bool] | None:
        return None if self.types is None else compile_globs(self.types)

    @cached_property
    def _sets(self) -> tuple[frozenset[str], frozenset[str] | None, frozenset[str]]:
        return (
            frozenset(self.not_senders),
            None if self.senders is None else frozenset(self.senders),
            frozenset(self.not_rooms),
        )

    @cached_property
    def _rooms(self) -> frozenset[str] | None:
        return None if self.rooms is None else frozenset(self.rooms)

    def matches(self, pdu: Mapping[str, Any]) -> bool:
        event_type = str(pdu.get("type", ""))
        sender = str(pdu.get("sender", ""))
        room_id = str(pdu.get("room_id", ""))
        if self._not_types(event_type):
            return False
        types = self._types
        if types is not None and not types(event_type):
            return False
        not_senders, senders, not_rooms = self._sets
        if sender in not_senders:
            return False
        if senders is not None and sender not in senders:
            return False
        rooms = self._rooms
        if room_id in not_rooms or (rooms is not None and room_id not in rooms):
            return False
        if self.contains_url is not None:
            content = pdu.get("content")
            has_url = isinstance(content, dict) and isinstance(content.get("url"), str)
            if has_url != self.contains_url:
                return False
        if self.rel_types is not None or self.not_rel_types:
            rel_type = relation_type(pdu)
            if rel_type is not None and rel_type in self.not_rel_types:
                return False
            if self.rel_types is not None and rel_type not in self.rel_types:
                return False
        return True
