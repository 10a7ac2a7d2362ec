"""Token-bucket rate limits keyed by client address or account, in memory."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.service.clock import Clock

#: Buckets kept before idle full ones are dropped (bounds memory under a flood).
MAX_BUCKETS = 100_000

#: How often (ms) buckets that have filled up again are swept away (Synapse: a minute).
SWEEP_INTERVAL_MS = 60_000


class RateLimiter:
    """``per_second`` sustained, ``burst`` at once; ``per_second == 0`` disables.

    Memory: a bucket that has refilled is the same as no bucket, so such buckets are
    swept away at most every ``SWEEP_INTERVAL_MS``; and the map never holds more than
    ``max_buckets``: past that, the full ones go and then the least recently used
    (a flood from that many keys loses its history, never the server its memory).
    """

    def __init__(
        self, clock: Clock, *, per_second: float, burst: int, max_buckets: int = MAX_BUCKETS
    ) -> None:
        self._clock = clock
        self._rate = per_second
        self._burst = float(burst)
        self._max = max_buckets
        #: key -> (tokens left, when); ordered oldest update first.
        self._buckets: dict[str, tuple[float, int]] = {}
        self._swept_at = clock()

    @property
    def enabled(self) -> bool:
        return self._rate > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def check(self, *keys: str) -> None:
        """Take one token from each key's bucket, or raise 429 M_LIMIT_EXCEEDED."""
        check_all(*((self, k) for k in keys))

    def require(self, *keys: str) -> None:
        """Raise 429 M_LIMIT_EXCEEDED if a key's bucket is empty; take nothing (for
        limits on failures, recorded only when the attempt fails)."""
        refusal = _refusal([(self, k) for k in keys])
        if refusal is not None:
            raise refusal

    def record(self, *keys: str) -> None:
        """Take one token from each key's bucket (never below empty)."""
        for k in keys:
            self.take(k)

    def retry_after_ms(self, key: str) -> int | None:
        """Milliseconds until ``key`` has a token again; None when it has one now."""
        if not self.enabled:
            return None
        level = self._level(key, self._clock())
        if level >= 1:
            return None
        return int((1 - level) / self._rate * 1000) + 1

    def take(self, key: str) -> None:
        """Take one token from ``key``'s bucket (after ``retry_after_ms`` said yes)."""
        if not self.enabled:
            return
        now = self._clock()
        level = self._level(key, now)
        self._buckets.pop(key, None)  # re-insert last: the dict order is recency
        self._buckets[key] = (max(0.0, level - 1), now)
        if now - self._swept_at >= SWEEP_INTERVAL_MS or len(self._buckets) > self._max:
            self._prune(now)

    def _level(self, k: str, now: int) -> float:
        level, at = self._buckets.get(k, (self._burst, now))
        return min(self._burst, level + (now - at) / 1000 * self._rate)

    def _prune(self, now: int) -> None:
        self._swept_at = now
        for k in [k for k in self._buckets if self._level(k, now) >= self._burst]:
            del self._buckets[k]
        if len(self._buckets) > self._max * 3 // 4:
            # Still crowded: drop the least recently used down to three quarters, so
            # the next prune is at least a quarter of the map's inserts away.
            excess = len(self._buckets) - self._max * 3 // 4
            for k in list(self._buckets)[:excess]:
                del self._buckets[k]


def check_all(*checks: tuple[RateLimiter, str]) -> None:
    """Take one token per (limiter, key), or none at all and raise 429 M_LIMIT_EXCEEDED.

    The reply carries ``retry_after_ms`` (the longest wait among the empty buckets)
    and a ``Retry-After`` header in seconds, as the login limit always has.
    """
    refusal = _refusal(checks)
    if refusal is not None:
        raise refusal
    for limiter, key in checks:
        limiter.take(key)


def _refusal(checks: Iterable[tuple[RateLimiter, str]]) -> MatrixError | None:
    waits = [w for limiter, key in checks if (w := limiter.retry_after_ms(key)) is not None]
    if not waits:
        return None
    retry_after = max(waits)
    return MatrixError(
        ErrCode.LIMIT_EXCEEDED,
        "Too many requests; try again later.",
        retry_after_ms=retry_after,
        headers={"Retry-After": str(retry_after // 1000 + 1)},
    )


@dataclass(frozen=True)
class RateLimits:
    """The client API's per-action limits (Synapse's ``rc_*``), beside login's and
    registration's, and who is exempt from the per-user ones.

    Keys are ``user:<mxid>`` or ``ip:<address>``; each limiter has its own buckets.
    """

    messages: RateLimiter
    room_creation: RateLimiter
    joins: RateLimiter
    invites: RateLimiter
    invites_received: RateLimiter
    typing: RateLimiter
    presence: RateLimiter
    refresh: RateLimiter
    #: Users no per-user limit applies to: the server admins, and the users of
    #: application services registered with ``rate_limited: false`` (as Synapse;
    #: Synapse's per-user overrides through its admin API do not exist here).
    exempt: Callable[[str], bool]

    def user(self, limiter: RateLimiter, user_id: str) -> None:
        """Charge one action to ``user_id`` on ``limiter`` (or raise 429)."""
        if limiter.enabled and not self.exempt(user_id):
            limiter.check(f"user:{user_id}")

    def invite(self, sender: str, target: str) -> None:
        """One invite: charged to the inviter and to the invited user, both or neither
        (Synapse's ``rc_invites.per_issuer`` and ``rc_invites.per_user``)."""
        if self.exempt(sender):
            return
        check_all((self.invites, f"user:{sender}"), (self.invites_received, f"user:{target}"))
