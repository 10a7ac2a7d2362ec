"""The homeserver asks a real application service (on loopback) about unknown users
and aliases in its namespaces, and pings it for the service (spec v1.7)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from conduwuit.service.appservice.registry import parse_registration_yaml
from tests.kit.appservice import AS_TOKEN, FakeAppservice
from tests.kit.homeserver import Homeserver


@pytest.fixture
async def appservice(hs: Homeserver) -> AsyncIterator[FakeAppservice]:
    fake = FakeAppservice()
    await fake.start()
    await hs.register("alice")
    await hs.services.users.appservices.register(parse_registration_yaml(fake.registration_yaml()))
    yield fake
    await fake.close()


async def test_unknown_namespace_user_is_asked_for(
    hs: Homeserver, appservice: FakeAppservice
) -> None:
    async def create(user_id: str) -> bool:
        localpart = user_id[1:].split(":")[0]
        if localpart != "_fake_known":
            return False
        body = {"type": "m.login.application_service", "username": localpart}
        status, _ = await hs.request("POST", "/register", body, token=AS_TOKEN)
        return status == 200

    appservice.on_query = create
    status, reply = await hs.request("GET", "/profile/@_fake_known:test.example")
    assert (status, reply) == (200, {"displayname": "_fake_known"})
    status, reply = await hs.request("GET", "/profile/@_fake_unknown:test.example")
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
    status, reply = await hs.request("GET", "/profile/@nobody:test.example")
    assert status == 404
    assert appservice.queries == ["@_fake_known:test.example", "@_fake_unknown:test.example"]


async def test_unknown_namespace_alias_is_asked_for(
    hs: Homeserver, appservice: FakeAppservice
) -> None:
    async def create(alias: str) -> bool:
        body = {"room_alias_name": alias[1:].split(":")[0]}
        status, _ = await hs.request("POST", "/createRoom", body, token=AS_TOKEN)
        return status == 200

    appservice.on_query = create
    status, reply = await hs.request("GET", "/directory/room/%23_fake_chan:test.example")
    assert status == 200 and reply["room_id"].startswith("!"), reply
    assert appservice.queries == ["#_fake_chan:test.example"]
    status, reply = await hs.request("GET", "/directory/room/%23other:test.example")
    assert status == 404 and appservice.queries == ["#_fake_chan:test.example"]


async def test_ping(hs: Homeserver, appservice: FakeAppservice) -> None:
    path = "/_matrix/client/v1/appservice/fake/ping"
    status, reply = await hs.request("POST", path, {"transaction_id": "t1"}, token=AS_TOKEN)
    assert status == 200 and isinstance(reply["duration_ms"], int), reply
    assert appservice.pings == [{"transaction_id": "t1"}]
    status, reply = await hs.request("POST", path, {}, token=hs.tokens["@alice:test.example"])
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    status, reply = await hs.request(
        "POST", "/_matrix/client/v1/appservice/other/ping", {}, token=AS_TOKEN
    )
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    appservice.failing_pings = 401
    status, reply = await hs.request("POST", path, {}, token=AS_TOKEN)
    assert (status, reply["errcode"], reply["status"]) == (502, "M_BAD_STATUS", 401), reply
    assert "M_UNKNOWN_TOKEN" in reply["body"]
    await appservice.close()
    status, reply = await hs.request("POST", path, {}, token=AS_TOKEN)
    assert (status, reply["errcode"]) == (502, "M_CONNECTION_FAILED")


async def test_ping_without_url(hs: Homeserver) -> None:
    await hs.register("alice")
    yaml_text = FakeAppservice().registration_yaml(url="null")
    await hs.services.users.appservices.register(parse_registration_yaml(yaml_text))
    status, reply = await hs.request(
        "POST", "/_matrix/client/v1/appservice/fake/ping", {}, token=AS_TOKEN
    )
    assert (status, reply["errcode"]) == (400, "M_URL_NOT_SET")
