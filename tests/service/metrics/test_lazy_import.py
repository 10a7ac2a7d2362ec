"""A server without ``allow_metrics`` never loads prometheus_client (issue 21: every
module imported at start-up is resident for the process's life on a Pi)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
from tests.kit.homeserver import homeserver_config
from conduwuit.server import build

loaded = {}
for on in (False, True):
    server = build(homeserver_config(__import__("pathlib").Path(sys.argv[1]) / str(on),
                                     allow_metrics=on))
    loaded[str(on)] = "prometheus_client" in sys.modules
    server.services.close()
print(json.dumps(loaded))
"""


def test_prometheus_client_is_loaded_only_with_the_metrics_on(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"False": False, "True": True}
