"""The injected clock: services take ``clock: Clock`` so tests can move time."""

from __future__ import annotations

import time
from collections.abc import Callable

#: Milliseconds since the Unix epoch.
Clock = Callable[[], int]


def system_clock() -> int:
    return int(time.time() * 1000)


def monotonic_clock() -> int:
    """Milliseconds of the monotonic clock: for waits the event loop sleeps out (a
    backoff), which must neither jump with the wall clock nor stop with a test's."""
    return int(time.monotonic() * 1000)
