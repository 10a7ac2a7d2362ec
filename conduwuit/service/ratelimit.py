"""Token-bucket rate limits keyed by client address or account, in memory."""

from __future__ import annotations

from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.service.clock import Clock

#: Buckets kept before idle full ones are dropped (bounds memory under a flood).
MAX_BUCKETS = 100_000


class RateLimiter:
    """``per_second`` sustained, ``burst`` at once; ``per_second == 0`` disables."""

    def __init__(self, clock: Clock, *, per_second: float, burst: int) -> None:
        self._clock = clock
        self._rate = per_second
        self._burst = float(burst)
        self._buckets: dict[str, tuple[float, int]] = {}

    @property
    def enabled(self) -> bool:
        return self._rate > 0

    def check(self, *keys: str) -> None:
        """Take one token from each key's bucket, or raise 429 M_LIMIT_EXCEEDED."""
        if not self.enabled:
            return
        self.require(*keys)
        self.record(*keys)

    def require(self, *keys: str) -> None:
        """Raise 429 M_LIMIT_EXCEEDED if a key's bucket is empty; take nothing (for
        limits on failures, recorded only when the attempt fails)."""
        if not self.enabled:
            return
        now = self._clock()
        for k in keys:
            level = self._level(k, now)
            if level < 1:
                retry_after = int((1 - level) / self._rate * 1000) + 1
                raise MatrixError(
                    ErrCode.LIMIT_EXCEEDED,
                    "Too many requests; try again later.",
                    retry_after_ms=retry_after,
                    headers={"Retry-After": str(retry_after // 1000 + 1)},
                )

    def record(self, *keys: str) -> None:
        """Take one token from each key's bucket (never below empty)."""
        if not self.enabled:
            return
        now = self._clock()
        levels = {k: self._level(k, now) for k in keys}
        if len(self._buckets) > MAX_BUCKETS:
            self._prune(now)
        for k, level in levels.items():
            self._buckets[k] = (max(0.0, level - 1), now)

    def _level(self, k: str, now: int) -> float:
        level, at = self._buckets.get(k, (self._burst, now))
        return min(self._burst, level + (now - at) / 1000 * self._rate)

    def _prune(self, now: int) -> None:
        for k in [k for k in self._buckets if self._level(k, now) >= self._burst]:
            del self._buckets[k]
