"""Long computations on the event loop that give way to other tasks.

Building a big response (an initial /sync of hundreds of rooms) is CPU work in
small steps. Between steps the builder calls ``await give_way.pause()``; once
``budget_s`` has passed since the loop last ran other tasks, that yields to the loop,
so no request waits longer than about one budget plus one step (DESIGN.md: no
loop stall over 20 ms).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: How long a builder may keep the loop between yields, in seconds.
BUDGET_S = 0.004


class GiveWay:
    def __init__(
        self,
        budget_s: float = BUDGET_S,
        clock: Callable[[], float] = time.perf_counter,
        cpu_clock: Callable[[], float] = time.thread_time,
    ) -> None:
        self.budget_s = budget_s
        self._clock = clock
        self._cpu_clock = cpu_clock
        self._since = clock()
        self._cpu_since = cpu_clock()
        #: How many times this builder yielded (for tests and curiosity).
        self.yields = 0
        #: The longest stretch between yields, wall-clock and CPU time of the loop's
        #: thread (a stretch far longer than its CPU time: the process waited for a CPU).
        self.longest_s = 0.0
        self.longest_cpu_s = 0.0

    async def pause(self) -> None:
        held = self._clock() - self._since
        if held >= self.budget_s:
            self.longest_s = max(self.longest_s, held)
            self.longest_cpu_s = max(self.longest_cpu_s, self._cpu_clock() - self._cpu_since)
            await asyncio.sleep(0)
            self.yields += 1
            self._since = self._clock()
            self._cpu_since = self._cpu_clock()
