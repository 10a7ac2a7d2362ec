"""``conduwuit rotate-signing-key``: the old key stays published in old_verify_keys."""

from __future__ import annotations

import subprocess
import sys

from tests.kit.server import ServerProcess


def _rotate(server: ServerProcess) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "conduwuit", "rotate-signing-key"],
        env=server.environ(),
        capture_output=True,
        timeout=60,
    )


def test_rotation_publishes_the_old_key_with_its_expiry(server: ServerProcess) -> None:
    server.start()
    status, before = server.get_json("/_matrix/key/v2/server")
    assert status == 200
    [(old_id, old_key)] = before["verify_keys"].items()
    # Not while the server runs: the database is in use, and nothing changes.
    running = _rotate(server)
    assert running.returncode == 1 and b"Traceback" not in running.stderr
    server.stop()

    rotated = _rotate(server)
    assert rotated.returncode == 0, rotated.stderr
    assert old_id in rotated.stdout.decode()

    server.start()
    _, after = server.get_json("/_matrix/key/v2/server")
    [new_id] = after["verify_keys"]
    assert new_id != old_id
    assert after["old_verify_keys"][old_id]["key"] == old_key["key"]
    assert isinstance(after["old_verify_keys"][old_id]["expired_ts"], int)
