"""A room stack over a real RocksDB in a temp directory, with no HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conduwuit.core.ids import UserId
from conduwuit.core.signing import Keypair
from conduwuit.db import Database, DatabaseOptions
from conduwuit.service.notifier import Notifier
from conduwuit.service.rooms import RoomCore
from conduwuit.service.rooms.aliases import Aliases
from conduwuit.service.rooms.membership import Membership
from conduwuit.service.rooms.ops import RoomOps, RoomsConfig
from conduwuit.service.rooms.reads import RoomReads

SERVER = "test.example"
ALICE = UserId.parse(f"@alice:{SERVER}")
BOB = UserId.parse(f"@bob:{SERVER}")
CAROL = UserId.parse(f"@carol:{SERVER}")


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        self.now += 1
        return self.now


@dataclass
class Stack:
    db: Database
    core: RoomCore
    ops: RoomOps
    members: Membership
    reads: RoomReads
    notifier: Notifier
    clock: Clock


def build(db: Database, config: RoomsConfig | None = None) -> Stack:
    keypair = Keypair.generate("test")
    clock = Clock()
    notifier = Notifier()
    core = RoomCore(db, SERVER, lambda: keypair, notifier, clock)
    aliases = Aliases(db, SERVER, ["forbidden"])
    ops = RoomOps(core, aliases, config or RoomsConfig(server_name=SERVER))
    return Stack(db, core, ops, Membership(ops), RoomReads(ops), notifier, clock)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(DatabaseOptions(path=tmp_path / "db"))
    yield database
    database.close()


@pytest.fixture
def stack(db: Database) -> Stack:
    return build(db)
