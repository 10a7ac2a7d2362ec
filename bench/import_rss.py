"""Where conduwuit's idle RSS goes: the RSS each import adds, in dependency order.

    python -m bench.import_rss [--runs 3] [--no-server] [--json]

A fresh interpreter per run imports the groups of :data:`STEPS` in turn (the
third-party libraries first, then the server's layers from the bottom up) and
reads its own RSS after each; a group's figure is what it adds over everything
before it (shared dependencies count where they first load). "all imports" is
the RSS after them: what start-up imports. Then :data:`ON_FIRST_USE`, the
libraries the server imports only when a request needs them (issue 21), are
imported on top, each with what it adds. Then a real server
is started (``python -m conduwuit``, fresh database) and its idle RSS set against
the sum: the remainder is what building and running the server costs beyond its
imports (RocksDB's buffers, the services' objects, the event loop, threads).
Medians over the runs; the machine may be shared, so a few hundred KiB is noise.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(REPO))

#: (label, modules), in the order the server needs them; ``module:function`` calls it.
STEPS: list[tuple[str, list[str]]] = [
    ("asyncio", ["asyncio"]),
    ("uvloop", ["uvloop"]),
    # as the server imports it: its import-time client contexts without the CAs
    (
        "aiohttp (server, client)",
        ["conduwuit.lean_imports:import_aiohttp_without_default_cas", "aiohttp.web"],
    ),
    ("ssl", ["ssl"]),
    ("pydantic", ["pydantic"]),
    ("config (model, TOML)", ["conduwuit.config"]),
    ("rocksdict", ["rocksdict"]),
    ("pynacl, canonicaljson", ["nacl.signing", "canonicaljson"]),
    ("argon2", ["argon2"]),
    ("core (Matrix algorithms)", ["conduwuit.core"]),
    ("db", ["conduwuit.db"]),
    ("service layer", ["conduwuit.service.services"]),
    ("api", ["conduwuit.api.routes"]),
    ("http", ["conduwuit.http.app"]),
    ("admin, server, runtime", ["conduwuit.server", "conduwuit.runtime"]),
]
#: Imported by the server on first use, not at start-up: measured after :data:`STEPS`.
ON_FIRST_USE: list[tuple[str, list[str]]] = [
    ("on first use: dnspython (federation)", ["conduwuit.service.federation.dns_wire"]),
    ("on first use: Pillow (thumbnails)", ["PIL.Image"]),
    ("on first use: PyYAML (appservices)", ["yaml"]),
    ("on first use: jinja2 (the root page)", ["jinja2"]),
    ("on first use: route handlers (conduwuit/api/lazy.py)", ["bench.import_rss:import_api"]),
]


def import_api() -> None:
    """Every module of ``conduwuit.api``: what the lazily loaded route groups add once
    each has had its first request."""
    import conduwuit.api

    for module in pkgutil.walk_packages(conduwuit.api.__path__, "conduwuit.api."):
        importlib.import_module(module.name)


def _self_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def child() -> None:
    """In a fresh interpreter: import the steps, print ``[label, kib]`` lines as JSON."""
    rows: list[tuple[str, int]] = [("interpreter (with site, this script)", _self_rss_kib())]
    for label, modules in STEPS + ON_FIRST_USE:
        for module in modules:
            name, _, function = module.partition(":")
            try:
                imported = importlib.import_module(name)
            except ImportError:
                continue
            if function:
                getattr(imported, function)()
        rows.append((label, _self_rss_kib()))
    print(json.dumps(rows))


def one_run() -> list[tuple[str, int]]:
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=REPO,
    )
    return [(label, int(kib)) for label, kib in json.loads(result.stdout)]


def idle_server_kib(idle_s: float) -> int:
    from bench.servers import Conduwuit  # not in the child: it would count its imports

    with Conduwuit() as server:
        server.start()
        time.sleep(idle_s)
        return server.rss_kib()


def breakdown(runs: int, with_server: bool, idle_s: float = 2.0) -> dict[str, float]:
    """Label -> MiB added (medians over ``runs``), and with the server its idle RSS."""
    samples: dict[str, list[int]] = {}
    totals: list[int] = []
    for _ in range(max(1, min(runs, 20))):
        previous = 0
        rows = one_run()
        for label, kib in rows:
            samples.setdefault(label, []).append(kib - previous)
            previous = kib
        totals.append(rows[len(STEPS)][1])  # the interpreter's row, then STEPS
    figures = {label: round(statistics.median(v) / 1024, 1) for label, v in samples.items()}
    figures["all imports"] = round(statistics.median(totals) / 1024, 1)
    if with_server:
        idle = statistics.median(idle_server_kib(idle_s) for _ in range(max(1, min(runs, 20))))
        figures["idle server"] = round(idle / 1024, 1)
        figures["beyond the imports"] = round(figures["idle server"] - figures["all imports"], 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-server", action="store_true", help="imports only")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child()
        return
    figures = breakdown(args.runs, not args.no_server)
    if args.json:
        print(json.dumps(figures, indent=1))
        return
    width = max(len(label) for label in figures)
    for label, mib in figures.items():
        print(f"{label.ljust(width)}  {mib:6.1f} MiB")


if __name__ == "__main__":
    main()
