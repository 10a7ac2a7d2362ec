"""Login, token login, refresh, logout, whoami and the access-token authenticator."""

from __future__ import annotations

import aiohttp

from tests.kit.homeserver import PASSWORD, Homeserver, StartHomeserver


async def test_login_flows(hs: Homeserver) -> None:
    status, reply = await hs.request("GET", "/login")
    assert status == 200
    types = [flow["type"] for flow in reply["flows"]]
    assert types == ["m.login.password", "m.login.token", "m.login.application_service"]


async def test_login_by_localpart_full_id_and_legacy_user(hs: Homeserver) -> None:
    await hs.register("alice")
    for user in ("alice", "@alice:test.example", "ALICE", "@Alice:test.example"):
        reply = await hs.login(user)
        assert reply["user_id"] == "@alice:test.example"
    status, reply = await hs.request(
        "POST", "/login", {"type": "m.login.password", "user": "alice", "password": PASSWORD}
    )
    assert status == 200
    status, me = await hs.request("GET", "/account/whoami", token=reply["access_token"])
    assert me["user_id"] == "@alice:test.example"


async def test_login_keeps_requested_device_id_and_replaces_its_token(hs: Homeserver) -> None:
    await hs.register("bob")
    first = await hs.login("bob", device_id="DEV", initial_device_display_name="Laptop")
    second = await hs.login("bob", device_id="DEV", initial_device_display_name="ignored")
    assert first["device_id"] == second["device_id"] == "DEV"
    device = hs.services.users.devices.get("@bob:test.example", "DEV")
    assert device is not None and device.display_name == "Laptop"
    status, reply = await hs.request("GET", "/account/whoami", token=first["access_token"])
    assert (status, reply["errcode"], reply["soft_logout"]) == (401, "M_UNKNOWN_TOKEN", False)


async def test_wrong_password_and_unknown_user(hs: Homeserver) -> None:
    await hs.register("carol")
    before = hs.services.users.devices.list_devices("@carol:test.example")
    for user, password in (
        ("carol", "wrong"),
        ("nobody", PASSWORD),
        ("@carol:other.example", PASSWORD),
    ):
        status, reply = await hs.request(
            "POST",
            "/login",
            {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user},
                "password": password,
            },
        )
        assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    assert hs.services.users.devices.list_devices("@carol:test.example") == before


async def test_bad_login_requests(hs: Homeserver) -> None:
    status, reply = await hs.request("POST", "/login", {"type": "m.login.sso"})
    assert (status, reply["errcode"]) == (400, "M_UNKNOWN")
    status, reply = await hs.request("POST", "/login", {"password": "x"})
    assert (status, reply["errcode"]) == (400, "M_MISSING_PARAM")
    status, reply = await hs.request("POST", "/login", {"type": "m.login.password", "user": "x"})
    assert (status, reply["errcode"]) == (400, "M_MISSING_PARAM")


async def test_well_known_in_login(start: StartHomeserver) -> None:
    hs = await start(well_known__client="https://matrix.test.example")
    await hs.register("dan")
    reply = await hs.login("dan")
    assert reply["well_known"] == {"m.homeserver": {"base_url": "https://matrix.test.example"}}


async def test_missing_and_unknown_tokens(hs: Homeserver) -> None:
    status, reply = await hs.request("GET", "/account/whoami")
    assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")
    status, reply = await hs.request("GET", "/account/whoami", token="nope")
    assert (status, reply["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    status, reply = await hs.request("POST", "/logout", token="nope")
    assert (status, reply["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    status, reply = await hs.request("POST", "/logout")
    assert (status, reply["errcode"]) == (401, "M_MISSING_TOKEN")


async def test_access_token_query_parameter(hs: Homeserver) -> None:
    reply = await hs.register("erin")
    status, me = await hs.request(
        "GET", "/account/whoami", params={"access_token": reply["access_token"]}
    )
    assert (status, me["user_id"]) == (200, "@erin:test.example")


async def test_logout_and_logout_all(hs: Homeserver) -> None:
    first = await hs.register("fred")
    second = await hs.login("fred")
    third = await hs.login("fred")
    status, _ = await hs.request("POST", "/logout", {}, token=first["access_token"])
    assert status == 200
    assert (await hs.request("GET", "/account/whoami", token=first["access_token"]))[0] == 401
    assert (await hs.request("GET", "/account/whoami", token=second["access_token"]))[0] == 200
    assert hs.services.users.devices.get("@fred:test.example", first["device_id"]) is None
    status, _ = await hs.request("POST", "/logout/all", {}, token=second["access_token"])
    assert status == 200
    for session in (second, third):
        assert (await hs.request("GET", "/account/whoami", token=session["access_token"]))[0] == 401
    assert hs.services.users.devices.list_devices("@fred:test.example") == []


async def test_refresh_tokens_and_expiry(hs: Homeserver) -> None:
    reply = await hs.register("gail", refresh_token=True)
    token, refresh = reply["access_token"], reply["refresh_token"]
    hs.clock.advance(reply["expires_in_ms"])
    status, err = await hs.request("GET", "/account/whoami", token=token)
    assert (status, err["errcode"], err["soft_logout"]) == (401, "M_UNKNOWN_TOKEN", True)
    status, new = await hs.request("POST", "/refresh", {"refresh_token": refresh})
    assert status == 200
    assert new["refresh_token"] != refresh and new["expires_in_ms"] > 0
    assert (await hs.request("GET", "/account/whoami", token=new["access_token"]))[0] == 200
    # The old refresh token is used up: refusing it changes nothing.
    status, err = await hs.request("POST", "/refresh", {"refresh_token": refresh})
    assert (status, err["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    assert (await hs.request("GET", "/account/whoami", token=new["access_token"]))[0] == 200


async def test_refresh_rate_limit_per_address(start: StartHomeserver) -> None:
    hs = await start(rate_limit_refresh_per_second=0.1, rate_limit_refresh_burst=2)
    refresh = (await hs.register("gus", refresh_token=True))["refresh_token"]
    for _ in range(2):
        status, reply = await hs.request("POST", "/refresh", {"refresh_token": refresh})
        assert status == 200, reply
        refresh = reply["refresh_token"]
    status, err = await hs.request("POST", "/refresh", {"refresh_token": refresh})
    assert (status, err["errcode"]) == (429, "M_LIMIT_EXCEEDED")
    assert 0 < err["retry_after_ms"] <= 10_001
    # The refused refresh left the token unused; another address is not limited.
    url = hs.client.make_url("/_matrix/client/v3/refresh")
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as other:
        async with other.post(url, json={"refresh_token": refresh}) as response:
            assert response.status == 200
            refresh = (await response.json())["refresh_token"]
    status, err = await hs.request("POST", "/refresh", {"refresh_token": refresh})
    assert (status, err["errcode"]) == (429, "M_LIMIT_EXCEEDED")
    hs.clock.advance(err["retry_after_ms"])
    status, reply = await hs.request("POST", "/refresh", {"refresh_token": refresh})
    assert status == 200, reply


async def test_refresh_rate_limit_zero_disables(start: StartHomeserver) -> None:
    hs = await start(rate_limit_refresh_per_second=0, rate_limit_refresh_burst=1)
    refresh = (await hs.register("gil", refresh_token=True))["refresh_token"]
    for _ in range(5):
        status, reply = await hs.request("POST", "/refresh", {"refresh_token": refresh})
        assert status == 200, reply
        refresh = reply["refresh_token"]


async def test_expired_refresh_token(start: StartHomeserver) -> None:
    hs = await start(refresh_token_lifetime=60_000)
    reply = await hs.register("hal", refresh_token=True)
    hs.clock.advance(60_000)
    status, err = await hs.request("POST", "/refresh", {"refresh_token": reply["refresh_token"]})
    assert (status, err["errcode"]) == (401, "M_UNKNOWN_TOKEN")


async def test_login_token(hs: Homeserver) -> None:
    reply = await hs.register("ivy")
    token = reply["access_token"]
    status, challenge = await hs.request(
        "POST", "/_matrix/client/v1/login/get_token", {}, token=token
    )
    assert status == 401
    assert challenge["flows"] == [{"stages": ["m.login.password"]}]
    auth = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": "ivy"},
        "password": PASSWORD,
        "session": challenge["session"],
    }
    status, login_token = await hs.request(
        "POST", "/_matrix/client/v1/login/get_token", {"auth": auth}, token=token
    )
    assert status == 200
    assert login_token["expires_in_ms"] == hs.config.login_token_ttl
    body = {"type": "m.login.token", "token": login_token["login_token"]}
    status, new = await hs.request("POST", "/login", body)
    assert (status, new["user_id"]) == (200, "@ivy:test.example")
    status, err = await hs.request("POST", "/login", body)  # single use
    assert (status, err["errcode"]) == (403, "M_FORBIDDEN")


async def test_login_token_expires(hs: Homeserver) -> None:
    await hs.register("jay")
    token, _ = hs.services.users.devices.create_login_token("@jay:test.example")
    hs.clock.advance(hs.config.login_token_ttl)
    status, err = await hs.request("POST", "/login", {"type": "m.login.token", "token": token})
    assert (status, err["errcode"]) == (403, "M_FORBIDDEN")


async def test_login_rate_limit(start: StartHomeserver) -> None:
    hs = await start(rate_limit_login_per_second=0.1, rate_limit_login_burst=2)
    await hs.register("kay")
    await hs.login("kay")
    await hs.login("kay")
    status, err = await hs.request(
        "POST", "/login", {"type": "m.login.password", "user": "kay", "password": PASSWORD}
    )
    assert (status, err["errcode"]) == (429, "M_LIMIT_EXCEEDED")
    assert len(hs.services.users.devices.list_devices("@kay:test.example")) == 3


async def test_malformed_authorization_header(hs: Homeserver) -> None:
    token = (await hs.register("lee"))["access_token"]
    async with hs.client.get(
        "/_matrix/client/v3/account/whoami", headers={"Authorization": f"Basic {token}"}
    ) as response:
        assert response.status == 401
        assert (await response.json())["errcode"] == "M_MISSING_TOKEN"
    # The header wins over the query parameter.
    async with hs.client.get(
        "/_matrix/client/v3/account/whoami",
        headers={"Authorization": f"Bearer {token}"},
        params={"access_token": "stale"},
    ) as response:
        assert response.status == 200
