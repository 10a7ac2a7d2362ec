from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from conduwuit.db import ALL_MAPS, Database, DatabaseOptions
from conduwuit.db.maps import column_family
from conduwuit.db.options import COMPRESSIONS
from conduwuit.db.tuning import ARENA_BLOCK, MAX_WRITE_BUFFERS, Tuning


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("compression", "brotli", "compression must be one of"),
        ("compression_level", 2**40, "compression_level must be a 32-bit integer"),
        ("bottommost_compression_level", "3", "bottommost_compression_level must be"),
        ("cache_capacity_mb", -1.0, "cache_capacity_mb must be >= 0"),
        ("cache_capacity_mb", float("nan"), "cache_capacity_mb must be >= 0"),
        ("write_buffer_capacity_mb", 0.0, "write_buffer_capacity_mb must be > 0"),
        ("write_buffer_capacity_mb", float("nan"), "write_buffer_capacity_mb must be > 0"),
        ("map_write_buffer_mb", -1.0, "map_write_buffer_mb must be > 0"),
        ("recovery_mode", 4, "recovery_mode must be 0"),
        ("parallelism", -2, "parallelism must be >= 0"),
        ("log_level", "verbose", "log_level must be one of"),
        ("max_log_file_size", -1, "max_log_file_size must be >= 0"),
        ("log_time_to_roll", -1, "log_time_to_roll must be >= 0"),
        ("max_log_files", 0, "max_log_files must be >= 1"),
        ("backups_to_keep", 0, "backups_to_keep must be >= 1"),
        ("backup_path", "/tmp/x", "backup_path must be a Path"),
    ],
)
def test_invalid_options_name_the_option(
    tmp_path: Path, field: str, value: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        DatabaseOptions(path=tmp_path, **{field: value})


def test_path_must_be_a_path() -> None:
    with pytest.raises(ValueError, match="database path must be a Path"):
        DatabaseOptions(path="/tmp/db")  # type: ignore[arg-type]


def test_backup_path_inside_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="backup_path must not be inside"):
        DatabaseOptions(path=tmp_path, backup_path=tmp_path / "backups")


def test_defaults_follow_conduwuit(tmp_path: Path) -> None:
    o = DatabaseOptions(path=tmp_path)
    assert (o.compression, o.recovery_mode, o.backups_to_keep) == ("zstd", 1, 1)
    assert o.compression_level == 32767
    assert (o.log_level, o.max_log_files, o.log_time_to_roll) == ("error", 3, 0)
    assert o.sync_writes is False


def test_parallelism_zero_means_all_cores_at_least_two(tmp_path: Path) -> None:
    assert Tuning.build(DatabaseOptions(path=tmp_path)).threads() >= 2
    assert Tuning.build(DatabaseOptions(path=tmp_path, parallelism=1)).threads() == 2
    assert Tuning.build(DatabaseOptions(path=tmp_path, parallelism=6)).threads() == 6


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_every_compression_opens(tmp_path: Path, compression: str) -> None:
    options = DatabaseOptions(
        path=tmp_path / "db",
        compression=compression,
        bottommost_compression=True,
        recovery_mode=2,
        optimize_for_spinning_disks=True,
        cache_capacity_mb=0,
        parallelism=3,
    )
    with Database.open(options) as db:
        assert db.schema_version >= 1


def _rocksdb_options(path: Path) -> dict[str, list[str]]:
    """``name -> values`` of every ``name=value`` line of RocksDB's newest OPTIONS file
    (the options the database was really opened with: one value per column family)."""
    newest = max(path.glob("OPTIONS-*"), key=lambda p: int(p.name.split("-")[1]))
    values: dict[str, list[str]] = {}
    for line in newest.read_text().splitlines():
        name, sep, value = line.strip().partition("=")
        if sep:
            values.setdefault(name, []).append(value)
    return values


def test_write_buffers_are_opened_with_the_configured_sizes(tmp_path: Path) -> None:
    # Issue 21: a total across the maps and a small one per map, not RocksDB's
    # 64 MiB per map with no total (memory growing with the history).
    options = DatabaseOptions(
        path=tmp_path / "db", write_buffer_capacity_mb=12, map_write_buffer_mb=3
    )
    with Database.open(options):
        written = _rocksdb_options(options.path)
        assert written["db_write_buffer_size"] == [str(12 * 1024 * 1024)]
        per_map = written["write_buffer_size"]
        # every column family (the maps' own and the shared one), and RocksDB's default
        assert len(per_map) == len({column_family(s) for s in ALL_MAPS}) + 1
        assert set(per_map) == {str(3 * 1024 * 1024)}
        # writes go on while a flush runs (no write stop at RocksDB's 2 memtables)
        assert set(written["max_write_buffer_number"]) == {str(MAX_WRITE_BUFFERS)}
        # the total counts what was written, not 1/8 of a buffer per map touched
        assert set(written["arena_block_size"]) == {str(ARENA_BLOCK)}


def test_a_few_writes_across_many_maps_do_not_flush(tmp_path: Path) -> None:
    # The write buffer total counts memtable arena blocks: with RocksDB's default
    # block (1/8 of an 8 MiB buffer), 4 KiB in each of 60 maps "filled" 16 MiB and
    # flushed every map (54 files here); with small blocks it is 240 KiB, no flush.
    options = DatabaseOptions(
        path=tmp_path / "db", write_buffer_capacity_mb=16, map_write_buffer_mb=8
    )
    with Database.open(options) as db:
        before = sorted(options.path.glob("*.sst"))
        for spec in ALL_MAPS[:60]:
            db.map(spec).put(b"key", b"v" * 4096)
        db.map(ALL_MAPS[0]).put(b"one more", b"v")  # the write that would trigger it
        db.map(ALL_MAPS[0]).put(b"and another", b"v")
        for _ in range(10):  # a flush runs in the background: give it a second
            time.sleep(0.1)
            assert sorted(options.path.glob("*.sst")) == before
