"""Timeline positions over a real RocksDB: stream counts, and the negative positions
of backfilled history below them, scanned in order in both directions from any
position (the two's complement keys of negative counts sort after the positive ones
and ``scan`` walks both segments)."""

from __future__ import annotations

import itertools

import pytest

from conduwuit.core.timeline_pos import AFTER_ALL, TimelinePos, between
from conduwuit.db import Database
from conduwuit.service.rooms.timeline import Timeline, count_of, pduid, position_of

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
    assert oldest is not None and oldest[0] == TimelinePos(-7)
    assert timeline.oldest(4) is None
    located = timeline.get_timeline("$r1p-3")
    assert located is not None and located[0] == -3


#: Events of room 5: counts with history inserted into gaps after some of them.
SUBS = [
    TimelinePos(-4),
    TimelinePos(-4, 7),
    TimelinePos(-2),
    TimelinePos(-1, 2**64 - 1),
    TimelinePos(1),
    TimelinePos(1, 1),
    TimelinePos(1, 2**40),
    TimelinePos(3, 5),
    TimelinePos(4),
]


@pytest.fixture
def gappy(timeline: Timeline, db: Database) -> Timeline:
    with db.batch() as b:
        for pos in SUBS:
            pdu = {"event_id": f"${pos.count}.{pos.sub}", "room_id": "!r5:x"}
            timeline.put_timeline(b, pduid(5, pos), pdu)
    return timeline


def test_sub_positions_round_trip_through_keys() -> None:
    for pos in SUBS:
        key = pduid(5, pos)
        assert position_of(key) == pos
        assert len(key) == (24 if pos.sub else 16)


TOKENS = [None, *SUBS, *(p.before() for p in SUBS), TimelinePos(2, AFTER_ALL)]
TOKENS += [TimelinePos(1, 0), TimelinePos(-1, AFTER_ALL), TimelinePos(0, AFTER_ALL)]


@pytest.mark.parametrize("token", TOKENS)
def test_scans_from_tokens_keep_sub_positions_in_order(
    gappy: Timeline, token: TimelinePos | None
) -> None:
    """Backwards from a token: the events at or before it; forwards: those after it;
    a sub-position sorts after its count's event and before the next count."""
    backwards = [pos for pos, _ in gappy.scan_at(5, token, backwards=True)]
    forwards = [pos for pos, _ in gappy.scan_at(5, token, backwards=False)]
    assert backwards == [p for p in SUBS if token is None or p <= token][::-1]
    assert forwards == [p for p in SUBS if token is None or p > token]
    # A sub-position counts as its count for stream-position scans (/sync).
    counts = [c for c, _ in gappy.scan(5, 2, backwards=True)]
    assert counts == [1, 1, 1, -1, -2, -4, -4]


def test_positions_tokens_and_subs_of_events(gappy: Timeline) -> None:
    assert gappy.position("$1.1") == TimelinePos(1, 1)
    assert gappy.token_before((1, {"event_id": "$1.1"})) == "1.0"
    assert gappy.token_before((4, {"event_id": "$4.0"})) == "3"


def test_insertions_between_neighbours_sort_between_them(gappy: Timeline) -> None:
    """Positions for a gap's history lie strictly between the events around it; the
    newest that fit when two sub-positions leave less room than asked."""
    for lower, upper in itertools.pairwise(SUBS):
        inserted = between(lower, upper, 100)
        assert len(inserted) == {TimelinePos(-4, 7): 6, TimelinePos(1, 1): 0}.get(upper, 100)
        assert all(lower < p < upper for p in inserted)
        assert inserted == sorted(inserted)
    # A batch leaves room below it for the next one, and between its events.
    first = between(TimelinePos(1), TimelinePos(2), 100)
    second = between(TimelinePos(1), first[0], 100)
    assert len(second) == 100 and second[-1] < first[0]
    assert len(between(first[0], first[1], 100)) == 100


def test_gaps_are_recorded_and_close_when_their_events_arrive(db: Database) -> None:
    timeline = Timeline(db)
    after_gap = pduid(6, 10)
    with db.batch() as b:
        timeline.put_timeline(b, pduid(6, 1), {"event_id": "$a", "prev_events": []})
        timeline.put_timeline(b, after_gap, {"event_id": "$c", "prev_events": ["$a", "$b"]})
    assert timeline.gaps.is_gap(after_gap)
    assert not timeline.gaps.is_gap(pduid(6, 1))
    assert timeline.gaps.missing(after_gap) == ["$b"]
    with db.batch() as b:
        timeline.put_timeline(b, pduid(6, TimelinePos(9, 5)), {"event_id": "$b", "prev_events": []})
    assert timeline.gaps.missing(after_gap) == []
    assert not timeline.gaps.is_gap(after_gap)  # dropped once read closed
