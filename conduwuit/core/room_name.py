"""A room's computed name (spec: "Calculating the display name for a room") and the
``room_name_like`` test of sliding sync lists (MSC3575/MSC4186 ``filters``).

The display name is the ``m.room.name``'s ``name`` when it is not empty, else the
``m.room.canonical_alias``'s ``alias``, else the heroes' display names (a hero
without one by user ID), joined by ", " as the spec's "Alice, Bob" example; a room
without heroes has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def display_name(name_content: Any, alias_content: Any, heroes: Sequence[str]) -> str:
    """The computed name from the two state events' contents and the heroes' names
    ("" when there is nothing to name the room by)."""
    for content, key in ((name_content, "name"), (alias_content, "alias")):
        value = content.get(key) if isinstance(content, dict) else None
        if isinstance(value, str) and value:
            return value
    return ", ".join(heroes)


def name_like(pattern: str, name: str) -> bool:
    """MSC3575: "Case-insensitive partial matching e.g 'foo' matches 'abFooab'" (SQL's
    ``LIKE '%foo%'``; ``%`` and ``_`` are literal here). Case is folded with Unicode
    case folding, so "STRASSE" is like "straße"."""
    return pattern.casefold() in name.casefold()
