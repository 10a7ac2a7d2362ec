"""order_rows: Synapse's listing order (nulls last both ways, ties by an ID ascending)."""

from __future__ import annotations

from conduwuit.core.admin_listing import order_rows

ROWS = [
    {"id": "d", "n": None},
    {"id": "c", "n": 2},
    {"id": "a", "n": 2},
    {"id": "b", "n": 10},
    {"id": "e", "n": None},
]


def ids(rows: list[dict[str, object]]) -> list[object]:
    return [r["id"] for r in rows]


def test_ascending_and_descending_keep_nulls_last_and_ties_by_id() -> None:
    assert ids(order_rows(ROWS, "n", descending=False, tie_break="id")) == ["a", "c", "b", "d", "e"]
    assert ids(order_rows(ROWS, "n", descending=True, tie_break="id")) == ["b", "a", "c", "d", "e"]


def test_key_maps_values() -> None:
    rows = order_rows(ROWS, "n", descending=False, tie_break="id", key=lambda v: -v)
    assert ids(rows) == ["b", "a", "c", "d", "e"]
