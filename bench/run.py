"""Benchmarks side by side: conduwuit and Synapse, fresh servers, ratios from one run.

    python bench/run.py --against conduwuit,synapse [--rounds 3] [--preset default]
                        [--scenarios startup,send,...] [--senders 8 --messages 25 ...]

Each round starts every server in turn (A/B/A/B), fresh in a temp directory on
loopback, measures start-up and idle RSS, plays the load scenarios against it with
the peak RSS of its process tree sampled throughout, and stops it. The results go
to ``bench/results/<date>.json`` (or ``--out``), and a table of medians over the
rounds with the conduwuit/Synapse ratio per figure is printed.

A scenario the server does not serve yet (it answers M_UNRECOGNIZED/404) is reported
as ``unsupported`` with the endpoint. ``state-res`` and ``sign`` run
``bench/core_bench.py`` in process (``sign`` also Synapse's code, in its venv).
Synapse is installed from PyPI into ``.cache/bench/synapse-venv`` on first use
(``--no-install`` refuses to).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    _repo = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(_repo))
    try:
        import aiohttp
    except ImportError:  # the system python: use the project's venv if there is one
        import os

        _venv_python = _repo / ".venv" / "bin" / "python"
        if _venv_python.exists() and Path(sys.executable) != _venv_python:
            os.execv(str(_venv_python), [str(_venv_python), *sys.argv])
        raise

import argparse
import asyncio
import datetime as dt
import importlib
import json
import os
import platform
import signal
import statistics
import subprocess
import time
import traceback
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import aiohttp

from bench.client import Unsupported
from bench.scenarios import (
    ALL_SCENARIOS,
    CORE_SCENARIOS,
    DEFAULT_SCENARIOS,
    LOAD_SCENARIOS,
    OPT_IN_SCENARIOS,
    PRESETS,
    Context,
    Sizes,
    timeout_s,
)
from bench.servers import (
    KINDS,
    REPO,
    SYNAPSE_VENV,
    Conduwuit,
    PeakRss,
    Server,
    Synapse,
    ensure_synapse,
)

RESULTS = Path(__file__).resolve().parent / "results"

# (scenario, figure) -> (comparison, ratio conduwuit/Synapse that meets the target)
TARGETS: dict[tuple[str, str], tuple[str, float]] = {
    ("startup", "startup_s"): ("<=", 1 / 5),
    ("startup", "idle_rss_mib"): ("<=", 1 / 3),
    ("send", "events_per_s"): (">=", 5.0),
    ("e2e-latency", "p50_ms"): ("<=", 1 / 5),
}


def core_scenarios(sizes: Sizes) -> dict[str, Callable[[], dict[str, Any]]]:
    """``bench/core_bench.py``'s micro-benchmarks as scenarios (conduwuit only, in process).

    A module-level ``SCENARIOS = {"state-res": fn, "sign": fn}`` (each ``fn()`` giving
    a flat dict of figures) wins; otherwise its ``bench_state_res`` and
    ``bench_signing`` functions are called with the runner's sizes.
    """
    try:
        module = importlib.import_module("bench.core_bench")
    except ImportError:
        return {}
    found = getattr(module, "SCENARIOS", None)
    if isinstance(found, dict):
        return dict(found)
    adapters: dict[str, Callable[[], dict[str, Any]]] = {}
    if hasattr(module, "bench_state_res"):

        def state_res() -> dict[str, Any]:
            from conduwuit.core import room_versions as rv

            figures: dict[str, Any] = {}
            for version in (rv.V11, rv.V12):
                result = module.bench_state_res(
                    version, sizes.state_res_members, sizes.state_res_fork_events
                )
                figures[f"v{version.identifier}_ms"] = round(result["seconds"] * 1000, 2)
                figures["conflicted_keys"] = result["conflicted_keys"]
            return figures

        adapters["state-res"] = state_res
    if hasattr(module, "bench_signing"):

        def sign() -> dict[str, Any]:
            result = module.bench_signing(sizes.sign_seconds)
            return {"events_per_s": result["events_per_second"]}

        adapters["sign"] = sign
    return adapters


async def play(server: Server, sizes: Sizes, scenarios: list[str]) -> list[dict[str, Any]]:
    """The load scenarios against one running server, each bounded in time."""
    entries = []
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:
        ctx = Context(server, session, sizes)
        for name in scenarios:
            entry: dict[str, Any] = {"scenario": name}
            started = time.monotonic()
            bound_s = timeout_s(name, sizes)
            with PeakRss(server.pid) as rss:
                try:
                    figures = await asyncio.wait_for(LOAD_SCENARIOS[name](ctx), bound_s)
                    entry.update(status="ok", figures=figures)
                except Unsupported as error:
                    entry.update(status="unsupported", endpoint=error.endpoint)
                except Exception as error:  # report and go on with the next scenario
                    detail = f"{type(error).__name__}: {error}"
                    if isinstance(error, TimeoutError):
                        detail = f"timed out after {bound_s}s"
                    entry.update(status="error", error=detail)
                    traceback.print_exc(file=sys.stderr)
            entry["wall_s"] = round(time.monotonic() - started, 2)
            if entry["status"] == "ok":
                entry["figures"]["peak_rss_mib"] = rss.peak_mib
            entries.append(entry)
            print(f"  {server.kind:9} {name:17} {_brief(entry)}", file=sys.stderr)
    return entries


def _brief(entry: dict[str, Any]) -> str:
    if entry["status"] == "ok":
        return " ".join(f"{k}={v}" for k, v in entry["figures"].items())
    return f"{entry['status']}: {entry.get('endpoint') or entry.get('error')}"


def make_server(
    kind: str,
    synapse_python: Path | None,
    conduwuit_src: Path | None,
    conduwuit_env: dict[str, str] | None = None,
) -> Server:
    if kind == "synapse":
        return Synapse(python=synapse_python)
    return Conduwuit(src=conduwuit_src, extra_env=conduwuit_env)


def _measure_startup(server: Server, sizes: Sizes) -> dict[str, Any]:
    """Start ``server`` and wait idle; the start-up entry. The server is left running."""
    startup_s = server.start()
    time.sleep(sizes.idle_s)
    idle = round(server.rss_kib() / 1024, 1)
    entry = {
        "scenario": "startup",
        "status": "ok",
        "figures": {"startup_s": round(startup_s, 3), "idle_rss_mib": idle},
    }
    print(f"  {server.kind:9} {'startup':17} {_brief(entry)}", file=sys.stderr)
    return entry


def one_server(kind: str, sizes: Sizes, scenarios: list[str], server: Server) -> dict[str, Any]:
    """Start ``server`` fresh, measure start-up and idle RSS, play the scenarios, stop."""
    record: dict[str, Any] = {"server": kind, "scenarios": []}
    try:
        startup = _measure_startup(server, sizes)
        record["version"] = server.version()
        if "startup" in scenarios:
            record["scenarios"].append(startup)
        load = [s for s in scenarios if s in LOAD_SCENARIOS]
        record["scenarios"] += asyncio.run(play(server, sizes, load))
        if server.process is not None and server.process.poll() is not None:
            record["error"] = f"{kind} exited during the scenarios:\n{server.log_tail()}"
    except Exception as error:
        record["error"] = f"{type(error).__name__}: {error}"
        traceback.print_exc(file=sys.stderr)
    finally:
        server.stop()
    return record


def more_startups(make: Callable[[], Server], sizes: Sizes, count: int) -> list[dict[str, Any]]:
    """Extra start-up samples (start, idle, stop): the noisiest figure gets more of them."""
    entries = []
    for _ in range(max(0, min(count, 20))):
        server = make()
        try:
            entries.append(_measure_startup(server, sizes))
        finally:
            server.stop()
    return entries


def run_core(scenarios: list[str], sizes: Sizes) -> list[dict[str, Any]]:
    available = core_scenarios(sizes)
    entries: list[dict[str, Any]] = []
    for name in scenarios:
        if name not in CORE_SCENARIOS:
            continue
        if name not in available:
            entries.append(
                {"scenario": name, "status": "pending", "endpoint": "bench/core_bench.py"}
            )
            continue
        started = time.monotonic()
        try:
            entries.append({"scenario": name, "status": "ok", "figures": dict(available[name]())})
        except Exception as error:
            entries.append({"scenario": name, "status": "error", "error": repr(error)})
            traceback.print_exc(file=sys.stderr)
        entries[-1]["wall_s"] = round(time.monotonic() - started, 2)
        print(f"  {'core':9} {name:17} {_brief(entries[-1])}", file=sys.stderr)
    return entries


def synapse_sign(python: Path, sizes: Sizes) -> dict[str, Any]:
    """Synapse's side of ``sign``: the same work with Synapse's own code, in its venv."""
    script = Path(__file__).resolve().parent / "synapse_core.py"
    try:
        result = subprocess.run(
            [str(python), str(script), str(sizes.sign_seconds)],
            capture_output=True,
            text=True,
            timeout=sizes.sign_seconds + 120,
            check=True,
        )
        figures = json.loads(result.stdout)
        entry = {
            "scenario": "sign",
            "status": "ok",
            "figures": {"events_per_s": figures["events_per_s"]},
        }
    except (subprocess.SubprocessError, ValueError, KeyError) as error:
        entry = {"scenario": "sign", "status": "error", "error": repr(error)}
    print(f"  {'synapse':9} {'sign':17} {_brief(entry)}", file=sys.stderr)
    return entry


def summarize(rounds: list[dict[str, Any]], servers: list[str]) -> dict[str, Any]:
    """Per scenario and figure: the median per server over the rounds, and the ratio."""
    values: dict[tuple[str, str], dict[str, list[float]]] = {}
    statuses: dict[tuple[str, str], str] = {}
    for record in rounds:
        for entry in record["scenarios"]:
            key = (entry["scenario"], record["server"])
            if entry["status"] != "ok":
                statuses.setdefault(
                    key, f"{entry['status']}: {entry.get('endpoint') or entry.get('error', '')}"
                )
                continue
            for figure, value in entry["figures"].items():
                values.setdefault((entry["scenario"], figure), {}).setdefault(
                    record["server"], []
                ).append(value)
    summary: dict[str, Any] = {}
    for (scenario, figure), per_server in values.items():
        row: dict[str, Any] = {s: round(statistics.median(v), 3) for s, v in per_server.items()}
        if "conduwuit" in row and "synapse" in row and row["synapse"]:
            row["ratio"] = round(row["conduwuit"] / row["synapse"], 3)
        target = TARGETS.get((scenario, figure))
        if target is not None:
            row["target"] = f"{target[0]} {target[1]:.3g}"
            if "ratio" in row:
                row["met"] = (
                    row["ratio"] <= target[1] if target[0] == "<=" else row["ratio"] >= target[1]
                )
        summary.setdefault(scenario, {})[figure] = row
    for (scenario, server), status in statuses.items():
        if server in servers:
            summary.setdefault(scenario, {}).setdefault("_status", {})[server] = status
    return summary


def table(summary: dict[str, Any], servers: list[str]) -> str:
    header = ["scenario", "figure", *servers]
    if "conduwuit" in servers and "synapse" in servers:
        header += ["c/s ratio", "target", "met"]
    rows = [header]
    for scenario in ALL_SCENARIOS:
        figures = summary.get(scenario, {})
        for figure, row in figures.items():
            if figure == "_status":
                continue
            cells = [scenario, figure, *(_cell(row.get(s)) for s in servers)]
            if len(header) > len(servers) + 2:
                met = row.get("met")
                cells += [
                    _cell(row.get("ratio")),
                    row.get("target", ""),
                    "" if met is None else ("yes" if met else "NO"),
                ]
            rows.append(cells)
        for server, status in figures.get("_status", {}).items():
            rows.append([scenario, f"({server})", status[:70]])
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(len(header))]
    lines = []
    for n, r in enumerate(rows):
        lines.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def _commit(src: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except OSError:
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--against", default="conduwuit,synapse", help="servers, comma-separated")
    parser.add_argument(
        "--scenarios",
        default=",".join(DEFAULT_SCENARIOS),
        help=f"default: all but {', '.join(OPT_IN_SCENARIOS)} (minutes long: name it)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="A/B rounds (median over them)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="default")
    parser.add_argument("--quick", action="store_true", help="the small sizes: --preset smoke")
    parser.add_argument("--out", type=Path, help="results file (default bench/results/<date>.json)")
    parser.add_argument("--no-install", action="store_true", help="never pip-install Synapse")
    parser.add_argument("--synapse-venv", type=Path, default=SYNAPSE_VENV)
    parser.add_argument(
        "--conduwuit-src", type=Path, help="benchmark the conduwuit of another checkout"
    )
    parser.add_argument(
        "--conduwuit-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment of conduwuit's process alone, e.g. PYTHONOPTIMIZE=2 as the images"
        " run it (repeatable)",
    )
    parser.add_argument("--label", help="free text kept in the results (what was measured)")
    parser.add_argument(
        "--max-minutes", type=float, default=30.0, help="stop starting rounds after this"
    )
    for f in fields(Sizes):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=None)
    args = parser.parse_args(argv)
    sizes = PRESETS["smoke" if args.quick else args.preset]
    overrides = {
        f.name: getattr(args, f.name) for f in fields(Sizes) if getattr(args, f.name) is not None
    }
    args.sizes = Sizes(**{**sizes.as_dict(), **overrides})
    args.servers = [s.strip() for s in args.against.split(",") if s.strip()]
    args.scenario_list = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    for server in args.servers:
        if server not in KINDS:
            parser.error(f"unknown server {server!r}; known: {', '.join(KINDS)}")
    for scenario in args.scenario_list:
        if scenario not in ALL_SCENARIOS:
            parser.error(f"unknown scenario {scenario!r}; known: {', '.join(ALL_SCENARIOS)}")
    args.rounds = max(1, min(args.rounds, 20))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so every server started is stopped on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    began = time.monotonic()
    load_start = [round(x, 2) for x in os.getloadavg()]
    synapse_python = None
    if "synapse" in args.servers:
        synapse_python = ensure_synapse(args.synapse_venv, install=not args.no_install)
    conduwuit_env = dict(item.split("=", 1) for item in args.conduwuit_env)
    now = dt.datetime.now(dt.UTC)
    rounds: list[dict[str, Any]] = []
    for n in range(args.rounds):
        if time.monotonic() - began > args.max_minutes * 60:
            print(f"time budget spent: stopping after {n} rounds", file=sys.stderr)
            break
        for kind in args.servers:  # A/B/A/B
            print(f"round {n + 1}/{args.rounds}: {kind}", file=sys.stderr)

            def make(kind: str = kind) -> Server:
                return make_server(kind, synapse_python, args.conduwuit_src, conduwuit_env)

            record = one_server(kind, args.sizes, args.scenario_list, make())
            if "startup" in args.scenario_list and not record.get("error"):
                extra = args.sizes.startup_runs - 1
                record["scenarios"] += more_startups(make, args.sizes, extra)
            record["round"] = n + 1
            rounds.append(record)
    for n in range(args.rounds):  # no server running: one entry per round, A/B
        core = run_core(args.scenario_list, args.sizes)
        if core:
            rounds.append({"server": "conduwuit", "round": n + 1, "scenarios": core, "core": True})
        if synapse_python is not None and "sign" in args.scenario_list:
            entry = synapse_sign(synapse_python, args.sizes)
            rounds.append({"server": "synapse", "round": n + 1, "scenarios": [entry], "core": True})
    summary = summarize(rounds, args.servers)
    results = {
        "date": now.strftime("%Y-%m-%d"),
        "started_utc": now.isoformat(timespec="seconds"),
        "wall_s": round(time.monotonic() - began, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            # the machine may be shared: a high load is noise that the ratios absorb
            "loadavg_start": load_start,
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        },
        "servers": {r["server"]: r.get("version", "?") for r in rounds if not r.get("core")},
        "conduwuit_src": str(args.conduwuit_src or REPO),
        "conduwuit_env": conduwuit_env,
        "conduwuit_commit": _commit(args.conduwuit_src or REPO),
        "label": args.label,
        "sizes": args.sizes.as_dict(),
        "scenarios": args.scenario_list,
        "rounds": rounds,
        "summary": summary,
    }
    out = args.out or RESULTS / f"{results['date']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n")
    tmp.replace(out)
    print(table(summary, args.servers))
    print(f"\nresults: {out} ({results['wall_s']}s)")
    failed = [r for r in rounds if r.get("error")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
