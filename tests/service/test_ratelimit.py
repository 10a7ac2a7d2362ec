"""The token buckets: all-or-nothing checks over several limiters, and bounded memory."""

from __future__ import annotations

import pytest

from conduwuit.core.errors import MatrixError
from conduwuit.service.ratelimit import SWEEP_INTERVAL_MS, RateLimiter, RateLimits, check_all
from tests.kit.homeserver import FakeClock


def refused(limiter: RateLimiter, key: str) -> MatrixError:
    with pytest.raises(MatrixError) as info:
        limiter.check(key)
    return info.value


def test_retry_after_is_the_wait_for_one_token() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, per_second=0.2, burst=1)
    limiter.check("a")
    err = refused(limiter, "a")
    body = err.to_json()
    assert (err.status, body["errcode"]) == (429, "M_LIMIT_EXCEEDED")
    assert 4900 < body["retry_after_ms"] <= 5001
    assert err.headers == {"Retry-After": "6"}
    clock.advance(body["retry_after_ms"] - 2)
    assert limiter.retry_after_ms("a") is not None
    clock.advance(2)
    assert limiter.retry_after_ms("a") is None
    limiter.check("a")


def test_check_all_takes_from_none_when_one_is_empty() -> None:
    clock = FakeClock()
    sent = RateLimiter(clock, per_second=1, burst=3)
    received = RateLimiter(clock, per_second=0.01, burst=1)
    check_all((sent, "alice"), (received, "bob"))
    with pytest.raises(MatrixError) as info:
        check_all((sent, "alice"), (received, "bob"))
    # The longest wait is the one reported.
    assert info.value.extra["retry_after_ms"] > 99_000
    # alice's bucket paid for the first invite only: two left.
    check_all((sent, "alice"), (received, "carol"))
    check_all((sent, "alice"), (received, "dave"))
    assert sent.retry_after_ms("alice") is not None


def test_zero_rate_disables_and_keeps_nothing() -> None:
    limiter = RateLimiter(FakeClock(), per_second=0, burst=1)
    for i in range(50):
        limiter.check(f"k{i}")
    assert len(limiter) == 0


def test_full_buckets_are_swept() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, per_second=1, burst=2)
    for i in range(100):
        limiter.check(f"ip:{i}")
    assert len(limiter) == 100
    # After the sweep interval every bucket has refilled; the next take sweeps them.
    clock.advance(SWEEP_INTERVAL_MS)
    limiter.check("ip:new")
    assert len(limiter) == 1


def test_map_never_exceeds_its_cap_under_a_flood() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, per_second=0.001, burst=2, max_buckets=100)
    limiter.check("old")
    limiter.check("old")  # empty, and it stays so for the whole flood
    for i in range(1000):  # distinct keys, none refilled: only eviction bounds the map
        limiter.check(f"ip:{i}")
        assert len(limiter) <= 100
    # The least recently used went first: "old" was forgotten, recent keys kept.
    assert limiter.retry_after_ms("old") is None
    limiter.check("ip:999")
    assert limiter.retry_after_ms("ip:999") is not None


def test_rate_limits_exempt_and_per_user() -> None:
    clock = FakeClock()
    admins = {"@admin:x"}
    limits = RateLimits(
        *(RateLimiter(clock, per_second=0.1, burst=1) for _ in range(8)),
        exempt=lambda user: user in admins,
    )
    limits.user(limits.messages, "@u:x")
    with pytest.raises(MatrixError):
        limits.user(limits.messages, "@u:x")
    limits.user(limits.messages, "@v:x")  # another user has their own bucket
    limits.user(limits.typing, "@u:x")  # another action has its own limiter
    for _ in range(5):
        limits.user(limits.messages, "@admin:x")
        limits.invite("@admin:x", "@u:x")
    limits.invite("@u:x", "@v:x")
    with pytest.raises(MatrixError):
        limits.invite("@w:x", "@v:x")  # @v has received its burst of invites
