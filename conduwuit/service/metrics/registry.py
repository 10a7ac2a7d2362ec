"""The metrics of one server: a registry of its own (never prometheus_client's global
one, so two servers in one process keep theirs apart) over the live services."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from conduwuit.db import Database
from conduwuit.service.federation.inbound import InboundTransactions
from conduwuit.service.federation.sender import FederationSender
from conduwuit.service.loop_lag import LoopLag
from conduwuit.service.metrics import collectors
from conduwuit.service.metrics.requests import RequestStats
from conduwuit.service.notifier import Notifier


@dataclass(frozen=True)
class MetricSources:
    """The live state the metrics read when scraped."""

    db: Database
    notifier: Notifier
    sender: FederationSender
    inbound: InboundTransactions
    #: The event-loop probe (None: no lag figures).
    loop_lag: LoopLag | None
    #: Entries of each in-memory cache, by cache name.
    caches: Mapping[str, Callable[[], int]]


class _Lazy(Collector):
    """A collector that reads its figures only when scraped."""

    def __init__(self, read: Callable[[], Iterable[Metric]]) -> None:
        self._read = read

    def collect(self) -> Iterable[Metric]:
        return self._read()


class Metrics:
    def __init__(self, sources: MetricSources) -> None:
        self.requests = RequestStats()
        self.registry = CollectorRegistry(auto_describe=False)
        reads: list[Callable[[], Iterable[Metric]]] = [
            self.requests.collect,
            lambda: collectors.sync(sources.notifier),
            lambda: collectors.federation(sources.sender, sources.inbound),
            lambda: collectors.database(sources.db),
            lambda: collectors.caches(sources.caches),
        ]
        lag = sources.loop_lag
        if lag is not None:
            reads.append(lambda: collectors.loop_lag(lag))
        for read in reads:
            self.registry.register(_Lazy(read))
        # process_resident_memory_bytes, process_cpu_seconds_total, open fds... (Linux /proc).
        ProcessCollector(registry=self.registry)

    def render(self) -> bytes:
        """The text exposition format of every metric, read now."""
        return generate_latest(self.registry)
