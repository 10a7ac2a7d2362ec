"""The stall tracer logs what the loop's thread was doing while the loop was held."""

from __future__ import annotations

import asyncio
import gc
import logging
import time

import pytest

from conduwuit.service.loop_lag import LoopLag


def _hold_the_loop(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        sum(range(1000))


async def test_a_stall_is_logged_with_the_stack_that_held_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    monitor = LoopLag(interval_s=0.002, trace_over_s=0.010)
    caplog.set_level(logging.WARNING, logger="conduwuit.service.stall_trace")
    monitor.start()
    try:
        await asyncio.sleep(0.02)
        _hold_the_loop(0.08)
        for _ in range(100):
            await asyncio.sleep(0.005)
            if monitor.tracer is not None and monitor.tracer.reported:
                break
    finally:
        await monitor.stop()
    held = [r.getMessage() for r in caplog.records if "event loop held" in r.getMessage()]
    assert held, "no stall was reported"
    assert any("_hold_the_loop" in message for message in held)
    assert monitor.tracer is not None and monitor.tracer._on_gc not in gc.callbacks
