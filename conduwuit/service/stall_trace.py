"""Where event-loop stalls come from: the stacks of the loop's thread while it is held.

The loop-lag monitor says *that* the loop was held; this says *by what*. A watchdog
thread looks every ``sample_s`` at the probe's last heartbeat; while the probe is
late by more than ``threshold_s``, it samples the loop thread's Python stack
(``sys._current_frames``). When the stall ends, one warning names its length, how
much of it the loop's thread was on the CPU (the rest the process waited for a CPU
or the GIL: not the code's doing), and the stacks seen, the most frequent first.
Cyclic garbage collections that take longer than half the threshold are logged too
(``gc.callbacks``): a collection runs inside whatever allocated last, so its stack
alone would blame the wrong code.

For diagnosis only (``loop_lag_trace_ms``): the sampler takes the GIL every few
milliseconds, which costs the server a little throughput.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: How often the watchdog looks at the heartbeat, in seconds.
SAMPLE_S = 0.002
#: Innermost frames kept of each sampled stack.
DEPTH = 10


class StallTracer:
    def __init__(
        self,
        threshold_s: float,
        expected_s: float,
        sample_s: float = SAMPLE_S,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.threshold_s = threshold_s
        #: How long the probe sleeps between heartbeats (not counted as lag).
        self.expected_s = expected_s
        self.sample_s = sample_s
        self._clock = clock
        self._beat = clock()
        self._beat_cpu = time.thread_time()
        self._loop_thread = threading.get_ident()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._gc_started = 0.0
        #: Stalls logged so far (for tests).
        self.reported = 0

    def beat(self) -> None:
        """Called by the probe on the loop's thread each time it wakes."""
        self._beat_cpu = time.thread_time()
        self._beat = self._clock()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._loop_thread = threading.get_ident()
        self._beat_cpu = time.thread_time()
        self._beat = self._clock()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="stall-trace", daemon=True)
        self._thread.start()
        gc.callbacks.append(self._on_gc)

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        self._stop.set()
        thread.join()

    def _run(self) -> None:
        cpu_clock = time.pthread_getcpuclockid(self._loop_thread)
        stacks: Counter[tuple[str, ...]] = Counter()
        stalled_beat: float | None = None
        stalled_cpu = 0.0
        while not self._stop.wait(self.sample_s):
            beat, beat_cpu = self._beat, self._beat_cpu
            late = self._clock() - beat - self.expected_s
            if stalled_beat is not None and beat != stalled_beat:
                cpu_s = time.clock_gettime(cpu_clock) - stalled_cpu
                self._report(beat - stalled_beat - self.expected_s, cpu_s, stacks)
                stacks.clear()
                stalled_beat = None
            if late > self.threshold_s:
                if stalled_beat is None:
                    stalled_cpu = beat_cpu
                stalled_beat = beat
                frame = sys._current_frames().get(self._loop_thread)
                if frame is not None:
                    stacks[_summary(frame)] += 1

    def _report(self, stall_s: float, cpu_s: float, stacks: Counter[tuple[str, ...]]) -> None:
        self.reported += 1
        lines = [
            f"event loop held {stall_s * 1000:.1f} ms (its thread on the CPU for at most "
            f"{cpu_s * 1000:.1f} ms); {sum(stacks.values())} samples:"
        ]
        for stack, count in stacks.most_common(3):
            lines.append(f"  x{count}:")
            lines.extend(f"    {frame}" for frame in stack)
        log.warning("%s", "\n".join(lines))

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if threading.get_ident() != self._loop_thread:
            return
        # CPU time of this thread: a collection the process was descheduled in is not slow
        if phase == "start":
            self._gc_started = time.thread_time()
            return
        took = time.thread_time() - self._gc_started
        if took > self.threshold_s / 2:
            log.warning(
                "gc generation %s took %.1f ms of CPU (collected %s, uncollectable %s)",
                info.get("generation"),
                took * 1000,
                info.get("collected"),
                info.get("uncollectable"),
            )


def _summary(frame: Any) -> tuple[str, ...]:
    summary = traceback.extract_stack(frame)[-DEPTH:]
    return tuple(f"{'/'.join(f.filename.rsplit('/', 2)[-2:])}:{f.lineno} {f.name}" for f in summary)
