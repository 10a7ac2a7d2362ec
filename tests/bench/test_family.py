"""The family-server memory scenario (issue 21) at its smoke size, our server only.

The RSS figures are guarded against a gross regression only: each must stay under
twice the figure documented in docs/performance.md ("The family smoke guard"), so
noise on a shared machine never fails it while a doubling does. Start-up time is
not guarded here: on a loaded machine it varies by more than 2x.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.family import room_plan
from bench.import_rss import ON_FIRST_USE, STEPS, breakdown
from bench.traced_server import package_of

REPO = Path(__file__).resolve().parents[2]
PERFORMANCE = REPO / "docs" / "performance.md"
GUARD_HEADING = "### The family smoke guard"
GUARDED = ("idle_rss_mib", "steady_rss_mib", "replay_peak_rss_mib", "after_rss_mib")


def documented_figures() -> dict[str, float]:
    """``figure -> MiB`` from the guard's table: rows like ``| `idle_rss_mib` | 82 | 164 |``."""
    text = PERFORMANCE.read_text()
    section = text[text.index(GUARD_HEADING) :].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| ([\d.]+) \|", section, flags=re.MULTILINE)
    return {name: float(value) for name, value in rows}


def run_family(tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "results.json"
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            "--against=conduwuit",
            "--quick",
            "--rounds=1",
            "--scenarios=startup,family",
            "--startup-runs=1",
            "--no-install",
            f"--out={out}",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data: dict[str, Any] = json.loads(out.read_text())
    (record,) = data["rounds"]
    assert "error" not in record, record
    return {e["scenario"]: e for e in record["scenarios"]}


def test_family_smoke_within_twice_the_documented_rss(tmp_path: Path) -> None:
    documented = documented_figures()
    assert set(GUARDED) <= set(documented), documented
    scenarios = run_family(tmp_path)
    family = scenarios["family"]
    assert family["status"] == "ok", family
    figures = {**scenarios["startup"]["figures"], **family["figures"]}
    # the scenario did what it says (it also checked every replay message was synced)
    assert figures["users"] == 5 and figures["rooms"] == 12
    assert figures["devices"] >= 2 * figures["users"]
    assert figures["history_events"] == 120
    for name in ("sends", "syncs", "receipts", "key_uploads"):
        assert figures[name] > 0, name
    for name in GUARDED:
        assert 0 < figures[name] < 2 * documented[name], (name, figures[name], documented[name])


def test_room_plan_has_big_rooms_groups_and_direct_chats() -> None:
    plan = room_plan(25, 150, random.Random(1))
    assert len(plan) == 150
    assert plan[0] == plan[1] == list(range(25))  # the two big rooms: everyone
    groups = [m for m in plan[2:] if len(m) > 2]
    assert groups and all(5 <= len(m) <= 20 for m in groups)
    directs = [tuple(m) for m in plan[2:] if len(m) == 2]
    assert len(directs) == 150 - 2 - len(groups)
    assert len(set(directs)) == len(directs)  # distinct pairs
    assert all(a != b for a, b in directs)
    # a small family: groups no bigger than the family, every room has members
    small = room_plan(5, 12, random.Random(1))
    assert len(small) == 12 and all(2 <= len(m) <= 5 for m in small)


def test_import_breakdown_adds_up() -> None:
    figures = breakdown(runs=1, with_server=False)
    labels = [label for label, _ in STEPS]
    assert set(labels) <= set(figures)
    parts = [figures[label] for label in labels] + [figures[next(iter(figures))]]
    # each step's delta, plus the bare interpreter, is the whole (rounding per step)
    assert abs(sum(parts) - figures["all imports"]) < 0.1 * len(parts)
    assert figures["aiohttp (server, client)"] > 1  # a real import, really measured
    # what the server imports only on first use is measured on top, not in the sum
    assert all(figures[label] >= 0 for label, _ in ON_FIRST_USE)
    assert figures["on first use: Pillow (thumbnails)"] > 0.5


def test_package_of_groups_allocations() -> None:
    site = "/x/.venv/lib/python3.11/site-packages"
    assert package_of(f"{site}/aiohttp/web_protocol.py") == "aiohttp"
    assert package_of(f"{site}/typing_extensions.py") == "typing_extensions"
    assert package_of("/w/conduwuit/service/sync/builder.py") == "conduwuit.service"
    assert package_of("/w/conduwuit/server.py") == "conduwuit.server"
    assert package_of("/usr/lib/python3.11/json/decoder.py") == "stdlib:decoder"
    assert package_of("<frozen importlib._bootstrap>") == "<frozen importlib._bootstrap>"
