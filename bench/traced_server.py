"""``python -m conduwuit`` with ``tracemalloc`` on, snapshotted on request (a bench helper).

    BENCH_TRACEMALLOC_OUT=/tmp/x.json python bench/traced_server.py

Starts ``tracemalloc`` before the server's first import, then runs the server as
``python -m conduwuit`` would. A watcher thread looks for ``<out>.request`` every
0.2 s; when it appears, the thread takes a snapshot and writes ``<out>``: the
traced total and the top allocations grouped by package, by file and by line,
and from the second snapshot on the top growth by line since the first. A
thread, not a signal: the server's event loop (uvloop) owns signal handling.
``bench/memory_trace.py`` drives it; tracing costs memory and time, so its figures
say where the bytes are, never how many there are in an untraced run.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import threading
import tracemalloc
from pathlib import Path
from typing import Any

TOP = 25
#: The watcher's bound: a server in a benchmark runs minutes, not days.
MAX_POLLS = 200_000


def package_of(filename: str) -> str:
    """``aiohttp`` for ``.../site-packages/aiohttp/web.py``; ``conduwuit.service`` for
    ``.../conduwuit/service/x.py``; the stdlib module's name otherwise."""
    parts = Path(filename).parts
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1 :]
        return rest[0].removesuffix(".py") if rest else filename
    if "conduwuit" in parts:
        rest = parts[len(parts) - 1 - parts[::-1].index("conduwuit") :]
        return ".".join(rest[:2]).removesuffix(".py")
    if filename.startswith("<"):
        return filename
    return "stdlib:" + Path(filename).stem


def _own(snapshot: tracemalloc.Snapshot) -> tracemalloc.Snapshot:
    return snapshot.filter_traces(
        (
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, __file__),
        )
    )


def growth(
    snapshot: tracemalloc.Snapshot, baseline: tracemalloc.Snapshot, top: int = TOP
) -> list[list[Any]]:
    """The lines whose allocations grew most since ``baseline``: [where, MiB, count]."""
    mib = 1024 * 1024
    diff = snapshot.compare_to(baseline, "lineno")
    return [
        [
            f"{d.traceback[0].filename}:{d.traceback[0].lineno}",
            round(d.size_diff / mib, 2),
            d.count_diff,
        ]
        for d in diff[:top]
    ]


def report(snapshot: tracemalloc.Snapshot, top: int = TOP) -> dict[str, Any]:
    by_file = snapshot.statistics("filename")
    packages: dict[str, int] = {}
    for stat in by_file:
        name = package_of(stat.traceback[0].filename)
        packages[name] = packages.get(name, 0) + stat.size
    mib = 1024 * 1024
    return {
        "traced_mib": round(sum(s.size for s in by_file) / mib, 2),
        "by_package": [
            [name, round(size / mib, 2)]
            for name, size in sorted(packages.items(), key=lambda kv: -kv[1])[:top]
        ],
        "by_file": [
            [s.traceback[0].filename, round(s.size / mib, 2), s.count] for s in by_file[:top]
        ],
        "by_line": [
            [f"{s.traceback[0].filename}:{s.traceback[0].lineno}", round(s.size / mib, 2), s.count]
            for s in snapshot.statistics("lineno")[:top]
        ],
    }


def watch(out: Path, stop: threading.Event) -> None:
    request = out.with_name(out.name + ".request")
    baseline: tracemalloc.Snapshot | None = None
    for _ in range(MAX_POLLS):
        if stop.wait(0.2):
            return
        if request.exists():
            snapshot = _own(tracemalloc.take_snapshot())
            found = report(snapshot)
            if baseline is None:
                baseline = snapshot
            else:
                found["growth_by_line"] = growth(snapshot, baseline)
            tmp = out.with_name(out.name + ".tmp")
            tmp.write_text(json.dumps(found, indent=1))
            tmp.replace(out)
            request.unlink(missing_ok=True)


def main() -> None:
    tracemalloc.start(1)  # before the server's first import (the stdlib's few are not)
    stop = threading.Event()
    out = os.environ.get("BENCH_TRACEMALLOC_OUT")
    if out:
        threading.Thread(target=watch, args=(Path(out), stop), daemon=True).start()
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if p != here]  # bench/'s modules shadow no one's
    try:
        runpy.run_module("conduwuit", run_name="__main__", alter_sys=True)
    finally:
        stop.set()


if __name__ == "__main__":
    main()
