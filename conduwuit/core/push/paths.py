"""Dot-separated property paths (appendices, "Dot-separated property paths").

A path names a property of an event by joining property names with dots; a
literal dot or backslash inside a name is escaped with a backslash (``\\.``,
``\\\\``). Any other backslash sequence is kept as it is (``\\x`` is a backslash
and an ``x``). ``canonical_key`` rewrites any spelling of a path to the one
spelling ``flatten`` produces, so a condition's key is a single dict lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

#: Event fields a push condition may look at: the client event format without
#: ``unsigned``, which differs per recipient (Synapse flattens the same fields).
EVENT_FIELDS = ("content", "event_id", "origin_server_ts", "room_id", "sender", "state_key", "type")


def split_path(path: str) -> list[str]:
    """``content.m\\.relates_to.rel_type`` -> ``["content", "m.relates_to", "rel_type"]``."""
    parts: list[str] = []
    current: list[str] = []
    i, n = 0, len(path)
    while i < n:
        char = path[i]
        if char == "\\" and i + 1 < n and path[i + 1] in ".\\":
            current.append(path[i + 1])
            i += 2
            continue
        if char == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


def escape_part(name: str) -> str:
    return name.replace("\\", "\\\\").replace(".", "\\.")


def join_path(parts: Iterable[str]) -> str:
    return ".".join(escape_part(part) for part in parts)


def canonical_key(path: str) -> str:
    """The spelling of ``path`` that ``flatten`` uses (redundant escapes resolved)."""
    return join_path(split_path(path))


def flatten(event: Mapping[str, Any]) -> dict[str, Any]:
    """Every leaf of the event's client-visible fields by canonical path.

    Leaves are the values push conditions compare: strings, integers, booleans,
    ``null`` and arrays (for ``event_property_contains``); objects are walked.
    """
    out: dict[str, Any] = {}
    for name in EVENT_FIELDS:
        if name in event:
            out.update(_walk(escape_part(name), event[name]))
    return out


def _walk(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    stack: list[tuple[str, Any]] = [(prefix, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict):
            stack.extend((f"{path}.{escape_part(str(k))}", v) for k, v in item.items())
        else:
            yield path, item
