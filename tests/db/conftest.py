from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conduwuit.db import ALL_MAPS, Database, DatabaseOptions, MapSpec

# Maps that exist only in tests, opened beside the registered ones.
TEST_A = MapSpec("testkey_a", "test only: bytes -> bytes")
TEST_B = MapSpec("testkey_b", "test only: bytes -> bytes")
TEST_MAPS = (*ALL_MAPS, TEST_A, TEST_B)


@pytest.fixture
def options(tmp_path: Path) -> DatabaseOptions:
    return DatabaseOptions(path=tmp_path / "db", backup_path=tmp_path / "backups")


@pytest.fixture
def db(options: DatabaseOptions) -> Iterator[Database]:
    database = Database.open(options, maps=TEST_MAPS)
    yield database
    database.close()
