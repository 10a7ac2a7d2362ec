"""Sliding sync connections on disk (real RocksDB): what a restart keeps, what it
forgets, and the bounds."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conduwuit.core.errors import MatrixError
from conduwuit.db import Database, DatabaseOptions
from conduwuit.db.maps import MAPS
from conduwuit.service.sliding_sync import connections as module
from conduwuit.service.sliding_sync.connections import Connections, ConnKey, ConnState, SentRoom
from conduwuit.service.sliding_sync.stored import ConnectionStore, Header

KEY = ("@u:x", "DEV", "room-list")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(DatabaseOptions(path=tmp_path / "db"))
    yield database
    database.close()


@pytest.fixture
def store(db: Database) -> Iterator[Callable[[], ConnectionStore]]:
    """Opens stores over ``db`` (one per "process"); their queued writes are finished
    before the database closes, as ``Services.close`` does."""
    opened: list[ConnectionStore] = []

    def open_store() -> ConnectionStore:
        opened.append(ConnectionStore(db))
        return opened[-1]

    yield open_store
    for each in opened:
        each.close()


def _room(since: int, *lazy: str) -> SentRoom:
    return SentRoom(
        since, "join", frozenset({("m.room.name", ""), ("*", "$ME")}), since, frozenset(lazy), 5
    )


def _rows(db: Database) -> int:
    return sum(1 for _ in db.map(MAPS.userdeviceconnidroomid_slidingroom).iter_prefix(b""))


def test_a_restart_keeps_the_newest_position_and_the_one_it_answered(
    db: Database, store: Callable[[], ConnectionStore]
) -> None:
    now = [1000.0]
    before = Connections(lambda: now[0], store())
    first = before.commit(KEY, None, ConnState({"!a:x": _room(3)}, {"all": 1}))
    second_state = ConnState({"!a:x": _room(7, "@v:x"), "!b:x": _room(7)}, {"all": 2})
    second = before.commit(KEY, first, second_state)
    third_state = ConnState({"!b:x": _room(9)}, {"all": 1})
    third = before.commit(KEY, second, third_state)
    before.close()  # the process stops: its queued writes finish

    after = Connections(lambda: now[0], store())
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


def test_only_changed_rooms_are_written_and_gone_ones_deleted(
    db: Database, store: Callable[[], ConnectionStore]
) -> None:
    first = store()
    conns = Connections(lambda: 0.0, first)
    rooms = {f"!{i}:x": _room(i) for i in range(50)}
    pos = conns.commit(KEY, None, ConnState(rooms))
    first.flush()
    assert _rows(db) == 50
    written: list[int] = []
    real = first._save

    def counting(*args: object, **kw: object) -> None:
        written.append(len(args[2]))  # type: ignore[arg-type]
        real(*args, **kw)  # type: ignore[arg-type]

    first._save = counting  # type: ignore[method-assign]
    changed = dict(rooms)
    changed["!0:x"] = _room(60)
    del changed["!1:x"]
    pos = conns.commit(KEY, pos, ConnState(changed))
    first.flush()
    assert written == [1] and _rows(db) == 49
    assert Connections(lambda: 0.0, store()).state_at(KEY, pos).rooms == changed


def test_a_new_connection_replaces_the_stored_one(
    db: Database, store: Callable[[], ConnectionStore]
) -> None:
    first = store()
    conns = Connections(lambda: 0.0, first)
    old = conns.commit(KEY, None, ConnState({"!a:x": _room(1), "!b:x": _room(1)}))
    conns.state_at(KEY, None)  # a request without pos
    new = conns.commit(KEY, None, ConnState({"!c:x": _room(2)}))
    first.flush()
    assert _rows(db) == 1
    restarted = Connections(lambda: 0.0, store())
    assert set(restarted.state_at(KEY, new).rooms) == {"!c:x"}
    if old != new:
        with pytest.raises(MatrixError):
            restarted.state_at(KEY, old)


def test_idle_connections_leave_memory_then_expire_from_disk(
    db: Database, store: Callable[[], ConnectionStore]
) -> None:
    now = [1000.0]
    first = store()
    conns = Connections(lambda: now[0], first)
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
    first.flush()
    assert _rows(db) == 0
    assert list(db.map(MAPS.userdeviceconnid_slidingconn).iter_prefix(b"")) == []
    # Expired on disk while the server was down: gone at start.
    conns.commit(KEY, None, ConnState({"!a:x": _room(1)}))
    conns.close()
    now[0] += module.IDLE_S + 1
    second = store()
    assert Connections(lambda: now[0], second).stats()["connections"] == 0
    second.flush()
    assert _rows(db) == 0


def test_the_bounds_hold_at_start(
    db: Database, store: Callable[[], ConnectionStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [0.0]
    conns = Connections(lambda: now[0], store())
    for i in range(5):
        now[0] += 1
        conns.commit(("@u:x", "DEV", str(i)), None, ConnState({"!a:x": _room(1)}))
    conns.close()
    monkeypatch.setattr(module, "MAX_CONNECTIONS", 3)
    monkeypatch.setattr(module, "MAX_PER_USER", 2)
    second = store()
    restarted = Connections(lambda: now[0], second)
    assert restarted.stats()["connections"] == 2
    # The most recently used stay.
    assert set(restarted.state_at(("@u:x", "DEV", "4"), 1).rooms) == {"!a:x"}
    second.flush()
    assert _rows(db) == 2


def test_an_unreadable_stored_connection_is_dropped(
    db: Database, store: Callable[[], ConnectionStore]
) -> None:
    conns = Connections(lambda: 0.0, store())
    pos = conns.commit(KEY, None, ConnState({"!a:x": _room(1)}))
    conns.close()
    headers = db.map(MAPS.userdeviceconnid_slidingconn)
    headers.put(b"@u:x\xffDEV\xffroom-list", b"{not json")
    restarted = Connections(lambda: 0.0, store())
    assert restarted.stats()["connections"] == 0
    with pytest.raises(MatrixError):
        restarted.state_at(KEY, pos)
    assert _rows(db) == 0


def test_writes_run_off_the_callers_thread_in_the_order_asked(
    db: Database, store: Callable[[], ConnectionStore]
) -> None:
    """A slow first write does not hold up ``commit`` (the loop); the writes after it
    wait their turn, so an earlier one never overwrites a later one, and a read of
    the connection (here after it left memory) waits for them."""
    first = store()
    real = first._save
    release = threading.Event()
    saved: list[tuple[int, int]] = []

    def slow_first(conn: ConnKey, header: Header, *args: Any, **kw: Any) -> None:
        if not saved:
            assert release.wait(10)
        saved.append((header.pos, threading.get_ident()))
        real(conn, header, *args, **kw)

    first._save = slow_first  # type: ignore[method-assign]
    now = [1000.0]
    conns = Connections(lambda: now[0], first)
    states = [ConnState({f"!{i}:x": _room(i) for i in range(n)}, {"all": n}) for n in (30, 5, 9)]
    started = time.monotonic()
    pos = conns.commit(KEY, None, states[0])
    for state in states[1:]:
        pos = conns.commit(KEY, pos, state)
    assert time.monotonic() - started < 5  # the first write is still waiting
    assert saved == []
    now[0] += module.UNLOAD_S + 1
    conns.expire()  # leaves memory with its writes still queued
    threading.Timer(0.2, release.set).start()
    assert conns.state_at(KEY, pos) == states[-1]  # read back after the queued writes
    assert [p for p, _ in saved] == [1, 2, 3]
    assert {thread for _, thread in saved} != {threading.get_ident()}
    conns.close()
    restarted = Connections(lambda: now[0], store())
    assert restarted.state_at(KEY, pos) == states[-1]
    assert restarted.state_at(KEY, pos - 1) == states[-2]


def test_after_a_failed_write_the_next_rewrites_the_connection(
    db: Database, store: Callable[[], ConnectionStore], caplog: pytest.LogCaptureFixture
) -> None:
    first = store()
    real = first._save
    failures = [OSError("disk full")]

    def failing_once(*args: Any, **kw: Any) -> None:
        if args[1].pos == 2 and failures:
            raise failures.pop()
        real(*args, **kw)

    first._save = failing_once  # type: ignore[method-assign]
    conns = Connections(lambda: 0.0, first)
    pos = conns.commit(KEY, None, ConnState({"!a:x": _room(1), "!b:x": _room(1)}))
    # Lost: !a changes and !b goes (the next write compares with this state).
    pos = conns.commit(KEY, pos, ConnState({"!a:x": _room(2)}))
    pos = conns.commit(KEY, pos, ConnState({"!a:x": _room(2), "!c:x": _room(3)}))
    conns.close()
    assert "could not store sliding sync connection" in caplog.text
    restarted = Connections(lambda: 0.0, store())
    assert restarted.state_at(KEY, pos).rooms == {"!a:x": _room(2), "!c:x": _room(3)}
    assert _rows(db) == 2


async def test_a_connection_is_read_back_off_the_loop(
    db: Database, store: Callable[[], ConnectionStore]
) -> None:
    now = [1000.0]
    first = Connections(lambda: now[0], store())
    state = ConnState({f"!{i}:x": _room(i) for i in range(30)}, {"all": 30})
    pos = first.commit(KEY, None, state)
    first.close()
    second = store()
    real = second._read
    reads: list[int] = []

    def recording(conn: ConnKey) -> Any:
        reads.append(threading.get_ident())
        return real(conn)

    second._read = recording  # type: ignore[method-assign]
    restarted = Connections(lambda: now[0], second)
    assert restarted.stats()["on_disk_only"] == 1
    await restarted.read_back(KEY)
    assert restarted.stats()["on_disk_only"] == 0
    assert restarted.state_at(KEY, pos) == state
    assert len(reads) == 1 and reads[0] != threading.get_ident()
    await restarted.read_back(("@u:x", "DEV", "unknown"))  # nothing to read: no error


async def test_a_connection_dropped_while_read_back_stays_dropped(
    db: Database, store: Callable[[], ConnectionStore]
) -> None:
    first = Connections(lambda: 0.0, store())
    first.commit(KEY, None, ConnState({"!a:x": _room(1)}))
    first.close()
    second = store()
    real = second._read
    release = threading.Event()

    def held(conn: ConnKey) -> Any:
        assert release.wait(10)
        return real(conn)

    second._read = held  # type: ignore[method-assign]
    restarted = Connections(lambda: 0.0, second)
    reading = asyncio.create_task(restarted.read_back(KEY))
    await asyncio.sleep(0.05)
    restarted.state_at(KEY, None)  # a request without pos replaces the connection
    release.set()
    await reading
    assert len(restarted) == 0
    second.flush()
    assert _rows(db) == 0
