"""Reading systemd unit files and the Nix module's service settings, for the tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "conduwuit.service"
# Debian 13's Nix 2.26, which nix/check-real-lib.sh unpacks (CI runs it before the tests).
REAL_LIB_ROOT = ROOT / "nix" / ".cache" / "trixie"
REAL_LIB_NIX = REAL_LIB_ROOT / "usr" / "bin" / "nix-instantiate"


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


def real_lib_eval(arguments: str) -> Any:
    """nix/tests/real-lib.nix with nixpkgs' lib, evaluated by Nix 2.26 (nix/check-real-lib.sh)."""
    lib = ROOT.parent / "shared" / "nixpkgs-lib" / "lib"
    expression = f"import ./nix/tests/real-lib.nix {{ lib = import {lib}; {arguments} }}"
    with tempfile.TemporaryDirectory() as state:
        result = subprocess.run(
            [
                str(REAL_LIB_ROOT / "lib64" / "ld-linux-x86-64.so.2"),
                "--library-path",
                f"{REAL_LIB_ROOT}/usr/lib/x86_64-linux-gnu:{REAL_LIB_ROOT}/lib/x86_64-linux-gnu",
                str(REAL_LIB_NIX),
                "--eval",
                "--strict",
                "--json",
                "-E",
                expression,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "NIX_STATE_DIR": state, "NIX_CONFIG": "build-users-group ="},
        )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
