"""Sliding sync connections on disk (real RocksDB): what a restart keeps, what it
forgets, and the bounds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conduwuit.core.errors import MatrixError
from conduwuit.db import Database, DatabaseOptions
from conduwuit.db.maps import MAPS
from conduwuit.service.sliding_sync import connections as module
from conduwuit.service.sliding_sync.connections import Connections, ConnState, SentRoom
from conduwuit.service.sliding_sync.stored import ConnectionStore

KEY = ("@u:x", "DEV", "room-list")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(DatabaseOptions(path=tmp_path / "db"))
    yield database
    database.close()


def _room(since: int, *lazy: str) -> SentRoom:
    return SentRoom(
        since, "join", frozenset({("m.room.name", ""), ("*", "$ME")}), since, frozenset(lazy), 5
    )


def _rows(db: Database) -> int:
    return sum(1 for _ in db.map(MAPS.userdeviceconnidroomid_slidingroom).iter_prefix(b""))


def test_a_restart_keeps_the_newest_position_and_the_one_it_answered(db: Database) -> None:
    now = [1000.0]
    before = Connections(lambda: now[0], ConnectionStore(db))
    first = before.commit(KEY, None, ConnState({"!a:x": _room(3)}, {"all": 1}))
    second_state = ConnState({"!a:x": _room(7, "@v:x"), "!b:x": _room(7)}, {"all": 2})
    second = before.commit(KEY, first, second_state)
    third_state = ConnState({"!b:x": _room(9)}, {"all": 1})
    third = before.commit(KEY, second, third_state)

    after = Connections(lambda: now[0], ConnectionStore(db))
    assert after.stats()["on_disk_only"] == 1
    assert after.state_at(KEY, third) == third_state
    # The position the newest was answered from (a retry after a lost response).
    assert after.state_at(KEY, second) == second_state
    assert after.stats()["on_disk_only"] == 0
    with pytest.raises(MatrixError) as caught:
        after.state_at(KEY, first)
    assert caught.value.errcode == "M_UNKNOWN_POS"
    # Numbering goes on after the stored positions.
    assert after.commit(KEY, third, ConnState({}, {"all": 0})) == third + 1


def test_only_changed_rooms_are_written_and_gone_ones_deleted(db: Database) -> None:
    store = ConnectionStore(db)
    conns = Connections(lambda: 0.0, store)
    rooms = {f"!{i}:x": _room(i) for i in range(50)}
    pos = conns.commit(KEY, None, ConnState(rooms))
    assert _rows(db) == 50
    written: list[int] = []
    real = store._save

    def counting(*args: object, **kw: object) -> None:
        written.append(len(args[2]))  # type: ignore[arg-type]
        real(*args, **kw)  # type: ignore[arg-type]

    store._save = counting  # type: ignore[method-assign]
    changed = dict(rooms)
    changed["!0:x"] = _room(60)
    del changed["!1:x"]
    pos = conns.commit(KEY, pos, ConnState(changed))
    assert written == [1] and _rows(db) == 49
    assert Connections(lambda: 0.0, ConnectionStore(db)).state_at(KEY, pos).rooms == changed


def test_a_new_connection_replaces_the_stored_one(db: Database) -> None:
    conns = Connections(lambda: 0.0, ConnectionStore(db))
    old = conns.commit(KEY, None, ConnState({"!a:x": _room(1), "!b:x": _room(1)}))
    conns.state_at(KEY, None)  # a request without pos
    new = conns.commit(KEY, None, ConnState({"!c:x": _room(2)}))
    assert _rows(db) == 1
    restarted = Connections(lambda: 0.0, ConnectionStore(db))
    assert set(restarted.state_at(KEY, new).rooms) == {"!c:x"}
    if old != new:
        with pytest.raises(MatrixError):
            restarted.state_at(KEY, old)


def test_idle_connections_leave_memory_then_expire_from_disk(db: Database) -> None:
    now = [1000.0]
    conns = Connections(lambda: now[0], ConnectionStore(db))
    pos = conns.commit(KEY, None, ConnState({"!a:x": _room(1)}))
    now[0] += module.UNLOAD_S + 1
    conns.expire()
    assert conns.stats() == {
        "connections": 1,
        "on_disk_only": 1,
        "positions": 0,
        "rooms": 0,
        "lazy_members": 0,
    }
    assert set(conns.state_at(KEY, pos).rooms) == {"!a:x"}  # read back
    now[0] += module.IDLE_S + 1
    with pytest.raises(MatrixError):
        conns.state_at(KEY, pos)
    assert _rows(db) == 0
    assert list(db.map(MAPS.userdeviceconnid_slidingconn).iter_prefix(b"")) == []
    # Expired on disk while the server was down: gone at start.
    conns.commit(KEY, None, ConnState({"!a:x": _room(1)}))
    now[0] += module.IDLE_S + 1
    assert Connections(lambda: now[0], ConnectionStore(db)).stats()["connections"] == 0
    assert _rows(db) == 0


def test_the_bounds_hold_at_start(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    conns = Connections(lambda: now[0], ConnectionStore(db))
    for i in range(5):
        now[0] += 1
        conns.commit(("@u:x", "DEV", str(i)), None, ConnState({"!a:x": _room(1)}))
    monkeypatch.setattr(module, "MAX_CONNECTIONS", 3)
    monkeypatch.setattr(module, "MAX_PER_USER", 2)
    restarted = Connections(lambda: now[0], ConnectionStore(db))
    assert restarted.stats()["connections"] == 2
    # The most recently used stay.
    assert set(restarted.state_at(("@u:x", "DEV", "4"), 1).rooms) == {"!a:x"}
    assert _rows(db) == 2


def test_an_unreadable_stored_connection_is_dropped(db: Database) -> None:
    conns = Connections(lambda: 0.0, ConnectionStore(db))
    pos = conns.commit(KEY, None, ConnState({"!a:x": _room(1)}))
    headers = db.map(MAPS.userdeviceconnid_slidingconn)
    headers.put(b"@u:x\xffDEV\xffroom-list", b"{not json")
    restarted = Connections(lambda: 0.0, ConnectionStore(db))
    assert restarted.stats()["connections"] == 0
    with pytest.raises(MatrixError):
        restarted.state_at(KEY, pos)
    assert _rows(db) == 0
