"""Per-destination exponential backoff after failures: the first failure waits
``base_ms``, each further one twice as long, up to ``max_ms``; a success resets it.

One instance is shared by every caller that talks to the same kind of destination
(the federation client's, for servers; the appservice sender's, for services).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conduwuit.service.clock import Clock

#: Backoff after the first failure, doubled per further failure up to the cap.
BACKOFF_BASE_MS = 5_000
BACKOFF_MAX_MS = 24 * 60 * 60 * 1000


@dataclass
class _Failures:
    count: int = 0
    retry_at_ms: int = 0


@dataclass
class Backoff:
    """Per-destination exponential backoff after failures, shared by all callers."""

    clock: Clock
    base_ms: int = BACKOFF_BASE_MS
    max_ms: int = BACKOFF_MAX_MS
    #: Destinations remembered at most (the longest known forgotten first), when the
    #: keys come from outside (event IDs a client names).
    max_entries: int | None = None
    _state: dict[str, _Failures] = field(default_factory=dict)

    def retry_at(self, destination: str) -> int | None:
        """When ``destination`` may be tried again, if it is backing off now."""
        state = self._state.get(destination)
        if state is None or state.retry_at_ms <= self.clock():
            return None
        return state.retry_at_ms

    def retry_in_s(self, destination: str) -> float:
        """Seconds until ``destination`` may be tried again (0.0: now)."""
        retry_at = self.retry_at(destination)
        return 0.0 if retry_at is None else max(0.0, (retry_at - self.clock()) / 1000)

    def failed(self, destination: str) -> None:
        state = self._state.setdefault(destination, _Failures())
        delay = min(self.base_ms * 2 ** min(state.count, 32), self.max_ms)
        state.count += 1
        state.retry_at_ms = self.clock() + delay
        if self.max_entries is not None:
            while len(self._state) > self.max_entries:
                del self._state[next(iter(self._state))]

    def succeeded(self, destination: str) -> None:
        self._state.pop(destination, None)
