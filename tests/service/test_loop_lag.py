"""The loop-lag monitor records how late its probe wakes while the loop is held."""

from __future__ import annotations

import asyncio
import time

from conduwuit.service.loop_lag import LoopLag


async def _wait_for_samples(monitor: LoopLag, count: int) -> None:
    for _ in range(200):
        if monitor.take()["samples"] >= count:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the probe never woke")


async def test_a_held_loop_shows_as_lag_and_reset_starts_a_new_window() -> None:
    monitor = LoopLag(interval_s=0.001)
    monitor.start()
    try:
        await _wait_for_samples(monitor, 1)
        before = monitor.take()["samples"]
        time.sleep(0.06)  # noqa: ASYNC251 -- hold the loop, as a long synchronous computation would
        await _wait_for_samples(monitor, before + 1)
        held = monitor.take(reset=True)
        assert held["max_ms"] >= 50
        assert held["over_budget"] >= 1
        # the thread slept in time.sleep: lag, but not CPU the loop's thread spent
        assert held["cpu_max_ms"] < held["max_ms"]
        assert held["running"] is True
        fresh = monitor.take()
        assert fresh["samples"] == 0 and fresh["max_ms"] == 0.0
    finally:
        await monitor.stop()
    assert monitor.take()["running"] is False


def test_percentile_and_max_over_recorded_lags() -> None:
    monitor = LoopLag()
    for ms in range(1, 101):
        monitor.record(ms / 1000)
    monitor.record(-0.001)  # a probe that woke early counts as no lag
    figures = monitor.take()
    assert figures["samples"] == 101
    assert figures["max_ms"] == 100.0
    assert figures["p99_ms"] == 99.0
    assert figures["p50_ms"] == 50.0
    assert figures["over_budget"] == 80  # 21 ms .. 100 ms
    assert figures["cpu_max_ms"] == 100.0  # recorded without CPU figures: all of it counts


def test_few_samples_have_no_99th_percentile() -> None:
    """Under 100 wake-ups the 99th percentile would just repeat the maximum."""
    monitor = LoopLag()
    for ms in range(1, 100):
        monitor.record(ms / 1000)
    figures = monitor.take()
    assert figures["p99_ms"] is None and figures["max_ms"] == 99.0


def test_lag_the_thread_did_not_spend_on_the_cpu_is_not_ours() -> None:
    monitor = LoopLag()
    monitor.record(0.080, cpu_s=0.004)  # the process waited for a CPU
    monitor.record(0.030, cpu_s=0.040)  # code held the loop
    figures = monitor.take(reset=True)
    assert figures["max_ms"] == 80.0 and figures["cpu_max_ms"] == 30.0
    assert monitor.take()["cpu_max_ms"] == 0.0


def test_the_histogram_counts_every_wake_up_since_start_across_resets() -> None:
    monitor = LoopLag()
    for lag_s in (0.0005, 0.003, 0.003, 0.07, 9.0):
        monitor.record(lag_s)
    monitor.take(reset=True)  # the admin endpoint's window; the histogram keeps counting
    monitor.record(0.02)
    # Buckets (not cumulative): <=1 ms, <=5 ms, <=10, <=20, <=50, <=100, ..., +Inf.
    assert monitor.histogram == [1, 2, 0, 1, 0, 1, 0, 0, 0, 0, 1]
    assert abs(monitor.total_lag_s - 9.0965) < 1e-9
