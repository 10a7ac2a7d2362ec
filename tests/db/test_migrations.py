from __future__ import annotations

import pytest

from conduwuit.db import MAPS, Batch, Database, DatabaseOptions, Migration, SchemaVersionError
from conduwuit.db.codec import key, u64
from conduwuit.db.migrations import MIGRATIONS, check_order, latest_version

from .conftest import TEST_A, TEST_MAPS


def _recording(log: list[int]) -> tuple[Migration, ...]:
    def make(version: int) -> Migration:
        def apply(db: Database, batch: Batch) -> None:
            log.append(version)
            batch.put(db.map(TEST_A), b"migrated", u64(version))

        return Migration(version, f"step {version}", apply)

    return (make(2), make(3), make(4))


def test_new_database_gets_latest_version_without_migrating(options: DatabaseOptions) -> None:
    ran: list[int] = []
    with Database.open(options, maps=TEST_MAPS, migrations=_recording(ran)) as db:
        assert db.schema_version == 4
        assert db.map(TEST_A).get(b"migrated") is None
    assert ran == []


def test_migrations_run_in_order_once(options: DatabaseOptions) -> None:
    ran: list[int] = []
    with Database.open(options, maps=TEST_MAPS, migrations=()) as db:
        assert db.schema_version == 1
    migrations = _recording(ran)
    with Database.open(options, maps=TEST_MAPS, migrations=migrations[:2]) as db:
        assert db.schema_version == 3
    assert ran == [2, 3]
    with Database.open(options, maps=TEST_MAPS, migrations=migrations) as db:
        assert db.schema_version == 4
        assert db.map(TEST_A).get(b"migrated") == u64(4)
    assert ran == [2, 3, 4]
    with Database.open(options, maps=TEST_MAPS, migrations=migrations):
        pass
    assert ran == [2, 3, 4]


def test_failing_migration_leaves_version_and_writes_untouched(options: DatabaseOptions) -> None:
    with Database.open(options, maps=TEST_MAPS, migrations=()):
        pass

    def broken(db: Database, batch: Batch) -> None:
        batch.put(db.map(TEST_A), b"half", b"done")
        raise RuntimeError("migration bug")

    with pytest.raises(RuntimeError, match="migration bug"):
        Database.open(options, maps=TEST_MAPS, migrations=(Migration(2, "broken", broken),))
    # Closed after the failure, reopens.
    with Database.open(options, maps=TEST_MAPS, migrations=()) as db:
        assert db.schema_version == 1
        assert db.map(TEST_A).get(b"half") is None


def test_too_new_database_is_refused(options: DatabaseOptions) -> None:
    ran: list[int] = []
    with Database.open(options, maps=TEST_MAPS, migrations=_recording(ran)):
        pass
    with pytest.raises(SchemaVersionError, match="schema version 4, newer than the 1"):
        Database.open(options, maps=TEST_MAPS, migrations=())
    with Database.open(options, maps=TEST_MAPS, migrations=_recording(ran)) as db:
        assert db.schema_version == 4  # the refusal released the lock and changed nothing


def test_migration_order_is_checked() -> None:
    def noop(db: Database, batch: Batch) -> None:
        pass

    check_order(MIGRATIONS)
    assert latest_version(()) == 1
    with pytest.raises(ValueError, match="not above version 1"):
        check_order((Migration(1, "same as base", noop),))
    with pytest.raises(ValueError, match="not above version 3"):
        check_order((Migration(3, "a", noop), Migration(3, "b", noop)))


def test_migration_2_drops_transaction_records_without_a_path(options: DatabaseOptions) -> None:
    pathless = key("@a:x", "DEV", "t1")
    scoped = key("@a:x", "DEV", "/rooms/!r:x/send/m.room.message", "t1")
    with Database.open(options, migrations=()) as db:
        assert db.schema_version == 1
        responses = db.map(MAPS.userdevicetxnid_response)
        responses.put(pathless, b"$old")
        responses.put(scoped, b"$new")
    with Database.open(options) as db:
        assert db.schema_version >= 2
        responses = db.map(MAPS.userdevicetxnid_response)
        assert responses.get(pathless) is None
        assert responses.get(scoped) == b"$new"


def test_migration_3_indexes_thread_subscriptions_by_position(options: DatabaseOptions) -> None:
    row = key("@a:x", "!r:x", "$root")
    with Database.open(options, migrations=MIGRATIONS[:1]) as db:
        assert db.schema_version == 2
        stored = b'{"subscribed": true, "automatic": false, "position": 7}'
        db.map(MAPS.userroomthread_threadsubscription).put(row, stored)
    with Database.open(options) as db:
        assert db.schema_version >= 3
        index = db.map(MAPS.userposition_threadsubscription)
        assert list(index.iter_prefix(b"")) == [(key("@a:x", 7), key("!r:x", "$root"))]
