"""POST /users/{userId}/report: logged for the admins (escaped), 404 for users this
server does not have, clear errors for bad bodies."""

from __future__ import annotations

import logging

import pytest

from conduwuit.api.client.rooms import reports as reports_api
from tests.kit.homeserver import Homeserver

NASTY = "spam\nINFO forged\x1b[2J"


@pytest.fixture(autouse=True)
def no_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    async def none() -> None:
        return None

    monkeypatch.setattr(reports_api, "report_delay", none)


async def test_report_user_is_logged_escaped(
    hs: Homeserver, caplog: pytest.LogCaptureFixture
) -> None:
    me = await hs.register("alice")
    bob = await hs.register("bob")
    path = f"/users/{bob['user_id']}/report"
    with caplog.at_level(logging.WARNING, logger="conduwuit"):
        status, reply = await hs.request("POST", path, {"reason": NASTY}, token=me["access_token"])
        assert (status, reply) == (200, {})
        status, _ = await hs.request("POST", path, {"reason": ""}, token=me["access_token"])
        assert status == 200  # the spec: the reason "may be blank"
    reports = [r.getMessage() for r in caplog.records if r.getMessage().startswith("report:")]
    assert len(reports) == 2
    assert f"reported user {bob['user_id']}: spam\\nINFO forged\\x1b[2J" in reports[0]
    assert "\n" not in reports[0] and "\x1b" not in reports[0]


async def test_report_user_refusals(hs: Homeserver, caplog: pytest.LogCaptureFixture) -> None:
    me = await hs.register("alice")
    bob = await hs.register("bob")
    token = me["access_token"]
    bob_path = f"/users/{bob['user_id']}/report"
    cases = [
        ("/users/@nobody:test.example/report", {"reason": "x"}, 404, "M_NOT_FOUND"),
        ("/users/@bob:elsewhere.example/report", {"reason": "x"}, 404, "M_NOT_FOUND"),
        ("/users/not-a-user/report", {"reason": "x"}, 400, "M_INVALID_PARAM"),
        (bob_path, {}, 400, "M_MISSING_PARAM"),
        (bob_path, {"reason": 5}, 400, "M_BAD_JSON"),
        (bob_path, {"reason": "x" * 751}, 400, "M_INVALID_PARAM"),
    ]
    with caplog.at_level(logging.WARNING, logger="conduwuit"):
        for path, body, want, errcode in cases:
            status, reply = await hs.request("POST", path, body, token=token)
            assert (status, reply["errcode"]) == (want, errcode), (path, body, reply)
        status, reply = await hs.request("POST", bob_path, {"reason": "x"})
        assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
    assert not [r for r in caplog.records if r.getMessage().startswith("report:")]
