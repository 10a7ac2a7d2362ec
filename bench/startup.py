"""Start-up time to the first 200 from /versions, and idle RSS, of a fresh server.

    python -m bench.startup [--runs 5] [--idle 2]

Prints one JSON object (medians and every run). A benchmark, not a test: run it on
a quiet machine and compare side by side (bench/run.py adds Synapse).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

READY_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> float:
    started = time.monotonic()
    while time.monotonic() - started < READY_TIMEOUT:
        if process.poll() is not None:
            raise RuntimeError("server exited during start-up")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return time.monotonic()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.005)
    raise TimeoutError(f"no 200 from {url} within {READY_TIMEOUT}s")


def one_run(idle: float) -> dict[str, Any]:
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="conduwuit-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDUWUIT_", "CONDUIT_"))}
        env.update(
            CONDUWUIT_SERVER_NAME="localhost",
            CONDUWUIT_DATABASE_PATH=str(Path(tmp) / "db"),
            CONDUWUIT_ADDRESS="127.0.0.1",
            CONDUWUIT_PORT=str(port),
            CONDUWUIT_LOG="warn",
        )
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "conduwuit"], env=env, stdout=subprocess.DEVNULL
        )
        try:
            ready = wait_ready(f"http://127.0.0.1:{port}/_matrix/client/versions", process)
            time.sleep(idle)
            rss = rss_kib(process.pid)
        finally:
            process.terminate()
            process.wait(30)
    return {"startup_s": round(ready - started, 4), "idle_rss_mib": round(rss / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=2.0, help="seconds idle before RSS")
    args = parser.parse_args()
    runs = [one_run(args.idle) for _ in range(max(1, min(args.runs, 50)))]
    print(
        json.dumps(
            {
                "scenario": "startup",
                "server": "conduwuit",
                "median_startup_s": statistics.median(r["startup_s"] for r in runs),
                "median_idle_rss_mib": statistics.median(r["idle_rss_mib"] for r in runs),
                "runs": runs,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
