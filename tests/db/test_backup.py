from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from conduwuit.db import Database, DatabaseError, DatabaseOptions
from conduwuit.db.migrations import MIGRATIONS, latest_version

from .conftest import TEST_A, TEST_MAPS


def test_backups_are_pruned_and_open_as_databases(options: DatabaseOptions) -> None:
    options = replace(options, backups_to_keep=2)
    assert options.backup_path is not None
    with Database.open(options, maps=TEST_MAPS) as db:
        a = db.map(TEST_A)
        made = []
        for n in range(4):
            a.put(b"n", str(n).encode())
            made.append(db.backup())
        assert db.list_backups() == made[-2:]
        assert [p.name[:6] for p in made] == ["000001", "000002", "000003", "000004"]
        assert sorted(p.name for p in options.backup_path.iterdir()) == [p.name for p in made[-2:]]
        a.put(b"n", b"after")

    newest = DatabaseOptions(path=made[-1])
    with Database.open(newest, maps=TEST_MAPS) as restored:
        assert restored.map(TEST_A).get(b"n") == b"3"
        assert restored.schema_version == latest_version(MIGRATIONS)


def test_backup_numbering_continues_after_reopen(options: DatabaseOptions) -> None:
    with Database.open(options) as db:
        first = db.backup()
    with Database.open(options) as db:
        second = db.backup()
        assert db.list_backups() == [second]
    assert first.name.startswith("000001-") and second.name.startswith("000002-")


def test_backup_needs_a_backup_path(tmp_path: Path) -> None:
    with Database.open(DatabaseOptions(path=tmp_path / "db")) as db:
        assert db.list_backups() == []
        with pytest.raises(DatabaseError, match="no backup_path"):
            db.backup()


def test_leftover_temporary_backup_is_ignored(options: DatabaseOptions) -> None:
    assert options.backup_path is not None
    options.backup_path.mkdir(parents=True)
    (options.backup_path / ".tmp-000001-20260101T000000Z").mkdir()
    (options.backup_path / "notes.txt").write_text("not a backup")
    with Database.open(options) as db:
        assert db.list_backups() == []
        made = db.backup()
        assert db.list_backups() == [made]
