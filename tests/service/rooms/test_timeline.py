"""Timeline positions over a real RocksDB: stream counts, and the negative positions
of backfilled history below them, scanned in order in both directions from any
position (the two's complement keys of negative counts sort after the positive ones
and ``scan`` walks both segments)."""

from __future__ import annotations

import pytest

from conduwuit.db import Database
from conduwuit.service.rooms.timeline import Timeline, count_of, pduid

POSITIONS = [-7, -3, -2, -1, 1, 5, 9]


@pytest.fixture
def timeline(db: Database) -> Timeline:
    timeline = Timeline(db)
    with db.batch() as b:
        for room in (1, 2, 3):
            for position in POSITIONS:
                pdu = {"event_id": f"$r{room}p{position}", "room_id": f"!r{room}:x"}
                timeline.put_timeline(b, pduid(room, position), pdu)
    return timeline


def test_pdu_ids_keep_negative_positions() -> None:
    for position in (-(2**63), -1, 0, 1, 2**63 - 1):
        assert count_of(pduid(7, position)) == position
    assert pduid(7, -1)[:8] == pduid(7, 1)[:8]


@pytest.mark.parametrize("start", [None, -8, -7, -3, -1, 0, 1, 4, 5, 9, 12])
def test_scans_walk_backfilled_then_stream_positions_in_order(
    timeline: Timeline, start: int | None
) -> None:
    backwards = [c for c, _ in timeline.scan(2, start, backwards=True)]
    forwards = [c for c, _ in timeline.scan(2, start, backwards=False)]
    below = [p for p in POSITIONS if start is None or p < start]
    above = [p for p in POSITIONS if start is None or p > start]
    assert backwards == below[::-1]
    assert forwards == above
    # Only the room's own events.
    assert all(p["room_id"] == "!r2:x" for _, p in timeline.scan(2, start, backwards=True))


def test_oldest_is_the_lowest_position(timeline: Timeline) -> None:
    oldest = timeline.oldest(3)
    assert oldest is not None and oldest[0] == -7
    assert timeline.oldest(4) is None
    located = timeline.get_timeline("$r1p-3")
    assert located is not None and located[0] == -3
