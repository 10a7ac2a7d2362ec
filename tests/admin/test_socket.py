"""``conduwuit admin`` from the shell, over the running server's 0600 unix socket."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from conduwuit.admin.socket import send_command
from conduwuit.cli import main
from conduwuit.config import load_config
from conduwuit.runtime import RunningServer
from tests.kit.server import free_port

CONFIG = """\
[global]
server_name = "localhost"
database_path = "{db}"
address = "127.0.0.1"
port = {port}
argon2_time_cost = 1
argon2_memory_cost = 64
admin_socket_path = "{sock}"
"""


async def test_cli_runs_commands_over_a_private_socket(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sock = tmp_path / "admin.sock"
    config_file = tmp_path / "conduwuit.toml"
    config_file.write_text(CONFIG.format(db=tmp_path / "db", port=free_port(), sock=sock))
    server = RunningServer(load_config(config_file, {}).config)
    await server.start()
    try:
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        code = await asyncio.to_thread(
            main, ["admin", "-c", str(config_file), "users", "create-user", "carol", "pw"]
        )
        assert (code, capsys.readouterr().out) == (0, "Created user @carol:localhost.\n")
        assert server.server.services.users.accounts.is_active("@carol:localhost")
        code = await asyncio.to_thread(
            main, ["admin", "-c", str(config_file), "users", "deactivate", "nobody"]
        )
        assert (code, capsys.readouterr().out) == (1, "Error: @nobody:localhost does not exist\n")
        assert await send_command(sock, "users list-users") == (
            True,
            "Found 1 local user account(s):\n```\n@carol:localhost (admin)\n```",
        )
        # A malformed request is answered, not fatal.
        reader, writer = await asyncio.open_unix_connection(str(sock))
        writer.write(b"not json\n")
        assert b'"ok": false' in await reader.readline()
        writer.close()
        await writer.wait_closed()
    finally:
        await server.stop()
    assert not sock.exists()
    code = await asyncio.to_thread(main, ["admin", "-c", str(config_file), "server", "uptime"])
    assert code == 1
    assert "cannot reach the server" in capsys.readouterr().err


def test_cli_without_a_socket_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_file = tmp_path / "conduwuit.toml"
    config_file.write_text('[global]\nserver_name = "localhost"\n')
    assert main(["admin", "-c", str(config_file), "server", "uptime"]) == 1
    assert "admin_socket_path is not set" in capsys.readouterr().err
