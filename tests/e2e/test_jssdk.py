"""matrix-js-sdk, the client library of Element, with its Rust crypto (wasm), as a user would.

tests/js/e2ee.mjs logs two users in, waits for each client's initial sync (PREPARED,
then SYNCING), creates an encrypted room, and has each side decrypt the other's
message. This test starts the server process and runs that script with ``node``.

The npm packages are pinned by tests/js/package-lock.json and installed with
``npm ci`` once per lockfile into ``.cache/jssdk/<lockfile hash>/`` (gitignored); later
runs reuse it and cost only the script's few seconds. The test is skipped only when
``node`` or ``npm`` is missing; a failing install fails it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.kit.server import ServerProcess

REPO = Path(__file__).resolve().parents[2]
JS = REPO / "tests" / "js"
CACHE = REPO / ".cache" / "jssdk"
#: The oldest Node the pinned matrix-js-sdk supports (its ``engines``).
NODE_MAJOR = 20


def _tools() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run matrix-js-sdk (tests/js)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    major = int(version.stdout.strip().lstrip("v").split(".")[0])
    if major < NODE_MAJOR:
        pytest.skip(f"matrix-js-sdk needs node >= {NODE_MAJOR}, found {version.stdout.strip()}")
    return node, npm


def _installed(npm: str) -> Path:
    """The directory with node_modules for the lockfile, installed once (under a lock)."""
    lockfile = JS / "package-lock.json"
    key = hashlib.sha256(lockfile.read_bytes() + (JS / "package.json").read_bytes())
    target = CACHE / key.hexdigest()[:16]
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".installed").exists():
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            shutil.copy2(JS / "package.json", target)
            shutil.copy2(lockfile, target)
            subprocess.run(
                [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"],
                cwd=target,
                check=True,
                capture_output=True,
                timeout=600,
            )
            (target / ".installed").touch()
    return target


def _run(name: str, server: ServerProcess, tmp_path: Path) -> dict[str, Any]:
    """Run tests/js/<name> against the server; its JSON report."""
    node, npm = _tools()
    # The script runs next to its node_modules, so that ESM resolution finds them.
    script = _installed(npm) / name
    shutil.copy2(JS / name, script)
    report_path = tmp_path / f"{name}.report.json"
    env = {**os.environ, "JSSDK_REPORT": str(report_path), "JSSDK_STEP_TIMEOUT_MS": "30000"}
    result = subprocess.run(
        [node, str(script), server.base_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if not report_path.exists():
        raise AssertionError(
            f"node exited {result.returncode} without a report:\n{result.stderr[-4000:]}"
        )
    report: dict[str, Any] = json.loads(report_path.read_text())
    report["stderr"] = result.stderr[-4000:]
    report["returncode"] = result.returncode
    return report


def test_jssdk_encrypted_conversation(open_server: ServerProcess, tmp_path: Path) -> None:
    report = _run("e2ee.mjs", open_server, tmp_path)
    if report["ok"] and report["returncode"] == 0:
        steps = [step["name"] for step in report["steps"]]
        assert "bob decrypted alice's message" in steps
        assert "alice decrypted bob's reply" in steps
        # Only the answers a client expects: the register UIA challenge, no key backup.
        expected = {
            ("POST", "/_matrix/client/v3/register", 401),
            ("GET", "/_matrix/client/v3/room_keys/version", 404),
        }
        unexpected = [
            failure
            for failure in report["failed_requests"]
            if (failure["method"], failure["path"], failure["status"]) not in expected
        ]
        assert not unexpected, unexpected
        return
    details = json.dumps({k: report[k] for k in ("steps", "failed_requests", "error")}, indent=1)
    raise AssertionError(f"{details}\n{report['stderr']}\nserver log:\n{open_server.log()[-3000:]}")


def test_element_homeserver_check_accepts_the_server(
    open_server: ServerProcess, tmp_path: Path
) -> None:
    """AutoDiscovery, which Element runs on the homeserver URL before it logs in."""
    report = _run("discovery.mjs", open_server, tmp_path)
    if report["ok"] and report["returncode"] == 0:
        assert report["homeserver"]["base_url"] == open_server.base_url
        return
    raise AssertionError(json.dumps(report, indent=1))
