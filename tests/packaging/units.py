"""Reading systemd unit files and the Nix module's service settings, for the tests."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "conduwuit.service"


def unit_lines(path: Path = UNIT) -> list[tuple[str, str]]:
    """(key, value) of every assignment, in order, comments and sections left out."""
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        lines.append((key.strip(), value.strip()))
    return lines


def hardening_block(path: Path = UNIT) -> list[tuple[str, str]]:
    text = path.read_text()
    block = text.split("# --- hardening (begin) ---")[1].split("# --- hardening (end) ---")[0]
    tmp = [line for line in block.splitlines() if line and not line.startswith("#")]
    return [(k, v) for k, _, v in (line.partition("=") for line in tmp)]


def systemd_value(value: Any) -> list[str]:
    """How NixOS writes a serviceConfig value: one line per list item."""
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, list):
        return [str(item) for item in value]
    return [str(value)]


def nix_eval(expression: str) -> Any:
    nix = shutil.which("nix-instantiate")
    assert nix is not None
    result = subprocess.run(
        [nix, "--eval", "--strict", "--json", "-E", expression],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
