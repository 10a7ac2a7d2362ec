"""Small maps share one column family; databases from before are moved at open.

The old layout (every map its own column family, schema 4) is made by the real
Database with every map in OWN_COLUMN: what a release before schema 5 wrote.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from rocksdict import Options, Rdict

from conduwuit.db import (
    ALL_MAPS,
    MAPS,
    MIGRATIONS,
    Database,
    DatabaseOptions,
    MapSpec,
    SchemaVersionError,
    maps,
    regroup,
)
from conduwuit.db.codec import key
from conduwuit.db.maps import OWN_COLUMN, SHARED_COLUMN, column_family

REPO = Path(__file__).resolve().parents[2]
SHARED = [s for s in ALL_MAPS if column_family(s) == SHARED_COLUMN]
# Keys per shared map in the old database: several chunks of a move each.
ROWS = 25


@contextmanager
def _old_release(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every map in a column family of its own, schema 4: a release before schema 5."""
    with monkeypatch.context() as m:
        m.setattr(maps, "OWN_COLUMN", frozenset(s.name for s in ALL_MAPS))
        yield


def _old_database(options: DatabaseOptions, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict]:
    """An old database with rows in every shared map (and one own map); its content."""
    content: dict[str, dict[bytes, bytes]] = {}
    with _old_release(monkeypatch), Database.open(options, migrations=MIGRATIONS[:3]) as db:
        assert db.schema_version == 4
        with db.batch() as b:
            for spec in [*SHARED, MAPS.pduid_pdu]:
                rows = {key(spec.name, i): f"{spec.name}/{i}".encode() for i in range(ROWS)}
                rows[b"\xff\xff"] = b"top"  # all 0xFF: the end of a prefix scan
                for k, v in rows.items():
                    b.put(db.map(spec), k, v)
                content[spec.name] = rows
    return content


def _column_families(path: Path) -> set[str]:
    return set(Rdict.list_cf(str(path), Options(raw_mode=True)))


def _assert_content(db: Database, content: dict[str, dict[bytes, bytes]]) -> None:
    for spec in ALL_MAPS:
        m = db.map(spec)
        rows = dict(m.iter_prefix(b""))
        if spec is MAPS.global_:
            continue
        assert rows == content.get(spec.name, {}), spec.name
        expected = sorted(rows)
        assert [k for k, _ in m.iter_prefix(b"", reverse=True)] == expected[::-1]
        assert [k for k, _ in m.iter_range(None, None)] == expected
        assert m.count_prefix(b"") == len(expected)


def test_small_maps_share_one_column_family_behind_their_prefix(
    options: DatabaseOptions,
) -> None:
    near = MapSpec("testkey", "test only")
    far = MapSpec("testkey_a", "test only")  # its name starts with the other's
    with Database.open(options, maps=(*ALL_MAPS, near, far)) as db:
        for m, tag in ((db.map(near), b"n"), (db.map(far), b"f")):
            with db.batch() as b:
                for k in (b"", b"a", b"a\xff", b"b", b"\xff\xff"):
                    b.put(m, k, tag)
        m = db.map(near)
        assert [k for k, _ in m.iter_prefix(b"")] == [b"", b"a", b"a\xff", b"b", b"\xff\xff"]
        assert [k for k, _ in m.iter_prefix(b"\xff", reverse=True)] == [b"\xff\xff"]
        assert [k for k, _ in m.iter_prefix(b"a")] == [b"a", b"a\xff"]
        assert [k for k, _ in m.iter_range(b"a\xff", None)] == [b"a\xff", b"b", b"\xff\xff"]
        assert [k for k, _ in m.iter_range(None, b"b", reverse=True)] == [b"a\xff", b"a", b""]
        assert m.count_prefix(b"a") == 2
        assert {v for _, v in m.iter_prefix(b"")} == {b"n"}
        with db.batch() as b:
            b.delete_range(m, b"a", b"b")
        assert [k for k, _ in m.iter_prefix(b"")] == [b"", b"b", b"\xff\xff"]
        assert db.map(far).count_prefix(b"") == 5  # the neighbour is untouched
        with db.snapshot() as snap:
            m.put(b"b", b"later")
            assert snap.map(near).get(b"b") == b"n"
            assert snap.map(far).get(b"a") == b"f"
        assert m.get(b"b") == b"later"
    families = _column_families(options.path)
    assert families == {"default", SHARED_COLUMN, *OWN_COLUMN}
    assert len(families) < len(ALL_MAPS) // 2


def test_an_old_database_is_moved_at_open_and_its_column_families_dropped(
    options: DatabaseOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(regroup, "CHUNK", 7)  # several writes per map
    content = _old_database(options, monkeypatch)
    assert {s.name for s in SHARED} <= _column_families(options.path)
    with Database.open(options) as db:
        assert db.schema_version == 5
        assert db.old_layout_maps() == []
        assert db.old_columns() == []
        _assert_content(db, content)
    assert _column_families(options.path) == {"default", SHARED_COLUMN, *OWN_COLUMN}
    with Database.open(options) as db:  # nothing left to do
        _assert_content(db, content)
    # A release from before the shared column family refuses it rather than
    # opening those maps empty.
    with _old_release(monkeypatch), pytest.raises(SchemaVersionError):
        Database.open(options, migrations=MIGRATIONS[:3])


def test_a_restored_backup_of_an_old_database_is_moved(
    tmp_path: Path, options: DatabaseOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = _old_database(options, monkeypatch)
    with _old_release(monkeypatch), Database.open(options, migrations=MIGRATIONS[:3]) as db:
        backup = db.backup()
    restored = DatabaseOptions(path=tmp_path / "restored")
    shutil.copytree(backup, restored.path)
    with Database.open(restored) as db:
        _assert_content(db, content)
        assert db.schema_version == 5
    # And a backup taken now holds the new layout.
    with Database.open(options) as db:
        again = db.backup()
    assert _column_families(again) == {"default", SHARED_COLUMN, *OWN_COLUMN}


# Opens the database in a child process that is SIGKILLed at a chosen step of the move.
_KILLED = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from conduwuit.db import Database, DatabaseOptions, regroup

    step, at = sys.argv[2], int(sys.argv[3])
    regroup.CHUNK = 7
    calls = {"n": 0}

    def killer(real):
        def wrapped(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == at:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)
        return wrapped

    setattr(regroup, step, killer(getattr(regroup, step)))
    Database.open(DatabaseOptions(path=Path(sys.argv[1])))
    """
)


def _open_killed(path: Path, step: str, at: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED, str(path), step, str(at)],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()


@pytest.mark.parametrize("at", [2, 8])  # in the first map's copy; in the third's
def test_a_move_killed_before_its_commit_is_redone_and_loses_nothing(
    options: DatabaseOptions, monkeypatch: pytest.MonkeyPatch, at: int
) -> None:
    content = _old_database(options, monkeypatch)
    _open_killed(options.path, "_commit_chunk", at)
    # Cut short: schema 4, every old column family whole. A release from before
    # schema 5 opens it meanwhile and changes a map: the move redone later must
    # carry exactly that, not what the killed move had copied.
    first = SHARED[0]
    with _old_release(monkeypatch), Database.open(options, migrations=MIGRATIONS[:3]) as db:
        assert db.schema_version == 4
        db.map(first).delete(key(first.name, 0))
        db.map(first).put(b"written by the old release", b"x")
    del content[first.name][key(first.name, 0)]
    content[first.name][b"written by the old release"] = b"x"
    with Database.open(options) as db:
        _assert_content(db, content)
        assert db.schema_version == 5
    assert _column_families(options.path) == {"default", SHARED_COLUMN, *OWN_COLUMN}


def test_a_move_killed_after_its_commit_drops_what_is_left(
    options: DatabaseOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = _old_database(options, monkeypatch)
    _open_killed(options.path, "_drop", 3)  # two old column families dropped
    left = _column_families(options.path)
    assert SHARED[0].name not in left and SHARED[-1].name in left
    with _old_release(monkeypatch), pytest.raises(SchemaVersionError):
        Database.open(options, migrations=MIGRATIONS[:3])
    with Database.open(options) as db:
        _assert_content(db, content)
        assert db.schema_version == 5
    assert _column_families(options.path) == {"default", SHARED_COLUMN, *OWN_COLUMN}


def test_maps_not_asked_for_are_moved_too(
    options: DatabaseOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Opening some maps only must not leave the others in old column families that
    # a later open would drop as leftovers of a finished move.
    content = _old_database(options, monkeypatch)
    with Database.open(options, maps=(MAPS.global_, MAPS.pduid_pdu)) as db:
        assert db.schema_version == 5
    assert _column_families(options.path) == {"default", SHARED_COLUMN, *OWN_COLUMN}
    with Database.open(options) as db:
        _assert_content(db, content)
