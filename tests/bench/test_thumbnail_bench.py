"""The thumbnail micro-benchmark, tiny, so it cannot silently rot."""

from __future__ import annotations

from bench.thumbnail_bench import BOXES, run


async def test_thumbnail_bench_smoke() -> None:
    # Synapse's side imports Twisted, whose deprecation warnings are errors here.
    result = await run(200, 150, runs=1, frames=2, synapse=False)
    sizes = {f"{w}x{h}-{m}" for w, h, m in BOXES}
    assert set(result["conduwuit_photo"]) == sizes
    for figures in result["conduwuit_photo"].values():
        assert figures["first_ms"] > 0 and figures["cached_ms"] > 0
    assert result["conduwuit_animation"]["320x240-scale"]["first_ms"] > 0
