"""complement/lib/results.py: the gate's verdicts from go test -json results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).parents[2] / "complement" / "lib" / "results.py"
PKG = "github.com/matrix-org/complement/tests"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RESULTS), *args], capture_output=True, text=True, timeout=30
    )


def write(tmp_path: Path, outcomes: dict[str, str]) -> tuple[Path, Path]:
    baseline = tmp_path / "passing.txt"
    baseline.write_text("".join(f"tests {test}\n" for test in outcomes))
    results = tmp_path / "results.jsonl"
    results.write_text(
        "".join(
            json.dumps({"Action": action, "Package": PKG, "Test": test}) + "\n"
            for test, action in outcomes.items()
            if action != "missing"
        )
    )
    return baseline, results


def test_gate_passes_when_every_entry_passes(tmp_path: Path) -> None:
    baseline, results = write(tmp_path, {"TestA/one": "pass", "TestB": "pass"})
    done = run("gate", "--baseline", str(baseline), "--results", str(results))
    assert done.returncode == 0
    assert "all 2 baseline entries pass" in done.stdout


def test_gate_fails_on_a_failing_or_missing_entry(tmp_path: Path) -> None:
    baseline, results = write(
        tmp_path, {"TestA/one": "pass", "TestA/two": "fail", "TestC": "missing"}
    )
    done = run("gate", "--baseline", str(baseline), "--results", str(results))
    assert done.returncode == 1
    assert "fail     tests TestA/two" in done.stdout
    assert "missing  tests TestC" in done.stdout


def test_plan_and_retry_plan_name_top_level_tests(tmp_path: Path) -> None:
    baseline, results = write(
        tmp_path, {"TestA/one": "pass", "TestA/two": "fail", "TestB": "pass", "TestC": "missing"}
    )
    plan = run("plan", "--baseline", str(baseline))
    assert plan.stdout.strip() == "tests ^(TestA|TestB|TestC)$"
    retry = run("retry-plan", "--baseline", str(baseline), "--results", str(results))
    assert retry.stdout.strip() == "tests ^(TestA|TestC)$"


def test_repeated_subtest_names_are_entries_of_their_own(tmp_path: Path) -> None:
    # Go names a repeated subtest "name#01"; that "#" is not a comment.
    baseline, results = write(tmp_path, {"TestA/same": "pass", "TestA/same#01": "fail"})
    baseline.write_text("# a comment line\n" + baseline.read_text())
    done = run("gate", "--baseline", str(baseline), "--results", str(results))
    assert done.returncode == 1
    assert "fail     tests TestA/same#01" in done.stdout
    baseline.write_text("tests TestA/same\ntests TestA/same#01\n")
    results.write_text(
        "".join(
            json.dumps({"Action": "pass", "Package": PKG, "Test": t}) + "\n"
            for t in ("TestA/same", "TestA/same#01", "TestB")
        )
    )
    run("update", "--baseline", str(baseline), "--results", str(results))
    entries = [line for line in baseline.read_text().splitlines() if not line.startswith("#")]
    assert entries == ["tests TestA/same", "tests TestA/same#01", "tests TestB"]
