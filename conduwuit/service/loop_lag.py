"""An opt-in monitor of event-loop stalls: how late a sleeping task wakes up.

A task sleeps ``interval`` seconds again and again and records by how much each
wake-up overshot. Anything that holds the loop (CPU work, a blocking call) shows
up as lag, whoever caused it, so the figure is honest about the whole process.
DESIGN.md's budget is no stall over 20 ms. Off by default (``loop_lag_monitor``);
``take`` gives the figures since the last reset, the admin endpoint serves them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: How long the probe sleeps between wake-ups, in seconds.
INTERVAL_S = 0.005
#: Wake-ups kept for the percentile (at 5 ms, the last ~8 minutes).
MAX_SAMPLES = 100_000


class LoopLag:
    def __init__(
        self, interval_s: float = INTERVAL_S, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._samples: deque[float] = deque(maxlen=MAX_SAMPLES)
        self._max_s = 0.0
        self._count = 0
        self._total_max_s = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        log.info("event loop lag since start: max %.1f ms", self._total_max_s * 1000)

    async def _run(self) -> None:
        while True:
            before = self._clock()
            await asyncio.sleep(self.interval_s)
            self.record(self._clock() - before - self.interval_s)

    def record(self, lag_s: float) -> None:
        lag_s = max(lag_s, 0.0)
        self._samples.append(lag_s)
        self._count += 1
        self._max_s = max(self._max_s, lag_s)
        self._total_max_s = max(self._total_max_s, lag_s)

    def take(self, *, reset: bool = False) -> dict[str, Any]:
        """Wake-ups since the last reset: their count, the longest and the 99th percentile
        lag (ms). With ``reset``, the next call counts from now."""
        ordered = sorted(self._samples)
        p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)] if ordered else 0.0
        figures = {
            "interval_ms": round(self.interval_s * 1000, 3),
            "samples": self._count,
            "max_ms": round(self._max_s * 1000, 2),
            "p99_ms": round(p99 * 1000, 2),
            "running": self.running,
        }
        if reset:
            self._samples.clear()
            self._count = 0
            self._max_s = 0.0
        return figures
