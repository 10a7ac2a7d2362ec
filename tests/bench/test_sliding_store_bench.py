"""The sliding sync store benchmark runs and reports every figure (tiny size)."""

from __future__ import annotations

from pathlib import Path

from bench.sliding_store import measure


async def test_sliding_store_bench_smoke(tmp_path: Path) -> None:
    figures = await measure(rooms=50, path=tmp_path / "db")
    assert figures["rooms"] == 50
    for step in ("first_write", "one_room_change", "read_back_on_loop", "read_back_off_loop"):
        timings = figures[step]
        assert 0 <= timings["call_on_loop_ms"] <= timings["until_done_ms"]
        assert timings["max_loop_gap_ms"] > 0
