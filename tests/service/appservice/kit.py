"""Helpers of the appservice sender tests: a homeserver whose sender retries fast,
waiting for a condition, sending a message."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from conduwuit.service.appservice.sender import AppserviceSenderSettings
from tests.kit.appservice import AS_TOKEN
from tests.kit.homeserver import Homeserver, start_homeserver

FAST = AppserviceSenderSettings(retry_base_s=0.02, retry_max_s=0.1)


async def started(path: Path) -> Homeserver:
    hs = await start_homeserver(path)
    hs.services.appservice_sender.settings = FAST
    hs.services.appservice_sender.start()
    return hs


async def until(condition: object, what: str) -> None:
    for _ in range(500):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def send(hs: Homeserver, room_id: str, body: str, token: str) -> str:
    status, reply = await hs.request(
        "PUT",
        f"/rooms/{room_id}/send/m.room.message/{body}",
        {"msgtype": "m.text", "body": body},
        token=token,
    )
    assert status == 200, reply
    event_id: str = reply["event_id"]
    return event_id


async def register_user(hs: Homeserver, localpart: str) -> dict[str, Any]:
    """Register a user of the service's namespace, as the service."""
    status, reply = await hs.request(
        "POST",
        "/register",
        {"type": "m.login.application_service", "username": localpart},
        token=AS_TOKEN,
    )
    assert status == 200, reply
    return dict(reply)
