"""nixos/check-state.sh: the NixOS module's ExecStartPre that refuses a foreign database.

The old state directory (/var/lib/private/conduwuit) may hold the Rust conduwuit's
RocksDB (nixpkgs' removed services.conduwuit) or this server's own from before the
module's rename; neither is taken silently.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.packaging.units import ROOT

SCRIPT = ROOT / "nixos" / "check-state.sh"


def run(state: Path, *old: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(SCRIPT), str(state), *map(str, old)],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_new_server_is_marked_and_starts(tmp_path: Path) -> None:
    state, old = tmp_path / "conduwuit-py", tmp_path / "conduwuit"
    state.mkdir()
    assert run(state, old).returncode == 0
    assert (state / ".conduwuit-py").exists()
    (state / "CURRENT").write_text("MANIFEST-000001\n")  # the server made its database
    assert run(state, old).returncode == 0


def test_old_database_is_refused_until_moved_or_acknowledged(tmp_path: Path) -> None:
    state, old = tmp_path / "conduwuit-py", tmp_path / "conduwuit"
    state.mkdir()
    old.mkdir()
    (old / "CURRENT").write_text("MANIFEST-000001\n")
    result = run(state, tmp_path / "absent", old)
    assert result.returncode == 1
    assert f"refusing to start: {old} holds a database" in result.stderr
    assert f"cp -a {old}/. {state}/ && touch {state}/.conduwuit-py" in result.stderr
    assert not (state / ".conduwuit-py").exists()

    # The admin's choice, as the message says: here, a new server.
    (state / ".conduwuit-py").touch()
    assert run(state, old).returncode == 0


def test_unmarked_database_in_the_state_directory_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "conduwuit-py"
    state.mkdir()
    (state / "CURRENT").write_text("MANIFEST-000001\n")
    result = run(state)
    assert result.returncode == 1
    assert "did not create" in result.stderr and "touch" in result.stderr
