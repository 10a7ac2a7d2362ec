"""Shutdown drains in-flight requests before the database closes; push delivery
runs between start and stop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from aiohttp import web

from conduwuit.config import load_config
from conduwuit.runtime import RunningServer
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
