"""The cross-server encrypted latency benchmark runs and reports its figures (tiny)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.federation_e2ee import measure

pytest.importorskip("vodozemac")


async def test_federation_e2ee_bench_smoke(tmp_path: Path) -> None:
    figures = await measure(messages=3, with_synapse=False, workdir=tmp_path)
    assert figures["ours_messages"] == 3
    assert 0 < figures["ours_p50_ms"] <= figures["ours_p90_ms"]
    assert figures["ours_first_ms"] > 0
    assert "synapse_p50_ms" not in figures
