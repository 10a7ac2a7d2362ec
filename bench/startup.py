"""Start-up time to the first 200 from /versions, and idle RSS, of fresh servers.

    python -m bench.startup [--runs 5] [--idle 2] [--against conduwuit,synapse]
        [--variant LABEL=DIR[:NAME=VALUE,...] ...]

Prints one JSON object per server (medians and every run): a quick look at the
``startup`` scenario alone, many runs, alternating servers. Each ``--variant`` is
one more conduwuit in the alternation: the checkout in DIR (e.g. ``git archive``
of another commit) with that environment (e.g. ``PYTHONOPTIMIZE=2``). ``bench/run.py`` plays
it with the load scenarios and writes the results file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from bench.servers import Conduwuit, Server, Synapse, ensure_synapse


def one_run(server: Server, idle: float) -> dict[str, Any]:
    try:
        startup_s = server.start()
        time.sleep(idle)
        rss = server.rss_kib()
    finally:
        server.stop()
    return {"startup_s": round(startup_s, 4), "idle_rss_mib": round(rss / 1024, 1)}


def _variant(text: str) -> tuple[str, tuple[Path, dict[str, str]]]:
    label, _, rest = text.partition("=")
    src, _, env = rest.partition(":")
    pairs = (item.split("=", 1) for item in env.split(",") if item)
    return label, (Path(src), {name: value for name, value in pairs})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=2.0, help="seconds idle before RSS")
    parser.add_argument("--against", default="conduwuit")
    parser.add_argument("--no-install", action="store_true", help="never pip-install Synapse")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=DIR[:NAME=VALUE,...]",
        help="one more conduwuit: another checkout, with an environment (repeatable)",
    )
    args = parser.parse_args()
    kinds = [k.strip() for k in args.against.split(",") if k.strip()]
    variants = dict(_variant(v) for v in args.variant)
    synapse_python = ensure_synapse(install=not args.no_install) if "synapse" in kinds else None
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in [*kinds, *variants]}
    for _ in range(max(1, min(args.runs, 50))):
        for kind in runs:  # alternate, so a noisy moment hits all
            server: Server
            if kind in variants:
                src, env = variants[kind]
                server = Conduwuit(src=src, extra_env=env)
            elif kind == "synapse":
                server = Synapse(python=synapse_python)
            else:
                server = Conduwuit()
            runs[kind].append(one_run(server, args.idle))
    for kind, results in runs.items():
        print(
            json.dumps(
                {
                    "scenario": "startup",
                    "server": kind,
                    "median_startup_s": statistics.median(r["startup_s"] for r in results),
                    "median_idle_rss_mib": statistics.median(r["idle_rss_mib"] for r in results),
                    "runs": results,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
