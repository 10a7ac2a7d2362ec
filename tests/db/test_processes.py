"""Tests with real second processes: the RocksDB lock, and crash safety under SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conduwuit.db import MAPS, Database, DatabaseInUseError, DatabaseOptions
from conduwuit.db.codec import from_u64, u64
from conduwuit.db.migrations import MIGRATIONS, latest_version

from .conftest import TEST_A, TEST_B, TEST_MAPS

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

_PRELUDE = """
import sys
from pathlib import Path
from conduwuit.db import ALL_MAPS, Database, DatabaseOptions, MapSpec
A = MapSpec("testkey_a", "test")
B = MapSpec("testkey_b", "test")
db = Database.open(DatabaseOptions(path=Path(sys.argv[1])), maps=(*ALL_MAPS, A, B))
"""

_HOLDER = (
    _PRELUDE
    + """
print("ready", flush=True)
sys.stdin.read()  # hold the database until the test closes our stdin
db.close()
"""
)

# Each batch writes the same batch number to two maps and reserves a count (written to
# `global` in the same batch); the number is printed only after commit() has returned.
_WRITER = (
    _PRELUDE
    + """
from conduwuit.db.codec import u64
a, b = db.map(A), db.map(B)
payload = b"x" * 2048
i = 0
while True:
    i += 1
    with db.batch() as batch:
        n = batch.next_count()
        batch.put(a, u64(i), payload + u64(n))
        batch.put(b, u64(i), u64(n))
    print(i, n, flush=True)
"""
)


def _spawn(code: str, path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_second_process_gets_database_in_use(options: DatabaseOptions) -> None:
    with _spawn(_HOLDER, options.path) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        try:
            assert holder.stdout.readline().strip() == "ready"
            with pytest.raises(DatabaseInUseError) as raised:
                Database.open(options, maps=TEST_MAPS)
            assert str(raised.value) == (
                f"database at {options.path} is already in use by another process"
            )
        finally:
            holder.stdin.close()
            assert holder.wait(timeout=30) == 0
    with Database.open(options, maps=TEST_MAPS) as db:  # the lock went with the process
        assert db.schema_version == latest_version(MIGRATIONS)


def test_acknowledged_batches_survive_sigkill(options: DatabaseOptions) -> None:
    acked: list[tuple[int, int]] = []
    enough = threading.Event()

    with _spawn(_WRITER, options.path) as writer:
        assert writer.stdout is not None
        stdout = writer.stdout

        def read_acks() -> None:
            for line in stdout:
                if line.endswith("\n"):  # a line cut by the kill is not an acknowledgement
                    i, n = line.split()
                    acked.append((int(i), int(n)))
                    if len(acked) >= 3000:
                        enough.set()

        reader = threading.Thread(target=read_acks)
        reader.start()
        enough.wait(timeout=5)  # bounded: at most ~5 s or 3000 batches, whichever is first
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        reader.join(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    assert len(acked) >= 10, "the writer acknowledged too few batches to test anything"

    with Database.open(options, maps=TEST_MAPS) as db:
        a, b = db.map(TEST_A), db.map(TEST_B)
        in_a = {from_u64(k): v for k, v in a.iter_prefix(b"")}
        in_b = {from_u64(k): v for k, v in b.iter_prefix(b"")}
        # every acknowledged batch is there, completely
        for i, n in acked:
            assert in_b.get(i) == u64(n), f"acknowledged batch {i} lost from testkey_b"
            assert in_a.get(i, b"")[-8:] == u64(n), f"acknowledged batch {i} lost from testkey_a"
        # no partial batch: the same batches are in both maps, and they are a prefix 1..m
        assert in_a.keys() == in_b.keys()
        assert sorted(in_a) == list(range(1, len(in_a) + 1))
        assert len(in_a) >= len(acked)
        # the counter written in the same batches covers every count handed out
        last_n = from_u64(in_b[max(in_b)])
        assert db.current_count() == last_n
        assert from_u64(db.map(MAPS.global_).get(b"c") or b"") == last_n
        assert db.next_count() == last_n + 1
