"""Timeline positions and their tokens (core/timeline_pos.py): the token shapes, the
token before an event, and insertion positions between two events."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.core.timeline_pos import AFTER_ALL, TimelinePos, between, parse_token

U64 = (1 << 64) - 1


@pytest.mark.parametrize(
    ("token", "pos"),
    [
        ("7", TimelinePos(7, AFTER_ALL)),
        ("s7", TimelinePos(7, AFTER_ALL)),
        ("t7_3", TimelinePos(7, AFTER_ALL)),
        ("-7", TimelinePos(-7, AFTER_ALL)),
        ("7.0", TimelinePos(7, 0)),
        ("7.12", TimelinePos(7, 12)),
        ("-7.12", TimelinePos(-7, 12)),
        (f"3.{U64}", TimelinePos(3, U64)),
    ],
)
def test_tokens_parse_and_print_back(token: str, pos: TimelinePos) -> None:
    assert parse_token(token) == pos
    if token[0] not in "st":
        assert pos.token() == token


@pytest.mark.parametrize(
    "token", ["", "7.", ".7", "7.1.2", f"7.{U64 + 1}", "s7.1x", "7.-1", "-7_1", "7. 1", "x"]
)
def test_bad_tokens_are_invalid_param(token: str) -> None:
    with pytest.raises(MatrixError) as err:
        parse_token(token)
    assert err.value.errcode == ErrCode.INVALID_PARAM


def test_the_token_before_an_event() -> None:
    # Before a count's own event: after everything of the count before.
    assert TimelinePos(5).before() == TimelinePos(4, AFTER_ALL)
    assert TimelinePos(5).before().token() == "4"
    # Before a sub-position: right after the one below it.
    assert TimelinePos(5, 9).before() == TimelinePos(5, 8)
    assert TimelinePos(5, 1).before().token() == "5.0"
    assert TimelinePos(-1).before().token() == "-2"


positions = st.builds(
    TimelinePos, st.integers(-(2**40), 2**40), st.one_of(st.just(0), st.integers(1, U64))
)


@given(positions, positions, st.integers(1, 300))
def test_inserted_positions_sort_strictly_between(a: TimelinePos, b: TimelinePos, n: int) -> None:
    lower, upper = min(a, b), max(a, b)
    inserted = between(lower, upper, n)
    assert len(inserted) <= n
    assert inserted == sorted(set(inserted))
    assert all(lower < p < upper and 0 < p.sub <= U64 for p in inserted)
    below = between(None, upper, n)
    assert len(below) == n and all(p < upper for p in below)
