"""Device management, with UIA on deletion."""

from __future__ import annotations

from tests.kit.homeserver import PASSWORD, Homeserver


def password_auth(
    user: str, session: str | None = None, password: str = PASSWORD
) -> dict[str, object]:
    auth: dict[str, object] = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user},
        "password": password,
    }
    if session is not None:
        auth["session"] = session
    return auth


async def test_list_get_rename(hs: Homeserver) -> None:
    reply = await hs.register("alice", device_id="ONE", initial_device_display_name="Phone")
    token = reply["access_token"]
    await hs.login("alice", device_id="TWO")
    status, listed = await hs.request("GET", "/devices", token=token)
    assert status == 200
    assert sorted(d["device_id"] for d in listed["devices"]) == ["ONE", "TWO"]
    status, device = await hs.request("GET", "/devices/ONE", token=token)
    assert status == 200
    assert device["display_name"] == "Phone"
    assert "last_seen_ts" in device
    status, _ = await hs.request("PUT", "/devices/ONE", {"display_name": "New"}, token=token)
    assert status == 200
    _, device = await hs.request("GET", "/devices/ONE", token=token)
    assert device["display_name"] == "New"
    status, _ = await hs.request("PUT", "/devices/ONE", {}, token=token)
    assert status == 200
    _, device = await hs.request("GET", "/devices/ONE", token=token)
    assert device["display_name"] == "New"


async def test_unknown_device_is_404_and_not_created(hs: Homeserver) -> None:
    token = (await hs.register("bob"))["access_token"]
    status, reply = await hs.request("GET", "/devices/NOPE", token=token)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
    status, reply = await hs.request("PUT", "/devices/NOPE", {"display_name": "x"}, token=token)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
    assert hs.services.users.devices.get("@bob:test.example", "NOPE") is None


async def test_other_users_devices_are_invisible(hs: Homeserver) -> None:
    await hs.register("carol", device_id="CAROL")
    token = (await hs.register("dave"))["access_token"]
    status, _ = await hs.request("GET", "/devices/CAROL", token=token)
    assert status == 404


async def test_delete_device_needs_password(hs: Homeserver) -> None:
    token = (await hs.register("erin", device_id="MAIN"))["access_token"]
    other = await hs.login("erin", device_id="OLD")
    status, challenge = await hs.request("DELETE", "/devices/OLD", {}, token=token)
    assert status == 401
    assert challenge["flows"] == [{"stages": ["m.login.password"]}]
    session = challenge["session"]
    status, reply = await hs.request(
        "DELETE", "/devices/OLD", {"auth": password_auth("erin", session, "wrong")}, token=token
    )
    assert (status, reply["errcode"]) == (401, "M_FORBIDDEN")
    assert reply["session"] == session
    assert (await hs.request("GET", "/account/whoami", token=other["access_token"]))[0] == 200
    status, _ = await hs.request(
        "DELETE", "/devices/OLD", {"auth": password_auth("erin", session)}, token=token
    )
    assert status == 200
    assert hs.services.users.devices.get("@erin:test.example", "OLD") is None
    status, reply = await hs.request("GET", "/account/whoami", token=other["access_token"])
    assert (status, reply["errcode"]) == (401, "M_UNKNOWN_TOKEN")


async def test_delete_device_requires_owner_password(hs: Homeserver) -> None:
    token = (await hs.register("fay", device_id="A"))["access_token"]
    await hs.login("fay", device_id="B")
    await hs.register("gus")
    _, challenge = await hs.request("DELETE", "/devices/B", {}, token=token)
    status, reply = await hs.request(
        "DELETE", "/devices/B", {"auth": password_auth("gus", challenge["session"])}, token=token
    )
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    assert hs.services.users.devices.get("@fay:test.example", "B") is not None


async def test_delete_devices(hs: Homeserver) -> None:
    token = (await hs.register("hal", device_id="KEEP"))["access_token"]
    await hs.login("hal", device_id="X")
    await hs.login("hal", device_id="Y")
    body = {"devices": ["X", "Y", "UNKNOWN"], "auth": password_auth("hal")}
    status, _ = await hs.request("POST", "/delete_devices", body, token=token)
    assert status == 200
    remaining = hs.services.users.devices.list_devices("@hal:test.example")
    assert [d.device_id for d in remaining] == ["KEEP"]
    status, reply = await hs.request(
        "POST", "/delete_devices", {"auth": password_auth("hal")}, token=token
    )
    assert (status, reply["errcode"]) == (400, "M_MISSING_PARAM")
