"""matrix-rust-sdk, the library Element X is built on, syncing with Simplified
Sliding Sync (MSC4186) as Element X does.

tests/sliding_client is a small Rust program on matrix-sdk and matrix-sdk-ui (pinned
by its Cargo.lock): it discovers sliding sync from /versions, logs in, runs the SDK's
``SyncService`` (the room-list and encryption connections), waits for the room list
to load, opens (subscribes to) a room, and waits for a message another user sends and
for the room's unread count to go up. ``make sliding-client`` builds it once into
``.cache/sliding-client`` (gitignored; the first build takes 4.5 CPU-minutes, 12 to
21 minutes of wall clock on two cores shared with other test runs, a rebuild of the
program alone 8 s; the test then runs in 2 to 13 s). This test is skipped only when
that binary is not built; ``make sliding-client`` builds it and runs this test, and
``.ci/run`` does so after building it in the background.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.kit.server import ServerProcess

REPO = Path(__file__).resolve().parents[2]
BINARY = REPO / ".cache" / "sliding-client" / "debug" / "sliding-client"
PASSWORD = "correct horse battery staple"


def _call(server: ServerProcess, method: str, path: str, body: Any, token: str = "") -> Any:
    request = urllib.request.Request(
        f"{server.base_url}/_matrix/client/v3{path}",
        data=json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _register(server: ServerProcess, name: str) -> tuple[str, str]:
    body = {"username": name, "password": PASSWORD, "auth": {"type": "m.login.dummy"}}
    reply = _call(server, "POST", "/register", body)
    return reply["user_id"], reply["access_token"]


async def _line(stream: asyncio.StreamReader, prefix: str) -> str:
    while True:
        raw = await asyncio.wait_for(stream.readline(), 60)
        if not raw:
            raise AssertionError(f"the client ended before printing {prefix}")
        line = raw.decode().strip()
        if line.startswith(prefix):
            return line


async def _stderr(client: asyncio.subprocess.Process) -> str:
    assert client.stderr is not None
    return (await client.stderr.read()).decode(errors="replace")


async def test_element_x_library_lists_rooms_and_sees_a_message_and_unread_count(
    open_server: ServerProcess,
) -> None:
    if not BINARY.exists():
        pytest.skip("the matrix-rust-sdk client is not built: make sliding-client")
    _register(open_server, "operator")  # the first user gets the admin room
    alice, _ = _register(open_server, "alice")
    _, bob_token = _register(open_server, "bob")
    room = _call(open_server, "POST", "/createRoom", {"invite": [alice]}, bob_token)["room_id"]
    client = await asyncio.create_subprocess_exec(
        str(BINARY),
        open_server.base_url,
        "alice",
        PASSWORD,
        room,
        "hello from bob",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert client.stdout is not None
    try:
        assert await _line(client.stdout, "VERSION") == "VERSION native"
        rooms = await _line(client.stdout, "ROOMS")
        # Bob's invite.
        assert rooms.split()[1] == "1", rooms
        ready = await _line(client.stdout, "READY")
        assert ready == "READY unread=0"
        # Alice accepts the invite (from another device), then Bob writes.
        login = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": "alice"},
            "password": PASSWORD,
        }
        alice_token = _call(open_server, "POST", "/login", login)["access_token"]
        _call(open_server, "POST", f"/join/{room}", {}, alice_token)
        message = {"msgtype": "m.text", "body": "hello from bob"}
        _call(open_server, "PUT", f"/rooms/{room}/send/m.room.message/t1", message, bob_token)
        assert await _line(client.stdout, "MESSAGE") == "MESSAGE hello from bob"
        unread = await _line(client.stdout, "UNREAD")
        assert int(unread.split()[1]) >= 1
        assert await asyncio.wait_for(client.wait(), 30) == 0, await _stderr(client)
    except (AssertionError, TimeoutError) as failure:
        if client.returncode is None:
            client.kill()
        raise AssertionError(f"{failure!r}; the client said: {await _stderr(client)}") from None
    finally:
        if client.returncode is None:
            client.kill()
            await client.wait()
