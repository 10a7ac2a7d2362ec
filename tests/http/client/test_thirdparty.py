"""Third-party networks: with no application services what Synapse answers then, and
with real services on loopback (tests/kit/appservice.py) their protocols merged,
invalid, failing and slow ones skipped, and lookups passed on."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from conduwuit.service.appservice.registry import parse_registration_yaml
from tests.kit.appservice import FakeAppservice
from tests.kit.homeserver import Homeserver, StartHomeserver


async def test_thirdparty_without_protocols(hs: Homeserver) -> None:
    token = (await hs.register("alice"))["access_token"]
    answers: list[tuple[str, dict[str, str] | None, int, Any]] = [
        ("/thirdparty/protocols", None, 200, {}),
        ("/thirdparty/location/irc", None, 200, []),
        ("/thirdparty/user/irc", {"nick": "x"}, 200, []),
        ("/thirdparty/location", {"alias": "#irc_x:test.example"}, 200, []),
        ("/thirdparty/user", {"userid": "@irc_x:test.example"}, 200, []),
    ]
    for path, params, status, body in answers:
        got = await hs.request("GET", path, token=token, params=params)
        assert got == (status, body), path


async def test_thirdparty_refusals(hs: Homeserver) -> None:
    token = (await hs.register("alice"))["access_token"]
    refusals = [
        ("/thirdparty/protocol/irc", token, 404, "M_NOT_FOUND"),
        ("/thirdparty/location", token, 400, "M_MISSING_PARAM"),
        ("/thirdparty/user", token, 400, "M_MISSING_PARAM"),
        ("/thirdparty/protocols", None, 401, "M_MISSING_TOKEN"),
    ]
    for path, who, status, errcode in refusals:
        got, reply = await hs.request("GET", path, token=who)
        assert (got, reply["errcode"]) == (status, errcode), path


IRC = {
    "user_fields": ["network", "nickname"],
    "location_fields": ["network", "channel"],
    "icon": "mxc://example.org/irc",
    "field_types": {
        "network": {"regexp": "[a-z.]+", "placeholder": "irc.example.org"},
        "nickname": {"regexp": "[^\\s#]+", "placeholder": "nick"},
        "channel": {"regexp": "#[^\\s]+", "placeholder": "#room"},
    },
}


def irc(*networks: str) -> dict[str, Any]:
    instances = [{"desc": n, "network_id": n, "fields": {"network": n}} for n in networks]
    return {**IRC, "instances": instances}


def location(alias: str, **fields: str) -> dict[str, Any]:
    return {"alias": alias, "protocol": "irc", "fields": fields}


@pytest.fixture
async def bridges(hs: Homeserver) -> AsyncIterator[tuple[FakeAppservice, FakeAppservice]]:
    """Two bridges to IRC (different networks), the second also to Gitter."""
    one, two = FakeAppservice(), FakeAppservice()
    for fake in (one, two):
        await fake.start()
    one.protocols = {"irc": irc("libera")}
    two.protocols = {"irc": irc("oftc"), "gitter": {**IRC, "instances": []}}
    appservices = hs.services.users.appservices
    await appservices.register(
        parse_registration_yaml(one.registration_yaml("one", protocols=["irc"]))
    )
    yaml_two = two.registration_yaml(
        "two", prefix="_two", as_token="as-two", protocols=["irc", "gitter"]
    )
    await appservices.register(parse_registration_yaml(yaml_two))
    yield one, two
    for fake in (one, two):
        await fake.close()


async def test_protocols_are_merged_across_services(
    hs: Homeserver, bridges: tuple[FakeAppservice, FakeAppservice]
) -> None:
    token = (await hs.register("alice"))["access_token"]
    status, reply = await hs.request("GET", "/thirdparty/protocols", token=token)
    assert status == 200 and set(reply) == {"irc", "gitter"}, reply
    assert reply["gitter"]["instances"] == []
    irc_reply = reply["irc"]
    assert irc_reply["field_types"] == IRC["field_types"]
    assert [(i["network_id"], i["instance_id"]) for i in irc_reply["instances"]] == [
        ("libera", "one|libera"),
        ("oftc", "two|oftc"),
    ]
    status, one_protocol = await hs.request("GET", "/thirdparty/protocol/irc", token=token)
    assert (status, one_protocol) == (200, irc_reply)
    status, reply = await hs.request("GET", "/thirdparty/protocol/xmpp", token=token)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
    one = bridges[0]
    asked = [p for fake in bridges for p, _ in fake.third_party_requests]
    assert "/_matrix/app/v1/thirdparty/protocol/xmpp" not in asked
    assert one.third_party_requests[0][0] == "/_matrix/app/v1/thirdparty/protocol/irc"


async def test_invalid_and_failing_services_are_skipped(
    hs: Homeserver, bridges: tuple[FakeAppservice, FakeAppservice]
) -> None:
    token = (await hs.register("alice"))["access_token"]
    one, two = bridges
    two.protocols = {"irc": {"instances": "not a list"}, "gitter": ["not an object"]}
    status, reply = await hs.request("GET", "/thirdparty/protocols", token=token)
    assert status == 200 and list(reply) == ["irc"], reply
    assert [i["instance_id"] for i in reply["irc"]["instances"]] == ["one|libera"]
    status, reply = await hs.request("GET", "/thirdparty/protocol/gitter", token=token)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
    await two.close()
    status, reply = await hs.request("GET", "/thirdparty/protocol/irc", token=token)
    assert status == 200 and len(reply["instances"]) == 1, reply
    one.locations = [location("#irc_libera_x:test.example"), {"alias": 3}, "junk"]
    status, reply = await hs.request("GET", "/thirdparty/location/irc", token=token)
    assert (status, reply) == (200, [location("#irc_libera_x:test.example")])


async def test_slow_service_is_skipped_within_the_timeout(start: StartHomeserver) -> None:
    hs = await start(appservice_timeout=0.5)
    token = (await hs.register("alice"))["access_token"]
    fast, slow = (
        FakeAppservice(protocols={"irc": irc("libera")}),
        FakeAppservice(protocols={"irc": irc("oftc")}, third_party_delay=10),
    )
    for fake in (fast, slow):
        await fake.start()
    try:
        appservices = hs.services.users.appservices
        await appservices.register(
            parse_registration_yaml(fast.registration_yaml("fast", protocols=["irc"]))
        )
        yaml_slow = slow.registration_yaml(
            "slow", prefix="_slow", as_token="as-slow", protocols=["irc"]
        )
        await appservices.register(parse_registration_yaml(yaml_slow))
        started = time.monotonic()
        status, reply = await hs.request("GET", "/thirdparty/protocols", token=token)
        assert time.monotonic() - started < 5
        assert status == 200, reply
        assert [i["instance_id"] for i in reply["irc"]["instances"]] == ["fast|libera"]
        assert len(slow.third_party_requests) == 1
    finally:
        for fake in (fast, slow):
            await fake.close()


async def test_lookups_pass_fields_and_concatenate(
    hs: Homeserver, bridges: tuple[FakeAppservice, FakeAppservice]
) -> None:
    token = (await hs.register("alice"))["access_token"]
    one, two = bridges
    one.locations = [location("#irc_a:test.example", network="libera", channel="#a")]
    two.locations = [location("#_two_b:test.example", network="oftc", channel="#a")]
    user = {"userid": "@_two_nick:test.example", "protocol": "irc", "fields": {"nick": "n"}}
    two.third_party_users = [user]
    params = {"network": "libera", "channel": "#a"}
    status, reply = await hs.request("GET", "/thirdparty/location/irc", token=token, params=params)
    assert (status, reply) == (200, one.locations + two.locations)
    path = "/_matrix/app/v1/thirdparty/location/irc"
    for fake in bridges:
        assert fake.third_party_requests[-1] == (path, list(params.items()))
    status, reply = await hs.request("GET", "/thirdparty/user/gitter", token=token)
    assert (status, reply) == (200, [user])
    assert all(p != "/_matrix/app/v1/thirdparty/user/gitter" for p, _ in one.third_party_requests)
    status, reply = await hs.request("GET", "/thirdparty/user/xmpp", token=token)
    assert (status, reply) == (200, [])


async def test_reverse_lookups_ask_the_namespace_owner(
    hs: Homeserver, bridges: tuple[FakeAppservice, FakeAppservice]
) -> None:
    token = (await hs.register("alice"))["access_token"]
    one, two = bridges
    found = location("#_two_b:test.example", network="oftc", channel="#b")
    one.locations = [location("#_fake_x:test.example")]
    two.locations = [found]
    alias = "#_two_b:test.example"
    status, reply = await hs.request(
        "GET", "/thirdparty/location", token=token, params={"alias": alias}
    )
    assert (status, reply) == (200, [found])
    assert two.third_party_requests == [("/_matrix/app/v1/thirdparty/location", [("alias", alias)])]
    assert one.third_party_requests == []
    user = {"userid": "@_fake_n:test.example", "protocol": "irc", "fields": {"nick": "n"}}
    one.third_party_users = [user]
    status, reply = await hs.request(
        "GET", "/thirdparty/user", token=token, params={"userid": "@_fake_n:test.example"}
    )
    assert (status, reply) == (200, [user])
    status, reply = await hs.request(
        "GET", "/thirdparty/user", token=token, params={"userid": "@nobody:test.example"}
    )
    assert (status, reply) == (200, [])
