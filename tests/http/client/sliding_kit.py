"""Helpers of the sliding sync tests: one request, a list, a room config."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kit.homeserver import Homeserver, StartHomeserver

PATH = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync"


async def sliding(
    hs: Homeserver,
    token: str,
    body: dict[str, Any],
    *,
    pos: str | None = None,
    timeout_ms: int | None = None,
    status: int = 200,
) -> dict[str, Any]:
    params = {}
    if pos is not None:
        params["pos"] = pos
    if timeout_ms is not None:
        params["timeout"] = str(timeout_ms)
    got, reply = await hs.request("POST", PATH, body, token=token, params=params or None)
    assert got == status, reply
    result: dict[str, Any] = reply
    return result


@pytest.fixture
async def hs(start: StartHomeserver) -> Homeserver:
    """A server whose first user (who gets the admin room) is already registered, so
    the tests' users have only the rooms they make."""
    server = await start()
    await server.register("operator")
    return server


def a_list(
    end: int = 19,
    *,
    required_state: list[list[str]] | None = None,
    timeline_limit: int = 5,
    **filters: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ranges": [[0, end]],
        "required_state": required_state or [],
        "timeline_limit": timeline_limit,
    }
    if filters:
        body["filters"] = filters
    return body


def bodies(room: dict[str, Any]) -> list[str]:
    return [e["content"]["body"] for e in room.get("timeline", []) if e["type"] == "m.room.message"]
