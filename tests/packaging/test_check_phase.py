"""The Nix package's check phase, exercised outside Nix.

nix/check-phase.json names the package's source files and the test paths its
checkPhase leaves out (with reasons). Here the same file set (as nixpkgs' real
lib.fileset computes it, nix/tests/real-lib.nix) is copied into an empty
directory and pytest runs there with the same selection, so a test that reads a
file the package leaves out, or imports a module nix/python-deps.nix does not
list, fails CI before it fails `nix build` on a user's machine.

The whole selection is collected (every import); the tests that read files of the
repository outside the Python packages are run; the rest of the suite runs in
`make test` from the checkout, which has the same Python files.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.units import REAL_LIB_NIX, ROOT, real_lib_eval

SPEC = json.loads((ROOT / "nix" / "check-phase.json").read_text())
DISABLED = list(SPEC["disabledTestPaths"])
# As pytestCheckHook passes disabledTests: -k "not (a or b)".
DESELECT = ["-k", "not (" + " or ".join(SPEC["disabledTests"]) + ")"]
# Tests that read the repository outside conduwuit/ and tests/ (by a path from
# their own file): run in the copy. Any other test doing so must be added here.
READS_REPOSITORY = [
    "tests/admin/test_reference.py",
    "tests/bench/test_runner.py",
    "tests/complement/test_results.py",
    "tests/config/test_example.py",
    "tests/db/test_regroup.py",
    "tests/http/test_lazy_routes.py",
    "tests/http/test_metrics.py",
    "tests/service/metrics/test_lazy_import.py",
]
# Import name -> nixpkgs attribute, where they differ.
NIXPKGS_NAME = {
    "nacl": "pynacl",
    "argon2": "argon2-cffi",
    "dns": "dnspython",
    "PIL": "pillow",
    "nio": "matrix-nio",
    "tomli_w": "tomli-w",
    "pydantic_core": "pydantic",
    "yaml": "pyyaml",
}
LOCAL = {"conduwuit", "tests", "bench", "complement"}

needs_real_lib = pytest.mark.skipif(
    not REAL_LIB_NIX.exists(), reason="needs nix/.cache/trixie (bash nix/check-real-lib.sh)"
)


def disabled(path: str) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in DISABLED)


def python_deps() -> set[str]:
    """The runtime and test lists of nix/python-deps.nix."""
    text = (ROOT / "nix" / "python-deps.nix").read_text()
    names: set[str] = set()
    for group in ("runtime", "test"):
        body = re.search(group + r" = with ps; \[(.*?)\];", text, re.DOTALL)
        assert body is not None, group
        lines = (line.split("#")[0].strip() for line in body.group(1).splitlines())
        names.update(line for line in lines if line)
    return names


def top_level_imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.fixture(scope="module")
def package_files() -> list[str]:
    files: list[str] = real_lib_eval("")["packageFiles"]
    return files


@needs_real_lib
def test_every_import_is_a_nix_dependency(package_files: list[str]) -> None:
    deps = python_deps()
    missing = {}
    for path in package_files:
        if not path.endswith(".py") or disabled(path):
            continue
        for name in top_level_imports((ROOT / path).read_text()):
            if name in sys.stdlib_module_names or name in LOCAL or name == "__future__":
                continue
            if NIXPKGS_NAME.get(name, name.replace("_", "-")) not in deps:
                missing.setdefault(name, path)
    assert missing == {}, f"imported but not in nix/python-deps.nix: {missing}"


def test_tests_reading_the_repository_are_run_here() -> None:
    # Needs no Nix: it runs everywhere, so a new test reading the checkout is caught
    # by `make test` on a developer's machine, not only in CI.
    pattern = re.compile(r"parents\[[2-9]\]|parent\.parent\.parent")
    readers = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests").rglob("*.py")
        if pattern.search(path.read_text())
    }
    unknown = {p for p in readers if not disabled(p) and p not in READS_REPOSITORY}
    # Reads conduwuit/ only, which the package has.
    unknown.discard("tests/core/test_errors_convention.py")
    assert unknown == set()


@needs_real_lib
def test_check_phase_selection_on_the_package_files(
    package_files: list[str], tmp_path: Path
) -> None:
    tree = tmp_path / "source"
    for path in package_files:
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, tree / path)
    ignore = [f"--ignore-glob={path}" for path in DISABLED]
    base = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *ignore, *DESELECT]

    collected = subprocess.run(
        [*base, "--collect-only"], cwd=tree, capture_output=True, text=True, timeout=300
    )
    assert collected.returncode == 0, collected.stdout[-4000:] + collected.stderr[-2000:]
    assert re.search(r"\d+ tests? collected", collected.stdout), collected.stdout[-2000:]

    ran = subprocess.run(
        [*base, *READS_REPOSITORY], cwd=tree, capture_output=True, text=True, timeout=600
    )
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
