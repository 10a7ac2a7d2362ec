"""``admin_execute``: commands run at start-up by the real runtime."""

from __future__ import annotations

from pathlib import Path

import pytest

from conduwuit.admin import AdminExecuteError
from conduwuit.config import load_config
from conduwuit.runtime import RunningServer
from tests.kit.server import free_port


def config(tmp_path: Path, *commands: str, ignore: bool = False) -> RunningServer:
    loaded = load_config(
        None,
        {
            "CONDUWUIT_SERVER_NAME": "localhost",
            "CONDUWUIT_DATABASE_PATH": str(tmp_path / "db"),
            "CONDUWUIT_ADDRESS": "127.0.0.1",
            "CONDUWUIT_PORT": str(free_port()),
            "CONDUWUIT_ARGON2_TIME_COST": "1",
            "CONDUWUIT_ARGON2_MEMORY_COST": "64",
            "CONDUWUIT_ADMIN_EXECUTE": "[" + ", ".join(f'"{c}"' for c in commands) + "]",
            "CONDUWUIT_ADMIN_EXECUTE_ERRORS_IGNORE": "true" if ignore else "false",
        },
    )
    return RunningServer(loaded.config)


async def test_startup_commands_run(tmp_path: Path) -> None:
    server = config(tmp_path, "users create-user alice pw-of-alice", "!admin users list-users")
    await server.start()
    try:
        accounts = server.server.services.users.accounts
        assert accounts.is_active("@alice:localhost")
    finally:
        await server.stop()


async def test_a_failing_startup_command_stops_the_start(tmp_path: Path) -> None:
    server = config(tmp_path, "users deactivate @nobody:localhost")
    with pytest.raises(AdminExecuteError, match="@nobody:localhost does not exist"):
        await server.start()


async def test_failures_can_be_ignored(tmp_path: Path) -> None:
    server = config(tmp_path, "users frobnicate", "users create-user bob pw", ignore=True)
    await server.start()
    try:
        assert server.server.services.users.accounts.is_active("@bob:localhost")
    finally:
        await server.stop()
