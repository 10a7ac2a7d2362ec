"""The server as a process: start, first endpoints, signals, a second process, bad config."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
from nacl.signing import VerifyKey

from conduwuit.core import base64 as b64
from conduwuit.core import canonical_json
from tests.kit.server import OPEN_REGISTRATION, ServerProcess


def test_first_endpoints(server: ServerProcess) -> None:
    server.env["CONDUWUIT_WELL_KNOWN__CLIENT"] = "https://matrix.example.org"
    server.start()
    status, versions = server.get_json("/_matrix/client/versions")
    assert status == 200 and isinstance(versions["versions"], list)
    assert isinstance(versions["unstable_features"], dict)
    assert server.get_json("/.well-known/matrix/client") == (
        200,
        {"m.homeserver": {"base_url": "https://matrix.example.org"}},
    )
    status, body = server.get_json("/.well-known/matrix/server")
    assert status == 404 and body["errcode"] == "M_NOT_FOUND"
    status, body = server.get_json("/.well-known/matrix/support")
    assert status == 404
    status, body = server.get_json("/_matrix/federation/v1/version")
    assert status == 200 and body["server"]["name"] == "conduwuit-py"
    status, body = server.get_json("/_conduwuit/server_version")
    assert status == 200 and body["version"]
    log = server.log()
    assert "localhost" in log and str(server.workdir / "db") in log


def test_key_document_is_signed_and_stable_across_restarts(server: ServerProcess) -> None:
    server.start()
    status, document = server.get_json("/_matrix/key/v2/server")
    assert status == 200
    assert document["server_name"] == "localhost"
    ((key_id, key),) = document["verify_keys"].items()
    assert key_id.startswith("ed25519:")
    assert document["old_verify_keys"] == {}
    signature = b64.decode(document["signatures"]["localhost"][key_id])
    signed = {k: v for k, v in document.items() if k not in ("signatures", "unsigned")}
    VerifyKey(b64.decode(key["key"])).verify(canonical_json.encode(signed), signature)
    assert server.stop() == 0
    server.start()
    _, again = server.get_json("/_matrix/key/v2/server")
    assert again["verify_keys"] == document["verify_keys"]


def test_sigterm_shuts_down_cleanly(server: ServerProcess) -> None:
    server.start()
    assert server.stop(signal.SIGTERM) == 0
    assert "database closed" in server.log()
    server.start()
    assert server.stop(signal.SIGINT) == 0


async def test_sigterm_answers_long_polls_at_once(tmp_path: Path) -> None:
    """A connected client (every one keeps a /sync long-poll open) does not hold the
    shutdown for client_shutdown_timeout: its long-poll answers, the process exits."""
    server = ServerProcess(tmp_path / "hs", env=OPEN_REGISTRATION).start()
    try:
        async with aiohttp.ClientSession(base_url=server.base_url) as http:
            body = {
                "username": "alice",
                "password": "pw-alice-1",
                "auth": {"type": "m.login.dummy"},
            }
            async with http.post("/_matrix/client/v3/register", json=body) as response:
                auth = {"Authorization": f"Bearer {(await response.json())['access_token']}"}
            async with http.get("/_matrix/client/v3/sync", headers=auth) as response:
                since = (await response.json())["next_batch"]

            async def long_poll() -> tuple[int, dict[str, str]]:
                params = {"since": since, "timeout": "60000"}
                async with http.get("/_matrix/client/v3/sync", params=params, headers=auth) as r:
                    return r.status, await r.json()

            polling = asyncio.create_task(long_poll())
            await asyncio.sleep(0.5)
            assert not polling.done()
            started = time.monotonic()
            assert await asyncio.to_thread(server.stop, signal.SIGTERM) == 0
            assert time.monotonic() - started < 5, server.log()
            status, reply = await asyncio.wait_for(polling, 5)
            assert status == 200 and reply["next_batch"], reply
    finally:
        server.stop()


def test_second_process_on_same_database_is_refused(server: ServerProcess) -> None:
    server.start()
    second = ServerProcess(server.workdir)  # same database, another free port
    result = subprocess.run(
        [sys.executable, "-m", "conduwuit"],
        env=second.environ(),
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert "already in use" in stderr
    assert "Traceback" not in stderr
    # the first server is unharmed
    assert server.get_json("/_matrix/client/versions")[0] == 200


def test_bad_config_exits_1_with_one_line_per_problem(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[global]\nserver_name = "x.example"\nport = "many"\naddress = "nowhere"\n')
    result = subprocess.run(
        [sys.executable, "-m", "conduwuit", "check-config", "-c", str(config)],
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 1
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 2
    assert any("global.port" in line for line in lines)
    assert any("global.address" in line for line in lines)
    assert "Traceback" not in result.stderr.decode()


def test_generate_and_check_config(tmp_path: Path) -> None:
    generated = subprocess.run(
        [sys.executable, "-m", "conduwuit", "generate-config"], capture_output=True, timeout=30
    )
    assert generated.returncode == 0
    path = tmp_path / "example.toml"
    path.write_bytes(generated.stdout)
    checked = subprocess.run(
        [sys.executable, "-m", "conduwuit", "check-config", "-c", str(path)],
        capture_output=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr
    version = subprocess.run(
        [sys.executable, "-m", "conduwuit", "--version"], capture_output=True, timeout=30
    )
    assert version.stdout.decode().startswith("conduwuit-py ")


def test_root_page(server: ServerProcess) -> None:
    import urllib.request

    server.start()
    with urllib.request.urlopen(server.base_url + "/", timeout=5) as response:
        page = response.read().decode()
        assert response.headers["Content-Type"].startswith("text/html")
    assert "localhost" in page and "Matrix" in page
