"""The server under the unit's sandbox rules, where this machine can apply them.

- MemoryDenyWriteExecute: the kernel's PR_SET_MDWE (Linux 6.3+) is the same rule
  (no writable+executable mappings, no making writable memory executable) and,
  set before exec, holds for the whole server process.
- SystemCallFilter: the server is traced (strace) while it starts, answers,
  signs, hashes a password and stops; none of its system calls may be in the
  filter's deny list (systemd-analyze expands the groups).
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kit.server import ServerProcess
from tests.packaging.units import unit_lines

PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1

EXERCISE = """
import argon2, nacl.signing, rocksdict, uvloop, asyncio, sys, aiohttp, pydantic, jinja2
argon2.PasswordHasher().hash("correct horse")
key = nacl.signing.SigningKey.generate(); key.verify_key.verify(key.sign(b"x"))
db = rocksdict.Rdict(sys.argv[1]); db[b"k"] = b"v"; assert db[b"k"] == b"v"; db.close()
async def main(): await asyncio.sleep(0)
uvloop.run(main())
print("exercised")
"""


def _set_mdwe() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_MDWE)")


def _mdwe_supported() -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", "import ctypes; print(ctypes.CDLL(None).prctl(66, 0, 0, 0, 0))"],
        preexec_fn=_set_mdwe,
        capture_output=True,
        text=True,
    )
    return probe.returncode == 0 and probe.stdout.strip() == "1"


@pytest.mark.skipif(sys.platform != "linux", reason="Linux only")
def test_memory_deny_write_execute(tmp_path: Path) -> None:
    try:
        supported = _mdwe_supported()
    except OSError:
        supported = False
    if not supported:
        pytest.skip("kernel without PR_SET_MDWE")
    exercised = subprocess.run(
        [sys.executable, "-c", EXERCISE, str(tmp_path / "db")],
        preexec_fn=_set_mdwe,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert exercised.returncode == 0 and "exercised" in exercised.stdout, exercised.stderr

    server = ServerProcess(tmp_path / "hs")
    original = subprocess.Popen
    try:
        subprocess.Popen = _popen_with(_set_mdwe, original)  # type: ignore[misc]
        server.start()
    finally:
        subprocess.Popen = original  # type: ignore[misc]
    try:
        assert server.get_json("/_matrix/client/versions")[0] == 200
        status, keys = server.get_json("/_matrix/key/v2/server")  # signs with pynacl
        assert status == 200 and keys["signatures"]
        assert server.stop() == 0
    finally:
        server.stop()


def _popen_with(preexec, original):  # type: ignore[no-untyped-def]
    def popen(*args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs["preexec_fn"] = preexec
        return original(*args, **kwargs)

    return popen


def _expand(group: str) -> set[str]:
    out = subprocess.run(
        ["systemd-analyze", "syscall-filter", group],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    calls: set[str] = set()
    for line in out.splitlines()[1:]:
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        calls |= _expand(name) if name.startswith("@") else {name}
    return calls


@pytest.mark.skipif(
    shutil.which("strace") is None or shutil.which("systemd-analyze") is None,
    reason="needs strace and systemd-analyze",
)
def test_system_call_filter_allows_what_the_server_uses(tmp_path: Path) -> None:
    filters = [value for key, value in unit_lines() if key == "SystemCallFilter"]
    allow_line, deny_line = filters
    allowed = set().union(*(_expand(group) for group in allow_line.split()))
    denied = set().union(*(_expand(group) for group in deny_line.lstrip("~").split()))
    effective = allowed - denied

    trace = tmp_path / "trace"
    server = ServerProcess(tmp_path / "hs")
    environ = server.environ()
    server.workdir.mkdir(parents=True)
    log = (server.workdir / "server.log").open("wb")
    server.process = subprocess.Popen(
        ["strace", "-f", "-qq", "-o", str(trace), sys.executable, "-m", "conduwuit"],
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        server.wait_ready(60)
        assert server.get_json("/_matrix/key/v2/server")[0] == 200
        # strace is the child; the server is its child: signal the server itself.
        children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
        (server_pid,) = (int(pid) for pid in children.read_text().split())
        os.kill(server_pid, 15)
        assert server.process.wait(30) == 0
    finally:
        server.stop()
        log.close()
    used = {
        match.group(1)
        for line in trace.read_text(errors="replace").splitlines()
        if (match := re.match(r"^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]", line))
    }
    used.discard("exit_group")  # strace's own bookkeeping lines aside, exit is always allowed
    assert used, "strace recorded nothing"
    assert sorted(used - effective) == []
