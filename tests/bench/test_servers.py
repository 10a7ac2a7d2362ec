"""The bench's server launcher: what it does before the timed start-up."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from bench.servers import Conduwuit, compile_bytecode


def _package(root: Path) -> list[Path]:
    package = root / "conduwuit"
    (package / "sub").mkdir(parents=True)
    modules = [package / "__init__.py", package / "sub" / "__init__.py", package / "sub" / "m.py"]
    for module in modules:
        module.write_text("VALUE = 1\n")
    return modules


def test_compile_bytecode_writes_every_module(tmp_path: Path) -> None:
    modules = _package(tmp_path)
    compile_bytecode(tmp_path / "conduwuit")
    for module in modules:
        assert Path(importlib.util.cache_from_source(str(module))).is_file()


def test_conduwuit_prepare_compiles_the_checkout_it_runs(tmp_path: Path) -> None:
    # the start-up figure is an installed server's: bytecode compiled, not ~340 modules
    # compiled from source at every start (PYTHONDONTWRITEBYTECODE=1 here)
    modules = _package(tmp_path / "src")
    server = Conduwuit(src=tmp_path / "src", workdir=tmp_path / "work")
    assert not any(Path(importlib.util.cache_from_source(str(m))).exists() for m in modules)
    server.prepare()
    for module in modules:
        assert Path(importlib.util.cache_from_source(str(module))).is_file()
    assert server.process is None  # preparing launches nothing
