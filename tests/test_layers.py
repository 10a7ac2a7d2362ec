"""The layer contract (pyproject.toml, run by `make test`) holds, and it bites."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter not installed")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def copy_of_project(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "conduwuit", tree / "conduwuit", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


@pytest.mark.parametrize(
    ("module", "upward_import", "contract"),
    [
        ("service/clock.py", "from conduwuit.api import router", "Layers"),
        ("api/wire.py", "from conduwuit import server", "Layers"),
        ("core/ids.py", "from conduwuit.config import GlobalConfig", "core is pure"),
        ("db/map.py", "from conduwuit.core import ids", "db knows bytes"),
    ],
)
def test_an_upward_import_breaks_the_contract(
    tmp_path: Path, module: str, upward_import: str, contract: str
) -> None:
    tree = copy_of_project(tmp_path)
    kept = lint(tree)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    target = tree / "conduwuit" / module
    target.write_text(target.read_text() + f"\n{upward_import}  # noqa\n")
    broken = lint(tree)
    assert broken.returncode != 0
    assert f"{contract}" in broken.stdout and "BROKEN" in broken.stdout
