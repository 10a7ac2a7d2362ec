"""Positions in a room's timeline, and the pagination tokens that name them.

An event's position is ``(count, sub)``: ``count`` is its stream count (or, for
history backfilled below everything, a negative count) and ``sub`` is 0, except
for history fetched into a gap in the middle of the timeline (a re-join, pulled
events whose own prev events could not be had): those take sub-positions
``(count, sub)`` with ``0 < sub < 2**64``, which sort after ``(count, 0)`` and
before ``(count + 1, 0)``, so events can be inserted between two held ones without
renumbering anything (Synapse orders by depth instead; our order is the stream's).

A token is a position between events; backwards from a token includes the events
at or before it, forwards starts after it. ``"N"`` (the shape every token had
before sub-positions) is after every sub-position of count ``N``: ``(N, AFTER_ALL)``;
``"N.S"`` is right after position ``(N, S)``. ``-N`` and ``-N.S`` are negative counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from conduwuit.core.errors import invalid_param
from conduwuit.core.numbers import parse_uint

#: The sub of a token after every sub-position of its count (never an event's).
AFTER_ALL = 1 << 64
#: Room left between two neighbours inserted into a gap at once, so that a later gap
#: between them (a branch of the room's graph) still has room: 2**64 / 2**32 batches
#: of 100 fit under one count, and four levels of nested gaps fit between two.
SPACING = 1 << 32

#: Prefixes a pagination token may carry: ``s`` (a /sync token used to paginate)
#: and ``t`` (the topological shape of other servers' tokens).
PAGINATION_PREFIXES = ("s", "t")


@dataclass(frozen=True, slots=True, order=True)
class TimelinePos:
    """An event's position, or a token's (then ``sub`` may be ``AFTER_ALL``)."""

    count: int
    sub: int = 0

    @classmethod
    def after_count(cls, count: int) -> TimelinePos:
        """The token ``"N"``: after count ``N`` and all its sub-positions."""
        return cls(count, AFTER_ALL)

    def token(self) -> str:
        if self.sub == AFTER_ALL:
            return str(self.count)
        return f"{self.count}.{self.sub}"

    def before(self) -> TimelinePos:
        """The token right before the event at this position."""
        if self.sub > 0:
            return TimelinePos(self.count, self.sub - 1)
        return TimelinePos.after_count(self.count - 1)


def parse_token(token: str) -> TimelinePos:
    """A pagination token: ``N`` or ``N.S``, ``-`` for a negative count; ``N`` may
    carry an ``s`` or ``t`` prefix and anything after a ``_`` is ignored (the shape
    of Synapse's multi-part tokens). A bad token is a 400 ``M_INVALID_PARAM``."""
    negative = token.startswith("-")
    body = token[1:] if negative else token
    if not negative:
        body = (body[1:] if body[:1] in PAGINATION_PREFIXES else body).split("_", 1)[0]
    count_text, dot, sub_text = body.partition(".")
    count = parse_uint(count_text)
    sub = parse_uint(sub_text, AFTER_ALL - 1) if dot else AFTER_ALL
    if count is None or sub is None:
        raise invalid_param(f"Invalid pagination token {token!r}")
    return TimelinePos(-count if negative else count, sub)


def between(lower: TimelinePos | None, upper: TimelinePos, n: int) -> list[TimelinePos]:
    """Up to ``n`` ascending event positions after ``lower`` (the held event before
    a gap, if any) and right below ``upper`` (the event after it), packed against
    ``upper``: history is fetched newest first, so the next batch of the same gap goes
    below this one, and the room left below is the whole count's. Fewer than ``n``
    (the newest ones, nearest ``upper``) only when the two are sub-positions of one
    count with less than ``n`` free between them."""
    if n <= 0:
        return []
    # Below upper within its own count, or under the count before it (free whenever
    # lower is below upper's count: nothing is held between the two).
    ranges: list[tuple[int, int, int]] = []
    if upper.sub > 0:
        lo = lower.sub if lower is not None and lower.count == upper.count else 0
        ranges.append((upper.count, lo, upper.sub))
    if lower is None or lower.count < upper.count:
        below = upper.count - 1
        lo = lower.sub if lower is not None and lower.count == below else 0
        ranges.append((below, lo, 1 << 64))
    if not ranges:
        return []  # lower is not below upper
    count, lo, hi = max(ranges, key=lambda r: min(n, r[2] - r[1] - 1))
    free = hi - lo - 1
    if free <= 0:
        return []
    n = min(n, free)
    step = min(SPACING, (hi - lo) // (n + 1))
    return [TimelinePos(count, hi - step * (n - i)) for i in range(n)]
