"""The benchmark runner, tiny: a few requests, so it cannot silently rot.

conduwuit always; Synapse only where it is already installed (the runner's own
venv under .cache/bench, or this venv's crosscheck extra), never installed here.
A scenario may be ``unsupported`` while the server lacks the endpoint, but never
an ``error``: that is a broken harness or a broken server.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.client import registration_mac
from bench.run import summarize, table
from bench.scenarios import LOAD_SCENARIOS, OPT_IN_SCENARIOS, percentile
from bench.servers import SYNAPSE_VENV, synapse_installed

REPO = Path(__file__).resolve().parents[2]


def installed_synapse_venv() -> Path | None:
    for venv in (SYNAPSE_VENV, Path(sys.prefix)):
        if synapse_installed(venv):
            return venv
    return None


SYNAPSE = installed_synapse_venv()


def run_smoke(tmp_path: Path, against: str, *extra: str) -> dict[str, Any]:
    out = tmp_path / "results.json"
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            f"--against={against}",
            "--preset=smoke",
            "--rounds=1",
            "--no-install",
            f"--out={out}",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "startup_s" in result.stdout  # the table
    data: dict[str, Any] = json.loads(out.read_text())
    for record in data["rounds"]:
        assert "error" not in record, record
        statuses = {e["scenario"]: e["status"] for e in record["scenarios"]}
        assert not {s for s, status in statuses.items() if status == "error"}, record
        if not record.get("core"):
            assert statuses["startup"] == "ok"
            assert set(statuses) == {"startup", *LOAD_SCENARIOS} - set(OPT_IN_SCENARIOS)
    return data


def test_smoke_conduwuit(tmp_path: Path) -> None:
    data = run_smoke(tmp_path, "conduwuit")
    startup = data["summary"]["startup"]
    assert startup["startup_s"]["conduwuit"] > 0
    assert startup["idle_rss_mib"]["conduwuit"] > 0


@pytest.mark.skipif(SYNAPSE is None, reason="Synapse not installed")
def test_smoke_side_by_side_with_synapse(tmp_path: Path) -> None:
    data = run_smoke(tmp_path, "conduwuit,synapse", f"--synapse-venv={SYNAPSE}")
    synapse = next(r for r in data["rounds"] if r["server"] == "synapse")
    # Synapse serves every load scenario: each one ran and checked its own result
    assert all(e["status"] == "ok" for e in synapse["scenarios"]), synapse
    assert "ratio" in data["summary"]["startup"]["startup_s"]


def test_summary_medians_ratios_and_targets() -> None:
    def record(server: str, startup: float, status: str = "ok") -> dict[str, Any]:
        send = {"scenario": "send", "status": status, "endpoint": "register"}
        if status == "ok":
            send["figures"] = {"events_per_s": 100.0}
        return {
            "server": server,
            "scenarios": [
                {"scenario": "startup", "status": "ok", "figures": {"startup_s": startup}},
                send,
            ],
        }

    rounds = [
        record("conduwuit", 0.5, "unsupported"),
        record("synapse", 4.0),
        record("conduwuit", 0.7, "unsupported"),
        record("synapse", 6.0),
    ]
    summary = summarize(rounds, ["conduwuit", "synapse"])
    row = summary["startup"]["startup_s"]
    assert row == {
        "conduwuit": 0.6,
        "synapse": 5.0,
        "ratio": 0.12,
        "target": "<= 0.2",
        "met": True,
    }
    assert summary["send"]["_status"] == {"conduwuit": "unsupported: register"}
    assert "events_per_s" not in summary["send"] or "ratio" not in summary["send"]["events_per_s"]
    text = table(summary, ["conduwuit", "synapse"])
    assert "unsupported: register" in text and "0.12" in text


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile([3.0], 99) == 3.0


def test_registration_mac_matches_synapse_algorithm() -> None:
    # the example from Synapse's admin API docs' algorithm, computed independently
    import hashlib
    import hmac

    expected = hmac.new(b"s", b"n\x00u\x00p\x00notadmin", hashlib.sha1).hexdigest()
    assert registration_mac("s", "n", "u", "p", admin=False) == expected
