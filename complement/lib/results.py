"""Results of a Complement run, and the baseline in complement/passing.txt.

Used by complement/run.sh; standard library only (runs on the host's python3).

  results.py report --json go-test.json --module-dir DIR --results results.jsonl --summary summary.txt
  results.py plan   --baseline passing.txt       -> lines "PKG ^(TestA|TestB)$" to run
  results.py gate   --baseline passing.txt --results results.jsonl
  results.py update --baseline passing.txt --results results.jsonl
  results.py remaining --json go-test.json --module-dir DIR --package PKG [--only REGEX]

passing.txt holds one "PKG TEST" a line, PKG relative to the Complement module
(tests, tests/csapi, tests/msc4140, ...) and TEST as `go test` names it
(TestName or TestName/subtest/..., spaces already turned into underscores).
results.jsonl holds {"Action": "pass"|"fail"|"skip", "Package": <import path>,
"Test": "TestName/subtest"} lines.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from pathlib import Path

MODULE = "github.com/matrix-org/complement"
HEADER = """\
# Complement tests that pass against this server: "PACKAGE TEST" a line.
# complement/run.sh --gate runs the top-level tests named here and fails if any
# entry no longer passes. Add new passes with complement/run.sh --update; remove
# an entry only by hand, with the reason in the commit message.
"""


def short(pkg: str) -> str:
    return pkg[len(MODULE) + 1 :] if pkg.startswith(MODULE + "/") else pkg


def full(pkg: str) -> str:
    return pkg if pkg.startswith(MODULE) else f"{MODULE}/{pkg}"


def read_events(path: Path) -> list[dict]:
    events = []
    for line in path.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def collect(events: list[dict]) -> tuple[dict, dict, dict]:
    """(results[(pkg, test)] -> action, started tests, package outcomes)."""
    results: dict[tuple[str, str], str] = {}
    started: dict[tuple[str, str], bool] = {}
    packages: dict[str, str] = {}
    for ev in events:
        action, pkg, test = ev.get("Action"), ev.get("Package", ""), ev.get("Test")
        if test:
            if action == "run":
                started[(pkg, test)] = True
            elif action in ("pass", "fail", "skip"):
                results[(pkg, test)] = action
        elif action in ("pass", "fail", "skip"):
            packages[pkg] = action
    # A test that started and never ended (panic, -timeout) failed.
    for key in started:
        results.setdefault(key, "fail")
    return results, started, packages


def test_files(module_dir: Path | None) -> dict[tuple[str, str], str]:
    """(package, top-level test) -> file name, read from the module's sources."""
    files: dict[tuple[str, str], str] = {}
    if module_dir is None:
        return files
    pattern = re.compile(r"^func (Test\w+)\(\w+ \*testing\.T\)", re.M)
    for path in module_dir.glob("tests/**/*_test.go"):
        pkg = f"{MODULE}/{path.parent.relative_to(module_dir).as_posix()}"
        for name in pattern.findall(path.read_text(errors="replace")):
            files[(pkg, name)] = path.relative_to(module_dir).as_posix()
    return files


def counts_line(c: collections.Counter) -> str:
    return f"{c['pass']} passed, {c['fail']} failed, {c['skip']} skipped"


def cmd_report(args: argparse.Namespace) -> int:
    results, _, packages = collect(read_events(Path(args.json)))
    with open(args.results, "w") as out:
        for (pkg, test), action in sorted(results.items()):
            out.write(json.dumps({"Action": action, "Package": pkg, "Test": test}) + "\n")

    files = test_files(Path(args.module_dir) if args.module_dir else None)
    total, top = collections.Counter(), collections.Counter()
    per_pkg: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    per_file: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for (pkg, test), action in results.items():
        total[action] += 1
        per_pkg[short(pkg)][action] += 1
        name = test.split("/", 1)[0]
        per_file[files.get((pkg, name), f"{short(pkg)}/?")][action] += 1
        if "/" not in test:
            top[action] += 1

    lines = ["Complement results (tests and subtests; the file is the top-level test's)", ""]
    lines.append("per package:")
    for pkg in sorted(set(per_pkg) | {short(p) for p in packages}):
        note = ""
        if packages.get(full(pkg)) == "fail" and not per_pkg[pkg]["fail"]:
            note = "  (package failed outside any test: build error, panic or -timeout)"
        lines.append(f"  {pkg:<28} {counts_line(per_pkg[pkg])}{note}")
    lines.append("")
    lines.append("per test file:")
    for name in sorted(per_file):
        lines.append(f"  {name:<56} {counts_line(per_file[name])}")
    lines.append("")
    failed_pkgs = sorted(short(p) for p, a in packages.items() if a == "fail")
    if failed_pkgs:
        lines.append("packages that failed: " + " ".join(failed_pkgs))
    lines.append(f"top-level tests: {counts_line(top)}")
    # The plain closing line CI reads: "N passed, N failed, N skipped".
    lines.append(f"complement: {counts_line(total)}")
    text = "\n".join(lines) + "\n"
    Path(args.summary).write_text(text)
    sys.stdout.write(text)
    return 0


def read_baseline(path: Path) -> list[tuple[str, str]]:
    entries = []
    if not path.exists():
        return entries
    for raw in path.read_text().splitlines():
        # Comments are whole lines: Go names repeated subtests "name#01", so a "#"
        # inside an entry is part of the test's name.
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pkg, _, test = line.partition(" ")
        if not test.strip():
            raise SystemExit(f"{path}: bad line (want 'PACKAGE TEST'): {raw!r}")
        entries.append((pkg.strip(), test.strip()))
    return entries


def cmd_plan(args: argparse.Namespace) -> int:
    tops: dict[str, set[str]] = collections.defaultdict(set)
    for pkg, test in read_baseline(Path(args.baseline)):
        tops[pkg].add(test.split("/", 1)[0])
    for pkg in sorted(tops):
        names = "|".join(sorted(tops[pkg]))
        print(f"{pkg} ^({names})$")
    return 0


def cmd_remaining(args: argparse.Namespace) -> int:
    """The -run regex of the top-level tests of a package that have not run yet.

    A test that panics (e.g. "Fail in goroutine after TestX has completed")
    takes its package's whole test binary down; run.sh then runs the rest."""
    pkg = full(args.package)
    events = read_events(Path(args.json))
    if any(
        e.get("Package") == pkg and "panic: test timed out" in e.get("Output", "") for e in events
    ):
        return 0  # -timeout: going on could take as long again
    _, started, _ = collect(events)
    ran = {test.split("/", 1)[0] for (p, test) in started if p == pkg}
    declared = {name for (p, name) in test_files(Path(args.module_dir)) if p == pkg}
    if args.only:
        declared &= set(re.findall(r"\w+", args.only))
    rest = sorted(declared - ran)
    if rest:
        print(f"^({'|'.join(rest)})$")
    return 0


def load_results(path: Path) -> dict[tuple[str, str], str]:
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                out[(short(r["Package"]), r["Test"])] = r["Action"]
    return out


def cmd_gate(args: argparse.Namespace) -> int:
    baseline = read_baseline(Path(args.baseline))
    results = load_results(Path(args.results))
    bad = [(pkg, test, results.get((pkg, test), "missing")) for pkg, test in baseline]
    bad = [b for b in bad if b[2] != "pass"]
    if bad:
        print(f"complement gate: {len(bad)} of {len(baseline)} baseline entries no longer pass:")
        for pkg, test, action in bad:
            print(f"  {action:<8} {pkg} {test}")
        return 1
    print(f"complement gate: all {len(baseline)} baseline entries pass")
    return 0


def cmd_retry_plan(args: argparse.Namespace) -> int:
    """Like ``plan``, for the top-level tests of baseline entries that did not pass."""
    results = load_results(Path(args.results))
    tops: dict[str, set[str]] = collections.defaultdict(set)
    for pkg, test in read_baseline(Path(args.baseline)):
        if results.get((pkg, test)) != "pass":
            tops[pkg].add(test.split("/", 1)[0])
    for pkg in sorted(tops):
        print(f"{pkg} ^({'|'.join(sorted(tops[pkg]))})$")
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    path = Path(args.baseline)
    baseline = set(read_baseline(path))
    results = load_results(Path(args.results))
    passes = {k for k, a in results.items() if a == "pass"}
    ran_pkgs = {pkg for pkg, _ in results}
    new = passes - baseline
    entries = sorted(baseline | passes)
    path.write_text(HEADER + "".join(f"{pkg} {test}\n" for pkg, test in entries))
    print(f"passing.txt: {len(new)} new entries, {len(entries)} in all")
    gone = sorted(b for b in baseline if b not in passes and b[0] in ran_pkgs)
    if gone:
        print(f"{len(gone)} baseline entries did not pass in this run (kept; remove by hand):")
        for pkg, test in gone:
            print(f"  {pkg} {test}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("report")
    p.add_argument("--json", required=True)
    p.add_argument("--module-dir")
    p.add_argument("--results", required=True)
    p.add_argument("--summary", required=True)
    p = sub.add_parser("remaining")
    p.add_argument("--json", required=True)
    p.add_argument("--module-dir", required=True)
    p.add_argument("--package", required=True)
    p.add_argument("--only", help="the -run regex the package was run with")
    for name in ("plan", "gate", "update", "retry-plan"):
        p = sub.add_parser(name)
        p.add_argument("--baseline", required=True)
        if name != "plan":
            p.add_argument("--results", required=True)
    args = ap.parse_args()
    commands = {
        "report": cmd_report,
        "plan": cmd_plan,
        "gate": cmd_gate,
        "update": cmd_update,
        "remaining": cmd_remaining,
        "retry-plan": cmd_retry_plan,
    }
    return commands[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
