"""Ordering the rows of Synapse's admin listings (users, rooms), as its SQL does:
by one column, rows without a value last whichever the direction, ties broken by an
identifier ascending."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Row = dict[str, Any]


def order_rows(
    rows: list[Row],
    column: str,
    *,
    descending: bool,
    tie_break: str,
    key: Callable[[Any], Any] = lambda value: value,
) -> list[Row]:
    """``rows`` ordered by ``key(row[column])`` (nulls last), then ``row[tie_break]``."""
    present = sorted((r for r in rows if r[column] is not None), key=lambda r: r[tie_break])
    # Python's sort is stable in both directions: ties keep the tie-break order.
    present.sort(key=lambda r: key(r[column]), reverse=descending)
    absent = sorted((r for r in rows if r[column] is None), key=lambda r: r[tie_break])
    return present + absent
