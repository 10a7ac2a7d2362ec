"""GET /admin/whois/{userId}: for admins and for the user themselves (as Synapse),
each device with its session and the login's IP address and time."""

from __future__ import annotations

from tests.kit.homeserver import Homeserver


async def test_whois_self_and_admin(hs: Homeserver) -> None:
    admin = await hs.register("admin")  # the first account is an admin
    bob = await hs.register("bob")
    second = await hs.login("bob")
    want_devices = {bob["device_id"], second["device_id"]}
    for token in (bob["access_token"], admin["access_token"]):
        status, reply = await hs.request("GET", f"/admin/whois/{bob['user_id']}", token=token)
        assert status == 200, reply
        assert reply["user_id"] == bob["user_id"]
        assert set(reply["devices"]) == want_devices
        for device in reply["devices"].values():
            (session,) = device["sessions"]
            (connection,) = session["connections"]
            assert connection["last_seen"] == hs.clock()
            assert connection["ip"] == "127.0.0.1"
    # Synapse's admin path answers the same (synapse-admin asks there).
    path = f"/_synapse/admin/v1/whois/{bob['user_id']}"
    status, reply = await hs.request("GET", path, token=admin["access_token"])
    assert status == 200 and set(reply["devices"]) == want_devices, reply


async def test_whois_refusals(hs: Homeserver) -> None:
    admin = await hs.register("admin")
    bob = await hs.register("bob")
    refusals = [
        (f"/admin/whois/{admin['user_id']}", bob["access_token"], 403, "M_FORBIDDEN"),
        ("/admin/whois/@nobody:test.example", admin["access_token"], 404, "M_NOT_FOUND"),
        ("/admin/whois/@bob:elsewhere.example", admin["access_token"], 400, "M_INVALID_PARAM"),
        ("/admin/whois/not-a-user", admin["access_token"], 400, "M_INVALID_PARAM"),
        (f"/admin/whois/{bob['user_id']}", None, 401, "M_MISSING_TOKEN"),
    ]
    for path, token, status, errcode in refusals:
        got, reply = await hs.request("GET", path, token=token)
        assert (got, reply["errcode"]) == (status, errcode), path
