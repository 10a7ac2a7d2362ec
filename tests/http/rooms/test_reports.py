"""Report reasons reach the admins' log escaped: a reporter cannot forge log lines
(newlines) or send terminal escapes (ANSI) with them."""

from __future__ import annotations

import logging

import pytest

from conduwuit.api.client.rooms import reports as reports_api
from tests.kit.homeserver import Homeserver

from .conftest import Users

NASTY = "spam\nINFO forged: admin granted\x1b[2J\x1b[31mred\u202egnp.exe\r"


async def test_report_reasons_are_escaped_in_the_log(
    hs: Homeserver, users: Users, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def no_delay() -> None:
        return None

    monkeypatch.setattr(reports_api, "report_delay", no_delay)
    alice = await users.add("alice")
    room = (await users.ok(alice, "POST", "/createRoom", {}))["room_id"]
    sent = await users.ok(alice, "PUT", f"/rooms/{room}/send/m.room.message/1", {"body": "x"})
    event_id = sent["event_id"]
    with caplog.at_level(logging.WARNING, logger="conduwuit"):
        await users.ok(alice, "POST", f"/rooms/{room}/report/{event_id}", {"reason": NASTY})
        await users.ok(alice, "POST", f"/rooms/{room}/report", {"reason": NASTY})
    reports = [r.getMessage() for r in caplog.records if r.getMessage().startswith("report:")]
    assert len(reports) == 2
    for message in reports:
        assert "\n" not in message and "\r" not in message
        assert "\x1b" not in message and "\u202e" not in message
        assert "spam\\nINFO forged: admin granted\\x1b[2J\\x1b[31mred\\u202egnp.exe\\r" in message
