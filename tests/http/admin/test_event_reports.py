"""Synapse's event reports admin API over the reports of ``/rooms/{roomId}/report``:
stored (surviving a restart), listed newest first with filters and pages, one with
its event, deleted; admins only."""

from __future__ import annotations

from pathlib import Path

import pytest

from conduwuit.api.client.rooms import reports as reports_api
from tests.http.admin.test_users import ok
from tests.kit.homeserver import start_homeserver

PATH = "/_synapse/admin/v1/event_reports"
ALICE = "@alice:test.example"
BOB = "@bob:test.example"


async def no_delay() -> None:
    return None


async def test_reports_listed_shown_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports_api, "report_delay", no_delay)
    hs = await start_homeserver(tmp_path / "db")
    try:
        admin = (await hs.register("admin"))["access_token"]
        alice = (await hs.register("alice"))["access_token"]
        bob = (await hs.register("bob"))["access_token"]
        room = (
            await ok(hs, "POST", "/createRoom", alice, {"name": "Chat", "preset": "public_chat"})
        )["room_id"]
        await ok(hs, "POST", f"/join/{room}", bob, {})
        spam = (
            await ok(
                hs,
                "PUT",
                f"/rooms/{room}/send/m.room.message/1",
                bob,
                {"msgtype": "m.text", "body": "spam"},
            )
        )["event_id"]
        hello = (
            await ok(
                hs,
                "PUT",
                f"/rooms/{room}/send/m.room.message/2",
                alice,
                {"msgtype": "m.text", "body": "hi"},
            )
        )["event_id"]
        await ok(
            hs, "POST", f"/rooms/{room}/report/{spam}", alice, {"reason": "spam", "score": -100}
        )
        await ok(hs, "POST", f"/rooms/{room}/report/{hello}", bob, {"reason": "rude"})
        # A refused report is not stored.
        status, _ = await hs.request(
            "POST", f"/rooms/{room}/report/$nope", {"reason": "x"}, token=alice
        )
        assert status == 404

        status, reply = await hs.request("GET", PATH)
        assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
        for method in ("GET", "DELETE"):
            status, reply = await hs.request(
                method, f"{PATH}/1" if method == "DELETE" else PATH, token=alice
            )
            assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    finally:
        await hs.close()

    # Stored: a restarted server still has them.
    hs = await start_homeserver(tmp_path / "db")
    try:
        reply = await ok(hs, "GET", PATH, admin)
        assert reply["total"] == 2 and "next_token" not in reply
        newest, oldest = reply["event_reports"]
        assert (newest["event_id"], newest["user_id"], newest["sender"]) == (hello, BOB, ALICE)
        assert (oldest["event_id"], oldest["user_id"], oldest["sender"], oldest["score"]) == (
            spam,
            ALICE,
            BOB,
            -100,
        )
        assert (oldest["room_id"], oldest["name"], oldest["reason"]) == (room, "Chat", "spam")
        assert oldest["received_ts"] == hs.clock() and oldest["id"] < newest["id"]

        forwards = await ok(hs, "GET", PATH, admin, dir="f", limit="1")
        assert [r["id"] for r in forwards["event_reports"]] == [oldest["id"]] and forwards[
            "next_token"
        ] == 1
        by_reporter = await ok(hs, "GET", PATH, admin, user_id="alice")
        assert [r["id"] for r in by_reporter["event_reports"]] == [oldest["id"]]
        by_sender = await ok(hs, "GET", PATH, admin, event_sender_user_id=ALICE)
        assert [r["id"] for r in by_sender["event_reports"]] == [newest["id"]]
        assert (await ok(hs, "GET", PATH, admin, room_id="!other:x"))["event_reports"] == []

        details = await ok(hs, "GET", f"{PATH}/{oldest['id']}", admin)
        assert (
            details["event_json"]["event_id"] == spam
            and details["event_json"]["content"]["body"] == "spam"
        )

        for bad in ("x", "-1"):
            status, reply = await hs.request("GET", f"{PATH}/{bad}", token=admin)
            assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")
        status, reply = await hs.request("GET", PATH, token=admin, params={"dir": "sideways"})
        assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")

        assert await ok(hs, "DELETE", f"{PATH}/{oldest['id']}", admin) == {}
        for method in ("GET", "DELETE"):
            status, reply = await hs.request(method, f"{PATH}/{oldest['id']}", token=admin)
            assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
        assert [r["id"] for r in (await ok(hs, "GET", PATH, admin))["event_reports"]] == [
            newest["id"]
        ]
    finally:
        await hs.close()
