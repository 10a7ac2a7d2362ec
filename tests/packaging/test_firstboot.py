"""The Pi image's first-boot script (images/firstboot.py): boot-partition TOML to env + token."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.packaging.units import ROOT

SCRIPT = ROOT / "images" / "firstboot.py"


def run(tmp_path: Path, text: str | None) -> tuple[str, Path]:
    source = tmp_path / "firmware" / "conduwuit.toml"
    source.parent.mkdir(exist_ok=True)
    if text is not None:
        source.write_text(text)
    elif source.exists():
        source.unlink()
    state = tmp_path / "state"
    env = dict(os.environ, FIRSTBOOT_SOURCE=str(source), FIRSTBOOT_STATE=str(state))
    result = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, state


def test_example_file_is_rejected_until_edited(tmp_path: Path) -> None:
    example = (ROOT / "images" / "conduwuit.toml.example").read_text()
    out, state = run(tmp_path, example.replace("matrix.example.org", "bad name"))
    assert "server_name must be your domain" in out
    assert not (state / "env").exists()


def test_configured(tmp_path: Path) -> None:
    out, state = run(
        tmp_path,
        'server_name = "Matrix.Family.example"\nregistration_token = " sesame-open "\n'
        'acme_email = "me@family.example"\n',
    )
    assert "configured for matrix.family.example" in out
    assert (state / "env").read_text().splitlines() == [
        "CONDUWUIT_SERVER_NAME=matrix.family.example",
        "SERVER_NAME=matrix.family.example",
        "ACME_EMAIL=me@family.example",
    ]
    token = state / "registration_token"
    assert token.read_text() == "sesame-open"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700

    # The file removed (or broken) later: the services stay stopped again.
    out, state = run(tmp_path, None)
    assert "not configured" in out and not (state / "env").exists()
    out, state = run(tmp_path, "server_name = [")
    assert "cannot read" in out and not (state / "env").exists()
