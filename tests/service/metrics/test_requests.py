"""Request figures: counted as they happen, rendered as Prometheus families when
scraped, read back with Prometheus's own parser."""

from __future__ import annotations

import time

from prometheus_client.exposition import generate_latest
from prometheus_client.registry import CollectorRegistry

from conduwuit.service.metrics import RequestStats
from conduwuit.service.metrics.requests import LATENCY, histogram_buckets
from tests.kit.metrics import parse, value

ROOM_SEND = "/_matrix/client/v3/rooms/{room_id}/send/{event_type}/{txn_id}"


def scrape(stats: RequestStats) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(stats)  # type: ignore[arg-type]  # a collector by its collect()
    return generate_latest(registry).decode()


def test_requests_by_endpoint_and_status_with_a_latency_histogram() -> None:
    stats = RequestStats()
    for seconds in (0.001, 0.02, 0.02, 3.0):
        stats.observe("PUT", ROOM_SEND, 200, seconds)
    stats.observe("PUT", ROOM_SEND, 403, 0.004)
    stats.observe("GET", "unmatched", 404, 0.0001)
    families = parse(scrape(stats))
    requests = "conduwuit_http_requests"
    assert value(families, requests, method="PUT", endpoint=ROOM_SEND, status="200") == 4
    assert value(families, requests, method="PUT", endpoint=ROOM_SEND, status="403") == 1
    assert value(families, requests, method="GET", endpoint="unmatched", status="404") == 1
    put = {"method": "PUT", "endpoint": ROOM_SEND}
    assert value(families, LATENCY, f"{LATENCY}_count", **put) == 5
    assert abs(value(families, LATENCY, f"{LATENCY}_sum", **put) - 3.045) < 1e-9
    # Cumulative buckets: <=5 ms holds 0.001 and 0.004, <=25 ms the two 0.02 too.
    assert value(families, LATENCY, f"{LATENCY}_bucket", le="0.005", **put) == 2
    assert value(families, LATENCY, f"{LATENCY}_bucket", le="0.025", **put) == 4
    assert value(families, LATENCY, f"{LATENCY}_bucket", le="2.5", **put) == 4
    assert value(families, LATENCY, f"{LATENCY}_bucket", le="+Inf", **put) == 5


def test_a_bound_is_inside_its_own_bucket() -> None:
    # Prometheus's "le": a value equal to a bound counts in that bound's bucket.
    assert histogram_buckets((0.1, 1.0), [2, 0, 1]) == [("0.1", 2.0), ("1.0", 2.0), ("+Inf", 3.0)]
    stats = RequestStats()
    stats.observe("GET", "/x", 200, 0.1)
    families = parse(scrape(stats))
    assert value(families, LATENCY, f"{LATENCY}_bucket", le="0.1", endpoint="/x") == 1


def test_counting_a_request_costs_about_a_microsecond() -> None:
    """The hot path's whole cost (the middleware adds two perf_counter calls and a
    route lookup): bounded loosely here, for a shared CPU; about 1 µs measured."""
    stats = RequestStats()
    n = 100_000
    started = time.perf_counter()
    for i in range(n):
        stats.observe("GET", "/_matrix/client/v3/sync", 200 + (i & 1), 0.01 * (i & 7))
    per_request_us = (time.perf_counter() - started) / n * 1e6
    assert per_request_us < 20, per_request_us
