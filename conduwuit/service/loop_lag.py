"""An opt-in monitor of event-loop stalls: how late a sleeping task wakes up.

A task sleeps ``interval`` seconds again and again and records by how much each
wake-up overshot. Anything that holds the loop (CPU work, a blocking call) shows
up as lag, whoever caused it, so the figure is honest about the whole process.
DESIGN.md's budget is no stall over 20 ms. Off by default (``loop_lag_monitor``);
``take`` gives the figures since the last reset, the admin endpoint serves them.

On a shared machine the process itself may wait for a CPU; that is lag too, but not
ours. So each wake-up also records how much CPU the loop's thread used meanwhile
(``time.thread_time``): ``cpu_max_ms``, the longest lag during which the thread was
on the CPU, bounds the stall our own code caused. Percentiles need samples: with
fewer than 100 wake-ups in a window the 99th percentile is just the maximum, so it
is reported as ``None`` then.

With ``allow_metrics`` the probe also runs (every 50 ms unless ``loop_lag_monitor``
asks for 5): every wake-up since start goes into a histogram that is never reset,
which the metrics export as ``conduwuit_event_loop_lag_seconds``.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from conduwuit.service.stall_trace import StallTracer

log = logging.getLogger(__name__)

#: How long the probe sleeps between wake-ups, in seconds.
INTERVAL_S = 0.005
#: Wake-ups kept for the percentile (at 5 ms, the last ~8 minutes).
MAX_SAMPLES = 100_000
#: Fewer wake-ups than this and a 99th percentile says nothing the maximum does not.
MIN_FOR_P99 = 100
#: DESIGN.md's budget: lags longer than this are counted (``over_budget``).
BUDGET_S = 0.020
#: Upper bounds (seconds) of the cumulative lag histogram the metrics export.
HISTOGRAM_BOUNDS_S = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


class LoopLag:
    def __init__(
        self,
        interval_s: float = INTERVAL_S,
        clock: Callable[[], float] = time.perf_counter,
        cpu_clock: Callable[[], float] = time.thread_time,
        trace_over_s: float | None = None,
    ) -> None:
        self.interval_s = interval_s
        #: Logs the stacks of stalls longer than ``trace_over_s`` (``loop_lag_trace_ms``).
        self.tracer = (
            StallTracer(trace_over_s, interval_s, clock=clock) if trace_over_s is not None else None
        )
        self._clock = clock
        self._cpu_clock = cpu_clock
        self._samples: deque[float] = deque(maxlen=MAX_SAMPLES)
        self._max_s = 0.0
        self._cpu_max_s = 0.0
        self._over_budget = 0
        self._count = 0
        self._total_max_s = 0.0
        #: Wake-ups since start per ``HISTOGRAM_BOUNDS_S`` bucket (+Inf last), never
        #: reset, and their total lag: what a Prometheus histogram needs.
        self.histogram = [0] * (len(HISTOGRAM_BOUNDS_S) + 1)
        self.total_lag_s = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")
            if self.tracer is not None:
                self.tracer.start()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        if self.tracer is not None:
            self.tracer.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        log.info("event loop lag since start: max %.1f ms", self._total_max_s * 1000)

    async def _run(self) -> None:
        while True:
            before, cpu_before = self._clock(), self._cpu_clock()
            await asyncio.sleep(self.interval_s)
            if self.tracer is not None:
                self.tracer.beat()
            lag_s = self._clock() - before - self.interval_s
            self.record(lag_s, self._cpu_clock() - cpu_before)

    def record(self, lag_s: float, cpu_s: float | None = None) -> None:
        """One wake-up ``lag_s`` late, the loop's thread having used ``cpu_s`` of CPU
        since it went to sleep (None: as much as the lag)."""
        lag_s = max(lag_s, 0.0)
        self._samples.append(lag_s)
        self._count += 1
        self._max_s = max(self._max_s, lag_s)
        self._cpu_max_s = max(self._cpu_max_s, lag_s if cpu_s is None else min(lag_s, cpu_s))
        self._over_budget += lag_s > BUDGET_S
        self._total_max_s = max(self._total_max_s, lag_s)
        self.histogram[bisect.bisect_left(HISTOGRAM_BOUNDS_S, lag_s)] += 1
        self.total_lag_s += lag_s

    def take(self, *, reset: bool = False) -> dict[str, Any]:
        """Wake-ups since the last reset: their count, the longest lag, the longest lag the
        loop's thread spent on the CPU, the median and 99th percentile (ms; p99 None under
        ``MIN_FOR_P99`` wake-ups), and how many were over budget. With ``reset``, the next
        call counts from now."""
        ordered = sorted(self._samples)
        figures = {
            "interval_ms": round(self.interval_s * 1000, 3),
            "samples": self._count,
            "max_ms": round(self._max_s * 1000, 2),
            "cpu_max_ms": round(self._cpu_max_s * 1000, 2),
            "p50_ms": round(_rank(ordered, 0.50) * 1000, 2),
            "p99_ms": (
                round(_rank(ordered, 0.99) * 1000, 2) if len(ordered) >= MIN_FOR_P99 else None
            ),
            "over_budget": self._over_budget,
            "running": self.running,
        }
        if reset:
            self._samples.clear()
            self._count = 0
            self._max_s = 0.0
            self._cpu_max_s = 0.0
            self._over_budget = 0
        return figures


def _rank(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of sorted values (0 for none)."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(math.ceil(fraction * len(ordered)) - 1, 0))]
