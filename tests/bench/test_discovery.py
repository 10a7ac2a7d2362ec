"""The discovery benchmark runs and reports every figure (tiny sizes)."""

from __future__ import annotations

from bench.discovery import measure


async def test_discovery_bench_smoke() -> None:
    figures = await measure(names=4, concurrency=2, cached_seconds=0.05)
    for shape in ["port", "srv", "well_known"]:
        assert figures[f"{shape}_cold_per_s"] > 0
        assert figures[f"{shape}_cached_per_s"] > figures[f"{shape}_cold_per_s"]
    assert figures["port_dns_queries_per_name"] == 1.0
    assert figures["well_known_dns_queries_per_name"] == 2.0
