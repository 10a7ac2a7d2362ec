"""``appservice_dir``: registration files loaded by the real runtime at start (how
the Complement image gets Complement's /complement/appservice/*.yaml)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from conduwuit.config import load_config
from conduwuit.core.appservice import RegistrationError
from conduwuit.runtime import RunningServer
from tests.kit.appservice import AS_TOKEN, FakeAppservice
from tests.kit.server import free_port

# Complement's registration (internal/docker/builder.go), extra keys and all.
COMPLEMENT_STYLE = (
    FakeAppservice()
    .registration_yaml(url="'http://localhost:9000'")
    .replace("namespaces:", "push_ephemeral: false\norg.matrix.msc3202: false\nnamespaces:")
)


def server(tmp_path: Path, appservice_dir: Path) -> RunningServer:
    port = free_port()
    loaded = load_config(
        None,
        {
            "CONDUWUIT_SERVER_NAME": "localhost",
            "CONDUWUIT_DATABASE_PATH": str(tmp_path / "db"),
            "CONDUWUIT_ADDRESS": "127.0.0.1",
            "CONDUWUIT_PORT": str(port),
            "CONDUWUIT_APPSERVICE_DIR": str(appservice_dir),
        },
    )
    return RunningServer(loaded.config)


async def test_registrations_are_loaded_at_start(tmp_path: Path) -> None:
    directory = tmp_path / "appservice"
    directory.mkdir()
    (directory / "fake.yaml").write_text(COMPLEMENT_STYLE)
    (directory / "README").write_text("not a registration")
    running = server(tmp_path, directory)
    await running.start()
    try:
        services = running.server.services
        reg = services.users.appservices.by_as_token(AS_TOKEN)
        assert reg is not None and reg.url == "http://localhost:9000"
        # The sender exists and is not made the server's first admin.
        assert services.users.accounts.is_active("@_fake_bot:localhost")
        assert not services.users.accounts.is_admin("@_fake_bot:localhost")
        url = f"http://127.0.0.1:{running.config.port[0]}/_matrix/client/v3/account/whoami"
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, headers={"Authorization": f"Bearer {AS_TOKEN}"}) as response,
        ):
            assert (await response.json())["user_id"] == "@_fake_bot:localhost"
    finally:
        await running.stop()


async def test_a_bad_file_stops_the_start(tmp_path: Path) -> None:
    directory = tmp_path / "appservice"
    directory.mkdir()
    (directory / "bad.yml").write_text(COMPLEMENT_STYLE.replace("hs_token", "hs_tokn"))
    running = server(tmp_path, directory)
    with pytest.raises(RegistrationError, match=r"bad\.yml: 'hs_token' is required"):
        await running.start()
    assert running.sites == []  # refused before listening: no client was ever answered


async def test_a_missing_directory_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(RegistrationError, match="appservice_dir"):
        await server(tmp_path, tmp_path / "nowhere").start()
