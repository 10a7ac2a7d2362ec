"""MSC3890: deleting a device deletes its local notification settings
(``org.matrix.msc3890.local_notification_settings.<device_id>`` account data), in
the deletion's own batch, on every path that deletes devices; other devices' and
other users' settings stay."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kit.homeserver import Homeserver

from .test_devices import password_auth

PREFIX = "org.matrix.msc3890.local_notification_settings."
SILENCED = {"is_silenced": True}


async def _settings(hs: Homeserver, token: str, user: str, device: str) -> tuple[int, Any]:
    return await hs.request("GET", f"/user/{user}/account_data/{PREFIX}{device}", token=token)


async def _put_settings(hs: Homeserver, token: str, user: str, *devices: str) -> None:
    for device in devices:
        path = f"/user/{user}/account_data/{PREFIX}{device}"
        assert (await hs.request("PUT", path, SILENCED, token=token))[0] == 200


async def test_logout_deletes_the_devices_settings_and_syncs_the_deletion(
    hs: Homeserver,
) -> None:
    token = (await hs.register("alice", device_id="ONE"))["access_token"]
    user = "@alice:test.example"
    two = (await hs.login("alice", device_id="TWO"))["access_token"]
    await _put_settings(hs, token, user, "ONE", "TWO")
    bob = (await hs.register("bob", device_id="TWO"))["access_token"]
    await _put_settings(hs, bob, "@bob:test.example", "TWO")
    status, synced = await hs.request("GET", "/sync", token=token)
    assert status == 200
    since = synced["next_batch"]

    assert (await hs.request("POST", "/logout", {}, token=two))[0] == 200

    status, reply = await _settings(hs, token, user, "TWO")
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
    assert await _settings(hs, token, user, "ONE") == (200, SILENCED)
    assert await _settings(hs, bob, "@bob:test.example", "TWO") == (200, SILENCED)
    # The other device hears of the deletion (MSC3391: content {}).
    status, synced = await hs.request("GET", "/sync", token=token, params={"since": since})
    assert status == 200
    events = synced.get("account_data", {}).get("events", [])
    assert {"type": f"{PREFIX}TWO", "content": {}} in events


@pytest.mark.parametrize("path", ["delete_device", "delete_devices", "logout_all", "password"])
async def test_every_device_deletion_deletes_settings(hs: Homeserver, path: str) -> None:
    token = (await hs.register("carol", device_id="KEEP"))["access_token"]
    user = "@carol:test.example"
    await hs.login("carol", device_id="X")
    await hs.login("carol", device_id="Y")
    await _put_settings(hs, token, user, "KEEP", "X", "Y")
    auth = password_auth("carol")
    if path == "delete_device":
        status, _ = await hs.request("DELETE", "/devices/X", {"auth": auth}, token=token)
        gone, kept = ["X"], ["KEEP", "Y"]
    elif path == "delete_devices":
        # A device named twice, or unknown, changes nothing more.
        body = {"devices": ["X", "Y", "X", "UNKNOWN"], "auth": auth}
        status, _ = await hs.request("POST", "/delete_devices", body, token=token)
        gone, kept = ["X", "Y"], ["KEEP"]
    elif path == "logout_all":
        status, _ = await hs.request("POST", "/logout/all", {}, token=token)
        gone, kept = ["KEEP", "X", "Y"], []
        token = (await hs.login("carol", device_id="NEW"))["access_token"]
    else:
        change = {"new_password": "n3w", "auth": auth, "logout_devices": True}
        status, _ = await hs.request("POST", "/account/password", change, token=token)
        gone, kept = ["X", "Y"], ["KEEP"]
    assert status == 200
    for device in gone:
        assert (await _settings(hs, token, user, device))[0] == 404, device
    for device in kept:
        assert await _settings(hs, token, user, device) == (200, SILENCED), device


async def test_refused_deletion_keeps_settings(hs: Homeserver) -> None:
    token = (await hs.register("dave", device_id="A"))["access_token"]
    user = "@dave:test.example"
    await hs.login("dave", device_id="B")
    await _put_settings(hs, token, user, "B")
    body = {"auth": password_auth("dave", password="wrong")}
    status, _ = await hs.request("DELETE", "/devices/B", body, token=token)
    assert status == 401
    assert await _settings(hs, token, user, "B") == (200, SILENCED)


async def test_erasure_leaves_no_settings_behind(hs: Homeserver) -> None:
    token = (await hs.register("erin", device_id="A"))["access_token"]
    user = "@erin:test.example"
    await _put_settings(hs, token, user, "A")
    body = {"auth": password_auth("erin"), "erase": True}
    assert (await hs.request("POST", "/account/deactivate", body, token=token))[0] == 200
    account_data = hs.services.users.account_data
    assert list(account_data.since(user, 0)) == []
