"""Password change, deactivation, capabilities, 3PIDs."""

from __future__ import annotations

from tests.http.client.test_devices import password_auth
from tests.kit.homeserver import PASSWORD, Homeserver

ALICE = "@alice:test.example"


async def test_change_password_logs_out_other_devices(hs: Homeserver) -> None:
    token = (await hs.register("alice"))["access_token"]
    other = (await hs.login("alice"))["access_token"]
    body = {"new_password": "new-pass", "auth": password_auth("alice")}
    status, _ = await hs.request("POST", "/account/password", body, token=token)
    assert status == 200
    assert (await hs.request("GET", "/account/whoami", token=token))[0] == 200
    assert (await hs.request("GET", "/account/whoami", token=other))[0] == 401
    status, _ = await hs.request(
        "POST", "/login", {"type": "m.login.password", "user": "alice", "password": PASSWORD}
    )
    assert status == 403
    await hs.login("alice", "new-pass")


async def test_change_password_keeping_devices(hs: Homeserver) -> None:
    token = (await hs.register("alice"))["access_token"]
    other = (await hs.login("alice"))["access_token"]
    body = {"new_password": "n", "logout_devices": False, "auth": password_auth("alice")}
    assert (await hs.request("POST", "/account/password", body, token=token))[0] == 200
    assert (await hs.request("GET", "/account/whoami", token=other))[0] == 200


async def test_change_password_refusals_change_nothing(hs: Homeserver) -> None:
    token = (await hs.register("alice"))["access_token"]
    status, challenge = await hs.request(
        "POST", "/account/password", {"new_password": "n"}, token=token
    )
    assert status == 401
    body = {"new_password": "n", "auth": password_auth("alice", challenge["session"], "wrong")}
    status, reply = await hs.request("POST", "/account/password", body, token=token)
    assert (status, reply["errcode"]) == (401, "M_FORBIDDEN")
    await hs.login("alice")
    body = {"new_password": "n" * 513, "auth": password_auth("alice")}
    status, reply = await hs.request("POST", "/account/password", body, token=token)
    assert (status, reply["errcode"]) == (400, "M_INVALID_PARAM")
    await hs.login("alice")


async def test_deactivate(hs: Homeserver) -> None:
    token = (await hs.register("alice"))["access_token"]
    status, challenge = await hs.request("POST", "/account/deactivate", {}, token=token)
    assert status == 401
    body = {"auth": password_auth("alice", challenge["session"], "wrong")}
    status, _ = await hs.request("POST", "/account/deactivate", body, token=token)
    assert status == 401
    assert hs.services.users.accounts.is_active(ALICE)
    body = {"auth": password_auth("alice", challenge["session"])}
    status, reply = await hs.request("POST", "/account/deactivate", body, token=token)
    assert (status, reply) == (200, {"id_server_unbind_result": "success"})
    assert (await hs.request("GET", "/account/whoami", token=token))[0] == 401
    status, _ = await hs.request(
        "POST", "/login", {"type": "m.login.password", "user": "alice", "password": PASSWORD}
    )
    assert status == 403
    # The ID can never be registered again.
    status, reply = await hs.request(
        "POST",
        "/register",
        {"username": "alice", "password": "p", "auth": {"type": "m.login.dummy"}},
    )
    assert (status, reply["errcode"]) == (400, "M_USER_IN_USE")
    assert (await hs.request("GET", f"/profile/{ALICE}"))[0] == 404


async def test_capabilities(hs: Homeserver) -> None:
    token = (await hs.register("alice"))["access_token"]
    status, reply = await hs.request("GET", "/capabilities", token=token)
    assert status == 200
    caps = reply["capabilities"]
    assert caps["m.change_password"] == {"enabled": True}
    assert caps["m.3pid_changes"] == {"enabled": False}
    assert caps["m.room_versions"]["default"] == "11"
    assert caps["m.room_versions"]["available"]["11"] == "stable"
    # MSC4155: invite filtering is enforced here (tests/http/rooms/test_invite_permission.py).
    assert caps["org.matrix.msc4155.invite_permission_config_enforced"] == {"enabled": True}


async def test_threepids(hs: Homeserver) -> None:
    token = (await hs.register("alice"))["access_token"]
    assert await hs.request("GET", "/account/3pid", token=token) == (200, {"threepids": []})
    status, reply = await hs.request("POST", "/account/3pid/add", {}, token=token)
    assert (status, reply["errcode"]) == (403, "M_THREEPID_DENIED")
    status, reply = await hs.request(
        "POST",
        "/register/email/requestToken",
        {"client_secret": "a", "email": "a@b.c", "send_attempt": 1},
    )
    assert (status, reply["errcode"]) == (403, "M_THREEPID_DENIED")
