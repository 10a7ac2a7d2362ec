"""The federation transport benchmark runs and reports every figure (tiny sizes)."""

from __future__ import annotations

from pathlib import Path

from bench.federation import measure


async def test_federation_bench_smoke(tmp_path: Path) -> None:
    figures = await measure(
        seconds=0.05,
        requests=12,
        concurrency=3,
        key_fetches_count=3,
        with_synapse=False,
        workdir=tmp_path,
    )
    for name in ("sign_per_s", "verify_per_s", "authenticate_per_s", "profile_per_s"):
        assert figures[name] > 0, name
    assert figures["profile_requests"] == 12
    assert figures["key_fetches"] == 3
    assert 0 <= figures["key_lookup_cached_p50_ms"] <= figures["key_fetch_cold_p50_ms"]
    assert "synapse_profile_per_s" not in figures
