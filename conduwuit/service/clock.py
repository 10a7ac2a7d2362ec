"""The injected clock: services take ``clock: Clock`` so tests can move time."""

from __future__ import annotations

import time
from collections.abc import Callable

#: Milliseconds since the Unix epoch.
Clock = Callable[[], int]


def system_clock() -> int:
    return int(time.time() * 1000)
