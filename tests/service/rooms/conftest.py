"""A room stack over a real RocksDB in a temp directory, with no HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conduwuit.core.ids import UserId
from conduwuit.db import Database, DatabaseOptions
from conduwuit.server import services_over
from conduwuit.service.notifier import Notifier
from conduwuit.service.rooms.actions import RoomActions
from conduwuit.service.rooms.history import RoomHistory
from conduwuit.service.rooms.membership import Membership
from conduwuit.service.rooms.storage import RoomStorage
from conduwuit.service.services import Services
from tests.kit.homeserver import homeserver_config

SERVER = "test.example"
ALICE = UserId.parse(f"@alice:{SERVER}")
BOB = UserId.parse(f"@bob:{SERVER}")
CAROL = UserId.parse(f"@carol:{SERVER}")


class Clock:
    """A clock that ticks one millisecond per reading, so every event has its own time."""

    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        self.now += 1
        return self.now


@dataclass
class Stack:
    """The room services of a server built by the composition root (no HTTP)."""

    services: Services
    clock: Clock

    @property
    def db(self) -> Database:
        return self.services.db

    @property
    def storage(self) -> RoomStorage:
        return self.services.rooms.storage

    @property
    def actions(self) -> RoomActions:
        return self.services.rooms.actions

    @property
    def membership(self) -> Membership:
        return self.services.rooms.membership

    @property
    def history(self) -> RoomHistory:
        return self.services.rooms.history

    @property
    def notifier(self) -> Notifier:
        return self.services.notifier


def build(db: Database, tmp_path: Path, **options: object) -> Stack:
    """Every service over ``db`` through ``conduwuit.server``; options as in the config."""
    config = homeserver_config(
        tmp_path / "unused", forbidden_alias_names='["forbidden"]', **options
    )
    clock = Clock()
    return Stack(services_over(config, db, clock), clock)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(DatabaseOptions(path=tmp_path / "db"))
    yield database
    database.close()


@pytest.fixture
def stack(db: Database, tmp_path: Path) -> Stack:
    return build(db, tmp_path)
