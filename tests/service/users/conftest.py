from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conduwuit.db import Database, DatabaseOptions
from conduwuit.server import services_over
from conduwuit.service.services import UserServices
from tests.kit.homeserver import FakeClock, homeserver_config


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(DatabaseOptions(path=tmp_path / "db"))
    yield database
    database.close()


@pytest.fixture
def users(db: Database, clock: FakeClock, tmp_path: Path) -> UserServices:
    config = homeserver_config(tmp_path / "unused", forbidden_usernames='["admin"]')
    return services_over(config, db, clock).users
