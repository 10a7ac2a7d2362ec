"""The rooms-across-servers benchmark runs and reports every figure (ours only, tiny
sizes): A→B latency, to-device, typing, receipt and presence EDUs, inbound /send from a
scripted remote, a join."""

from __future__ import annotations

from pathlib import Path

from bench.federation_rooms import Sizes, measure


async def test_federation_rooms_bench_smoke(tmp_path: Path) -> None:
    sizes = Sizes(
        messages=3,
        batches=2,
        members=3,
        state_events=5,
        edus=5,
        typing=10,
        receipts=12,
        presence=11,
    )
    figures = await measure(sizes, with_synapse=False, workdir=tmp_path)
    ours = figures["conduwuit"]
    assert ours["latency"]["messages"] == 3
    assert 0 < ours["latency"]["p50_ms"] <= ours["latency"]["p95_ms"]
    assert ours["edu"]["updates"] == 5 and ours["edu"]["per_s"] > 0
    # every typing notice, receipt and status message was shown on B (the last of
    # each user: more updates than the 8 users of receipts and presence)
    for name, count in (("typing", 10), ("receipts", 12), ("presence", 11)):
        figures_of = ours[name]
        assert figures_of["updates"] == count, name
        # seconds are rounded to 10 ms, last_ms to 0.1 ms: compare within that rounding
        seconds_ms = figures_of["seconds"] * 1000 + 5
        assert figures_of["per_s"] > 0 and 0 < figures_of["last_ms"] <= seconds_ms
    # every PDU of the two transactions was accepted and reached the room
    assert ours["inbound"]["pdus"] == 100 and ours["inbound"]["per_s"] > 0
    assert ours["join"]["members"] == 3 and ours["join"]["state_events"] == 5
    assert 0 < ours["join"]["join_s"] <= ours["join"]["full_state_s"]
    assert "synapse" not in figures and "ratio" not in figures
