from __future__ import annotations

import pytest

from conduwuit.db import MAPS, Database, DatabaseError, DatabaseOptions, MapSpec
from conduwuit.db.codec import key, prefix, u64
from conduwuit.db.maps import GLOBAL_COUNTER
from conduwuit.db.migrations import MIGRATIONS, latest_version

from .conftest import TEST_A, TEST_B, TEST_MAPS


def test_point_operations(db: Database) -> None:
    a = db.map(TEST_A)
    assert a.get(b"k") is None and not a.contains(b"k")
    a.put(b"k", b"v")
    assert a.get(b"k") == b"v" and a.contains(b"k")
    a.put(b"k", b"")
    assert a.get(b"k") == b"" and a.contains(b"k")
    a.delete(b"k")
    assert a.get(b"k") is None
    assert db.map(TEST_B).get(b"k") is None  # maps are separate


def test_unknown_map_is_an_error(db: Database) -> None:
    with pytest.raises(DatabaseError, match="not opened"):
        db.map(MapSpec("nowhere_nothing", "x"))


def _fill(db: Database) -> list[bytes]:
    a = db.map(TEST_A)
    keys = [key("room", n) for n in (0, 1, 255, 256, 2**40)]
    keys += [key("roo", 1), key("roomy", 1), b"room", b"\xff", b"\xff\xff\xff"]
    for k in keys:
        a.put(k, b"v" + k)
    return sorted(keys)


def test_iter_prefix_forward_and_backward(db: Database) -> None:
    _fill(db)
    a = db.map(TEST_A)
    room = [k for k, _ in a.iter_prefix(prefix("room"))]
    assert room == [key("room", n) for n in (0, 1, 255, 256, 2**40)]
    assert [k for k, _ in a.iter_prefix(prefix("room"), reverse=True)] == room[::-1]
    assert dict(a.iter_prefix(prefix("room")))[key("room", 1)] == b"v" + key("room", 1)
    assert a.count_prefix(prefix("room")) == 5
    assert a.count_prefix(b"roo") == 8
    assert list(a.iter_prefix(b"nothing")) == []
    assert a.count_prefix(b"nothing") == 0


def test_iter_prefix_of_0xff_and_empty(db: Database) -> None:
    everything = _fill(db)
    a = db.map(TEST_A)
    assert [k for k, _ in a.iter_prefix(b"")] == everything
    assert [k for k, _ in a.iter_prefix(b"", reverse=True)] == everything[::-1]
    assert [k for k, _ in a.iter_prefix(b"\xff\xff")] == [b"\xff\xff\xff"]
    assert [k for k, _ in a.iter_prefix(b"\xff", reverse=True)] == [b"\xff\xff\xff", b"\xff"]


def test_iter_range_bounds(db: Database) -> None:
    everything = _fill(db)
    a = db.map(TEST_A)
    start, end = key("room", 1), key("room", 256)
    expected = [k for k in everything if start <= k < end]
    assert expected == [key("room", 1), key("room", 255)]  # start inclusive, end exclusive
    assert [k for k, _ in a.iter_range(start, end)] == expected
    assert [k for k, _ in a.iter_range(start, end, reverse=True)] == expected[::-1]
    assert [k for k, _ in a.iter_range(None, None)] == everything
    assert [k for k, _ in a.iter_range(None, b"room", reverse=True)] == [
        k for k in everything if k < b"room"
    ][::-1]
    assert [k for k, _ in a.iter_range(b"room\xff", None)] == [
        k for k in everything if k >= b"room\xff"
    ]
    assert list(a.iter_range(end, start)) == []
    assert list(a.iter_range(end, start, reverse=True)) == []
    # bounds that fall between keys
    between = [k for k, _ in a.iter_range(key("room", 2), key("room", 300), reverse=True)]
    assert between == [key("room", 256), key("room", 255)]


def test_iteration_is_lazy(db: Database) -> None:
    a = db.map(TEST_A)
    for n in range(1000):
        a.put(u64(n), b"x")
    it = a.iter_range(u64(10), None)
    assert next(it)[0] == u64(10)
    a.delete(u64(11))  # the open iterator reads a consistent view of its own
    assert next(it)[0] == u64(11)


def test_batch_is_atomic_across_maps(db: Database) -> None:
    a, b, g = db.map(TEST_A), db.map(TEST_B), db.map(MAPS.global_)
    a.put(b"old", b"1")
    with pytest.raises(RuntimeError), db.batch() as batch:
        batch.put(a, b"x", b"1")
        batch.put(b, b"x", b"2")
        batch.delete(a, b"old")
        raise RuntimeError("abandon")
    assert a.get(b"x") is None and b.get(b"x") is None and a.get(b"old") == b"1"

    with db.batch() as batch:
        batch.put(a, b"x", b"1")
        batch.put(b, b"x", b"2")
        batch.put(g, b"y", b"3")
        batch.delete(a, b"old")
        assert len(batch) == 4
    assert (a.get(b"x"), b.get(b"x"), g.get(b"y"), a.get(b"old")) == (b"1", b"2", b"3", None)


def test_after_commit_runs_once_the_writes_are_visible(db: Database) -> None:
    a = db.map(TEST_A)
    seen: list[bytes | None] = []
    with db.batch() as batch:
        batch.put(a, b"k", b"v")
        batch.after_commit(lambda: seen.append(a.get(b"k")))
        assert seen == []
    assert seen == [b"v"]
    with pytest.raises(RuntimeError), db.batch() as batch:
        batch.put(a, b"k2", b"v")
        batch.after_commit(lambda: seen.append(b"discarded"))
        raise RuntimeError("abandon")
    assert seen == [b"v"]
    with pytest.raises(DatabaseError):
        batch.after_commit(lambda: None)


def test_staged_record_is_per_map_and_lives_as_long_as_the_batch(db: Database) -> None:
    a, b = db.map(TEST_A), db.map(TEST_B)
    with db.batch() as batch:
        batch.staged(a)[b"k"] = b"1"
        assert batch.staged(a) == {b"k": b"1"}
        assert batch.staged(b) == {}
    with pytest.raises(DatabaseError):
        batch.staged(a)
    with db.batch() as fresh:
        assert fresh.staged(a) == {}
        fresh.discard()
    # The record is the caller's memory, not a write: nothing reached the map.
    assert a.get(b"k") is None


def test_batch_delete_range_and_reuse(db: Database) -> None:
    a = db.map(TEST_A)
    for n in range(5):
        a.put(u64(n), b"x")
    batch = db.batch()
    batch.delete_range(a, u64(1), u64(4))
    batch.commit()
    assert [k for k, _ in a.iter_prefix(b"")] == [u64(0), u64(4)]
    with pytest.raises(DatabaseError, match="already committed"):
        batch.put(a, b"k", b"v")
    with pytest.raises(DatabaseError, match="already committed"):
        batch.commit()


def test_batch_refuses_maps_of_another_database(db: Database) -> None:
    other_options = DatabaseOptions(path=db.options.path.parent / "other")
    with Database.open(other_options, maps=TEST_MAPS) as other:
        with pytest.raises(DatabaseError, match="another database"):
            db.batch().put(other.map(TEST_A), b"k", b"v")


def test_counter_is_monotonic_and_survives_reopen(options: DatabaseOptions) -> None:
    with Database.open(options) as db:
        assert db.current_count() == 0
        assert [db.next_count() for _ in range(3)] == [1, 2, 3]
        with db.batch() as batch:
            assert batch.next_count() == 4
            assert batch.next_count() == 5
            assert db.current_count() == 3  # not yet written
        assert db.current_count() == 5
        abandoned = db.batch()
        assert abandoned.next_count() == 6
        abandoned.discard()
        assert db.current_count() == 5
        # a batch that reserved early but commits late never moves the stored counter back
        early = db.batch()
        assert early.next_count() == 7
        assert db.next_count() == 8
        early.commit()
        assert db.map(MAPS.global_).get(GLOBAL_COUNTER) == u64(8)
    with Database.open(options) as db:
        assert db.current_count() == 8
        assert db.next_count() == 9


def test_positions_become_visible_in_order(db: Database) -> None:
    """Two writers (say, two rooms) reserve 1 and 2; 2 commits first. A reader must
    not see position 2 before 1 is in, and what waits for 2 runs only then."""
    a = db.map(TEST_A)
    seen: list[tuple[str, int]] = []
    first, second = db.batch(), db.batch()
    assert (first.next_count(), second.next_count()) == (1, 2)
    first.put(a, b"1", b"")
    second.put(a, b"2", b"")
    first.after_commit(lambda: seen.append(("first", db.current_count())))
    second.after_commit(lambda: seen.append(("second", db.current_count())))
    second.commit()
    assert a.get(b"2") == b""  # written, but not yet a position a reader may use
    assert db.current_count() == 0
    assert seen == []
    first.commit()
    assert db.current_count() == 2
    assert seen == [("first", 2), ("second", 2)]


def test_a_discarded_reservation_does_not_hold_back_later_positions(db: Database) -> None:
    seen: list[int] = []
    dropped, kept = db.batch(), db.batch()
    assert (dropped.next_count(), kept.next_count()) == (1, 2)
    kept.after_commit(lambda: seen.append(db.current_count()))
    kept.commit()
    assert (db.current_count(), seen) == (0, [])
    dropped.discard()
    assert (db.current_count(), seen) == (2, [2])
    with pytest.raises(ValueError, match="boom"), db.batch() as failed:
        failed.next_count()
        raise ValueError("boom")
    assert db.next_count() == 4
    assert db.current_count() == 4


def test_snapshot_reads_are_consistent_across_maps(db: Database) -> None:
    a, b = db.map(TEST_A), db.map(TEST_B)
    a.put(b"k", b"1")
    b.put(b"k", b"1")
    with db.snapshot() as snap:
        with db.batch() as batch:
            batch.put(a, b"k", b"2")
            batch.delete(b, b"k")
            batch.put(b, b"new", b"x")
        assert snap.map(TEST_A).get(b"k") == b"1"
        assert snap.map(TEST_B).get(b"k") == b"1"
        assert snap.map(TEST_B).contains(b"k")
        assert snap.map(TEST_B).get(b"new") is None
    assert (a.get(b"k"), b.get(b"k"), b.get(b"new")) == (b"2", None, b"x")


def test_close_is_idempotent_and_releases_the_database(options: DatabaseOptions) -> None:
    db = Database.open(options, maps=TEST_MAPS)
    a = db.map(TEST_A)
    a.put(b"k", b"v")
    snap = db.snapshot()  # left open on purpose: close() must release it
    db.close()
    db.close()
    assert db.closed
    with pytest.raises(DatabaseError, match="closed"):
        a.get(b"k")
    with pytest.raises(DatabaseError, match="closed"):
        snap.map(TEST_A).get(b"k")
    with Database.open(options, maps=TEST_MAPS) as again:
        assert again.map(TEST_A).get(b"k") == b"v"


def test_flush_keeps_data(options: DatabaseOptions) -> None:
    with Database.open(options, maps=TEST_MAPS) as db:
        db.map(TEST_A).put(b"k", b"v")
        db.flush()
    with Database.open(options, maps=TEST_MAPS) as db:
        assert db.map(TEST_A).get(b"k") == b"v"


def test_maps_not_in_the_registry_are_kept(options: DatabaseOptions) -> None:
    with Database.open(options, maps=TEST_MAPS) as db:
        db.map(TEST_A).put(b"k", b"v")
    # Opened by code that no longer registers testkey_a: RocksDB must still open.
    with Database.open(options) as db:
        assert db.schema_version == latest_version(MIGRATIONS)
    with Database.open(options, maps=TEST_MAPS) as db:
        assert db.map(TEST_A).get(b"k") == b"v"


def test_sync_writes_option(options: DatabaseOptions) -> None:
    synced = DatabaseOptions(path=options.path, sync_writes=True)
    with Database.open(synced, maps=TEST_MAPS) as db:
        db.map(TEST_A).put(b"k", b"v")
        with db.batch(sync=False) as batch:
            batch.put(db.map(TEST_B), b"k", b"v")
    with Database.open(options, maps=TEST_MAPS) as db:
        assert db.map(TEST_B).get(b"k") == b"v"
