"""Shutdown drains in-flight requests before the database closes; push delivery
runs between start and stop."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from pathlib import Path

import aiohttp
from aiohttp import web

from conduwuit.cli import main
from conduwuit.config import load_config
from conduwuit.runtime import RunningServer, serve
from tests.kit.server import free_port


async def test_in_flight_request_finishes_during_shutdown(tmp_path: Path) -> None:
    port = free_port()
    config = load_config(
        None,
        {
            "CONDUWUIT_SERVER_NAME": "localhost",
            "CONDUWUIT_DATABASE_PATH": str(tmp_path / "db"),
            "CONDUWUIT_ADDRESS": "127.0.0.1",
            "CONDUWUIT_PORT": str(port),
            "CONDUWUIT_CLIENT_SHUTDOWN_TIMEOUT": "10",
        },
    ).config
    server = RunningServer(config)
    entered = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        entered.set()
        await asyncio.sleep(0.5)
        return web.json_response({"done": True})

    server.runner.app.router.add_get("/slow", slow)
    await server.start()
    pushers = server.server.services.push.pushers
    assert pushers.running
    async with aiohttp.ClientSession() as session:
        request = asyncio.ensure_future(session.get(f"http://127.0.0.1:{port}/slow"))
        await entered.wait()
        stopping = asyncio.ensure_future(server.stop())
        response = await request
        assert response.status == 200
        assert await response.json() == {"done": True}
        await stopping
    assert server.server.services.db.closed
    assert not pushers.running and pushers.deliveries == 0
    # new connections are refused once stopped
    async with aiohttp.ClientSession() as session:
        try:
            await session.get(f"http://127.0.0.1:{port}/slow")
            raise AssertionError("server still accepting")
        except aiohttp.ClientConnectionError:
            pass


async def test_serve_turns_the_gc_back_on_once_listening(tmp_path: Path) -> None:
    # cli.main pauses the cyclic GC for start-up (issue 21); serving runs with it on
    port = free_port()
    loaded = load_config(
        None,
        {
            "CONDUWUIT_SERVER_NAME": "localhost",
            "CONDUWUIT_DATABASE_PATH": str(tmp_path / "db"),
            "CONDUWUIT_ADDRESS": "127.0.0.1",
            "CONDUWUIT_PORT": str(port),
        },
    )
    gc.disable()
    try:
        task = asyncio.create_task(serve(loaded))
        for _ in range(500):  # bounded: 10 s
            if gc.isenabled() or task.done():
                break
            await asyncio.sleep(0.02)
        assert gc.isenabled() and not task.done()
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/_matrix/client/versions") as response,
        ):
            assert response.status == 200  # listening by then
        os.kill(os.getpid(), signal.SIGTERM)  # serve's own handler: a clean shutdown
        await asyncio.wait_for(task, 15)
    finally:
        gc.enable()


def test_cli_restores_the_gc_on_a_command_that_fails(tmp_path: Path) -> None:
    gc.enable()
    bad = tmp_path / "conduwuit.toml"
    bad.write_text('[global]\nserver_name = "localhost"\nport = "not a port"\n')
    assert main(["--config", str(bad), "check-config"]) == 1
    assert gc.isenabled()
