"""Requests by endpoint and status, and their latency: the only figures counted as
they happen, so the cheapest possible: a dict lookup, two integer increments and a
bisect per request. Prometheus metric objects are made from them at scrape time."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

#: Latency bucket bounds (seconds). Long-polls (/sync, up to its timeout) land high.
LATENCY_BOUNDS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

REQUESTS = "conduwuit_http_requests"
LATENCY = "conduwuit_http_request_duration_seconds"


@dataclass
class _Latency:
    #: Requests per bucket of ``LATENCY_BOUNDS_S`` (not cumulative), +Inf last.
    buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BOUNDS_S) + 1))
    total_s: float = 0.0


def histogram_buckets(bounds: Iterable[float], counts: list[int]) -> list[tuple[str, float]]:
    """Prometheus's cumulative ``le`` buckets (``+Inf`` last) from per-bucket counts."""
    out: list[tuple[str, float]] = []
    running = 0
    for bound, n in zip([*map(str, bounds), "+Inf"], counts, strict=True):
        running += n
        out.append((bound, float(running)))
    return out


class RequestStats:
    """Counts since start of (method, endpoint template, status), and the latency of
    (method, endpoint template)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, int], int] = {}
        self._latency: dict[tuple[str, str], _Latency] = {}

    def observe(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        key = (method, endpoint, status)
        self._counts[key] = self._counts.get(key, 0) + 1
        latency = self._latency.get((method, endpoint))
        if latency is None:
            latency = self._latency[(method, endpoint)] = _Latency()
        latency.buckets[bisect.bisect_left(LATENCY_BOUNDS_S, seconds)] += 1
        latency.total_s += seconds

    def collect(self) -> Iterable[Metric]:
        # Imported on the first scrape: a server without metrics never loads it.
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        requests = CounterMetricFamily(
            REQUESTS,
            "HTTP requests by method, endpoint (route template) and status",
            labels=("method", "endpoint", "status"),
        )
        for (method, endpoint, status), n in list(self._counts.items()):
            requests.add_metric((method, endpoint, str(status)), n)
        latency = HistogramMetricFamily(
            LATENCY,
            "Time from a request's arrival to its response, by method and endpoint",
            labels=("method", "endpoint"),
        )
        for (method, endpoint), figures in list(self._latency.items()):
            buckets = histogram_buckets(LATENCY_BOUNDS_S, figures.buckets)
            latency.add_metric((method, endpoint), buckets, figures.total_s)
        return [requests, latency]
