"""What the metrics read from the live services at scrape time: each function turns
one area's current state into Prometheus metric families, so serving requests pays
nothing for them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric

from conduwuit.db import Database
from conduwuit.service.federation.inbound import InboundTransactions
from conduwuit.service.federation.sender import FederationSender
from conduwuit.service.loop_lag import HISTOGRAM_BOUNDS_S, LoopLag
from conduwuit.service.metrics.requests import histogram_buckets
from conduwuit.service.notifier import Notifier

#: RocksDB properties read per map, with the metric each becomes (all cheap: RocksDB
#: keeps these figures; no property here scans data).
MAP_PROPERTIES = {
    "rocksdb.estimate-num-keys": (
        "conduwuit_rocksdb_estimated_keys",
        "Estimated number of keys of a column family (a large map's own, or shared)",
    ),
    "rocksdb.cur-size-all-mem-tables": (
        "conduwuit_rocksdb_memtable_bytes",
        "Size of a column family's memtables, active and unflushed",
    ),
    "rocksdb.total-sst-files-size": (
        "conduwuit_rocksdb_sst_files_bytes",
        "Size of a column family's SST files on disk",
    ),
}
#: Database-wide properties (the block cache is shared by every map).
DB_PROPERTIES = {
    "rocksdb.block-cache-usage": (
        "conduwuit_rocksdb_block_cache_usage_bytes",
        "Memory held by the RocksDB block cache",
    ),
    "rocksdb.block-cache-capacity": (
        "conduwuit_rocksdb_block_cache_capacity_bytes",
        "Capacity of the RocksDB block cache (db_cache_capacity_mb)",
    ),
}


def loop_lag(monitor: LoopLag) -> Iterable[Metric]:
    family = HistogramMetricFamily(
        "conduwuit_event_loop_lag_seconds",
        "How late the event loop's probe woke up (a stalled loop delays every request)",
    )
    family.add_metric(
        (), histogram_buckets(HISTOGRAM_BOUNDS_S, monitor.histogram), monitor.total_lag_s
    )
    return [family]


def sync(notifier: Notifier) -> Iterable[Metric]:
    return [
        GaugeMetricFamily(
            "conduwuit_sync_waiters",
            "Long-polls (/sync, sliding sync) waiting for something to happen",
            value=notifier.waiting,
        )
    ]


def federation(sender: FederationSender, inbound: InboundTransactions) -> Iterable[Metric]:
    depth = GaugeMetricFamily(
        "conduwuit_federation_queue_depth",
        "PDUs and EDUs queued for a destination, not yet acknowledged",
        labels=("destination",),
    )
    for server, n in sorted(sender.queue_depths().items()):
        depth.add_metric((server,), n)
    failures = CounterMetricFamily(
        "conduwuit_federation_send_failures",
        "Failed transaction attempts to a destination since start (errors, timeouts, refusals)",
        labels=("destination",),
    )
    for server, n in sorted(sender.failures.items()):
        failures.add_metric((server,), n)
    return [
        depth,
        failures,
        GaugeMetricFamily(
            "conduwuit_federation_incoming_transactions",
            "Transactions other servers sent that are being processed",
            value=inbound.transactions_running(),
        ),
        GaugeMetricFamily(
            "conduwuit_federation_incoming_pdus",
            "Received PDUs being checked and persisted",
            value=len(inbound.handling()),
        ),
    ]


def database(db: Database) -> Iterable[Metric]:
    by_map = db.map_properties(list(MAP_PROPERTIES))
    families: list[Metric] = []
    for prop, (name, doc) in MAP_PROPERTIES.items():
        family = GaugeMetricFamily(name, doc, labels=("map",))
        for map_name, values in sorted(by_map.items()):
            if prop in values:
                family.add_metric((map_name,), values[prop])
        families.append(family)
    whole = db.properties(list(DB_PROPERTIES))
    for prop, (name, doc) in DB_PROPERTIES.items():
        if prop in whole:
            families.append(GaugeMetricFamily(name, doc, value=whole[prop]))
    return families


def caches(sizes: Mapping[str, Callable[[], int]]) -> Iterable[Metric]:
    family = GaugeMetricFamily(
        "conduwuit_cache_entries", "Entries held by an in-memory cache", labels=("cache",)
    )
    for name, size in sorted(sizes.items()):
        family.add_metric((name,), size())
    return [family]
