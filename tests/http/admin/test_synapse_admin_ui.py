"""The requests synapse-admin (the web UI, Awesome-Technologies/synapse-admin, its
``src/synapse/dataProvider.ts`` and ``authProvider.ts``) sends for logging in and for
its users (with their media and pushers tabs), users' media statistics, rooms,
reports and registration-token pages, replayed as it builds them, with the fields
it reads from each answer. The UI itself does not run in the test suite (it is not
built there); ``python -m tests.browser.synapse_admin_media`` drives a build in
headless Chromium (docs/development/testing.md), and this pins what it needs of
the server."""

from __future__ import annotations

from typing import Any

import pytest

from conduwuit.api.client.rooms import reports as reports_api
from tests.http.admin.test_rooms import wait_for
from tests.http.admin.test_users import ok
from tests.http.media.test_content import upload_ok
from tests.kit.homeserver import PASSWORD, StartHomeserver

V1 = "/_synapse/admin/v1"
V2 = "/_synapse/admin/v2"


async def no_delay() -> None:
    return None


def page(field: str, order: str = "f", **filters: str) -> dict[str, str]:
    """getList's query for page 1 of 10 (unless ``limit`` says), sorted by ``field``
    (react-admin)."""
    return {"from": "0", "limit": "10", "order_by": field, "dir": order, **filters}


async def test_the_ui_pages_get_what_they_read(
    start: StartHomeserver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports_api, "report_delay", no_delay)
    hs = await start()
    await hs.register("admin")
    alice = (await hs.register("alice"))["access_token"]
    # The login form: password login at r0 with its own device name.
    login = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": "admin"},
        "password": PASSWORD,
        "initial_device_display_name": "Synapse Admin",
    }
    body: dict[str, Any] = login
    status, session = await hs.request("POST", "/_matrix/client/r0/login", body)
    assert status == 200, session
    token = session["access_token"]
    assert {"home_server", "user_id", "device_id"} <= set(session)
    assert (await hs.request("GET", f"{V1}/server_version"))[0] == 200

    room = (await ok(hs, "POST", "/createRoom", alice, {"name": "Kitchen"}))["room_id"]
    event_id = (await ok(hs, "PUT", f"/rooms/{room}/send/m.room.message/1", alice, {"body": "x"}))[
        "event_id"
    ]
    await ok(hs, "POST", f"/rooms/{room}/report/{event_id}", alice, {"reason": "test"})

    # Users: the list (default filters: guests and deactivated as booleans), one user.
    users = await ok(
        hs, "GET", f"{V2}/users", token, **page("name", guests="true", deactivated="false")
    )
    assert isinstance(users["total"], int)
    for user in users["users"]:
        assert {"name", "is_guest", "admin", "deactivated", "creation_ts", "displayname"} <= set(
            user
        )
    alice_id = "@alice:test.example"
    one = await ok(hs, "GET", f"{V2}/users/{alice_id}", token)
    assert one["name"] == alice_id and one["threepids"] == [] and one["external_ids"] == []
    # Its tabs: sessions (whois), devices, joined rooms.
    await ok(hs, "GET", f"{V1}/whois/{alice_id}", token)
    devices = await ok(hs, "GET", f"{V2}/users/{alice_id}/devices", token, **page("device_id"))
    assert devices["total"] == len(devices["devices"]) == 1
    joined = await ok(hs, "GET", f"{V1}/users/{alice_id}/joined_rooms", token, **page("id"))
    assert joined == {"joined_rooms": [room], "total": 1}
    # The edit form saves the whole record back with PUT (nulls left out).
    record = {k: v for k, v in one.items() if v is not None}
    record.update({"id": alice_id, "displayname": "Alice A.", "is_guest": False, "admin": False})
    record["deactivated"] = False
    saved = await ok(hs, "PUT", f"{V2}/users/{alice_id}", token, record)
    assert saved["displayname"] == "Alice A."

    # The user's media and pushers tabs, and the users' media statistics page.
    media_id = await upload_ok(hs, alice, b"png", content_type="image/png", filename="a.png")
    media = await ok(
        hs, "GET", f"{V1}/users/{alice_id}/media", token, **page("created_ts", "b", limit="50")
    )
    (row,) = media["media"]
    assert {"media_id", "created_ts", "media_length", "media_type", "upload_name"} <= set(row)
    assert {"quarantined_by", "safe_from_quarantine", "last_access_ts"} <= set(row)
    pushers = await ok(hs, "GET", f"{V1}/users/{alice_id}/pushers", token, **page("id", "b"))
    assert pushers == {"pushers": [], "total": 0}
    stats = await ok(hs, "GET", f"{V1}/statistics/users/media", token, **page("media_length", "b"))
    assert stats["total"] == 1 and stats["users"][0]["user_id"] == alice_id
    assert {"displayname", "media_count", "media_length"} <= set(stats["users"][0])
    # Its row's quarantine button: POST without a body.
    assert await ok(hs, "POST", f"{V1}/media/quarantine/test.example/{media_id}", token) == {}

    # Rooms: the list sorted by name, one room, members, state.
    rooms = await ok(hs, "GET", f"{V1}/rooms", token, **page("name"))
    assert rooms["total_rooms"] == len(rooms["rooms"]) == 2  # the Kitchen and the admin room
    for row in rooms["rooms"]:
        assert {"room_id", "name", "canonical_alias", "joined_members", "encryption"} <= set(row)
    assert (await ok(hs, "GET", f"{V1}/rooms/{room}", token))["name"] == "Kitchen"
    members = await ok(hs, "GET", f"{V1}/rooms/{room}/members", token, **page("id"))
    assert members == {"members": [alice_id], "total": 1}
    state = await ok(hs, "GET", f"{V1}/rooms/{room}/state", token, **page("id"))
    assert all("event_id" in e for e in state["state"])

    # Reports and registration tokens.
    reports = await ok(hs, "GET", f"{V1}/event_reports", token, **page("received_ts", "b"))
    (report,) = reports["event_reports"]
    assert reports["total"] == 1 and report["event_id"] == event_id
    assert (await ok(hs, "GET", f"{V1}/event_reports/{report['id']}", token))["event_json"]
    await ok(hs, "POST", f"{V1}/registration_tokens/new", token, {"uses_allowed": 5})
    tokens = await ok(hs, "GET", f"{V1}/registration_tokens", token, **page("token"))
    assert [t["uses_allowed"] for t in tokens["registration_tokens"]] == [5]

    # Deleting a user is deactivating with erase; deleting a room purges it (the UI
    # sends no "purge": Synapse's default, true) and the UI polls its status.
    assert (await ok(hs, "POST", f"{V1}/deactivate/{alice_id}", token, {"erase": True})) == {
        "id_server_unbind_result": "success"
    }
    deleted = await ok(hs, "DELETE", f"{V2}/rooms/{room}", token, {"block": False})
    assert (await wait_for(hs, token, deleted["delete_id"]))["status"] == "complete"
    status_code, _ = await hs.request("GET", f"{V1}/rooms/{room}", token=token)
    assert status_code == 404
