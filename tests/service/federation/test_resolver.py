"""Server discovery, every branch of the spec's "Resolving server names", against a
DNS server and an HTTPS well-known server on loopback."""

from __future__ import annotations

import asyncio
import json
from unittest.mock import ANY

import pytest
from aiohttp import web

from conduwuit.service.federation.destination import Destination
from conduwuit.service.federation.resolver import ResolutionError
from tests.service.federation.conftest import FakeClock, MakeResolver
from tests.service.federation.netkit import LocalDns, WellKnownServer

HOUR = 3600


def delegate(
    https: WellKnownServer, host: str, to: str, headers: dict[str, str] | None = None
) -> None:
    https.serve_json(host, json.dumps({"m.server": to}), headers)


# -- step 1: IP literals -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "203.0.113.5",
            Destination("203.0.113.5", "203.0.113.5", 8448, "203.0.113.5", "203.0.113.5"),
        ),
        (
            "203.0.113.5:8000",
            Destination("203.0.113.5:8000", "203.0.113.5", 8000, "203.0.113.5:8000", "203.0.113.5"),
        ),
        (
            "[2001:db8::1]",
            Destination("[2001:db8::1]", "2001:db8::1", 8448, "[2001:db8::1]", "2001:db8::1"),
        ),
        (
            "[2001:db8::1]:8000",
            Destination(
                "[2001:db8::1]:8000", "2001:db8::1", 8000, "[2001:db8::1]:8000", "2001:db8::1"
            ),
        ),
    ],
)
async def test_ip_literal_is_used_as_is(
    make_resolver: MakeResolver,
    local_dns: LocalDns,
    https: WellKnownServer,
    name: str,
    expected: Destination,
) -> None:
    assert await make_resolver().resolve(name) == expected
    assert local_dns.queries == [] and https.requests == {}


# -- step 2: a host name with a port -----------------------------------------------------


async def test_hostname_with_port_uses_its_addresses_and_no_well_known(
    make_resolver: MakeResolver, local_dns: LocalDns, https: WellKnownServer
) -> None:
    delegate(https, "example.test", "other.test:1")  # must not be asked
    local_dns.records[("_matrix-fed._tcp.example.test", "SRV")] = ["0 0 1 other.test."]
    found = await make_resolver().resolve("example.test:8000")
    assert found == Destination(
        "example.test:8000", "example.test", 8000, "example.test:8000", "example.test"
    )
    assert https.requests == {}
    assert local_dns.count("_matrix-fed._tcp.example.test") == 0
    assert local_dns.count("example.test", "A") == 1


async def test_hostname_with_port_and_no_address_does_not_resolve(
    make_resolver: MakeResolver,
) -> None:
    with pytest.raises(ResolutionError):
        await make_resolver().resolve("missing.test:8000")


@pytest.mark.parametrize("name", ["a..b.test", "x" * 64 + ".test", ".test", "a..b.test:80"])
async def test_name_that_is_no_dns_name_does_not_resolve(
    make_resolver: MakeResolver, https: WellKnownServer, name: str
) -> None:
    with pytest.raises(ResolutionError):
        await make_resolver().resolve(name)
    assert https.requests == {}


async def test_invalid_server_name_is_refused(
    make_resolver: MakeResolver, local_dns: LocalDns
) -> None:
    for name in ["", "exa mple.test", "example.test:99999", "[::1", "a:b:c"]:
        with pytest.raises(ResolutionError):
            await make_resolver().resolve(name)
    assert local_dns.queries == []


# -- step 3: well-known delegation ---------------------------------------------------------


async def test_well_known_to_ip_literal(
    make_resolver: MakeResolver, https: WellKnownServer
) -> None:
    delegate(https, "example.test", "[2001:db8::7]:9000")
    resolver = make_resolver()
    assert await resolver.resolve("example.test") == Destination(
        "example.test", "2001:db8::7", 9000, "[2001:db8::7]:9000", "2001:db8::7"
    )
    delegate(https, "other.test", "198.51.100.7")
    assert await resolver.resolve("other.test") == Destination(
        "other.test", "198.51.100.7", 8448, "198.51.100.7", "198.51.100.7"
    )


async def test_well_known_to_hostname_with_port(
    make_resolver: MakeResolver, https: WellKnownServer, local_dns: LocalDns
) -> None:
    delegate(https, "example.test", "delegated.test:9000")
    local_dns.records[("delegated.test", "A")] = ["192.0.2.10"]
    local_dns.records[("_matrix-fed._tcp.delegated.test", "SRV")] = ["0 0 1 nowhere.test."]
    assert await make_resolver().resolve("example.test") == Destination(
        "example.test", "delegated.test", 9000, "delegated.test:9000", "delegated.test"
    )
    assert local_dns.count("_matrix-fed._tcp.delegated.test") == 0


async def test_well_known_then_matrix_fed_srv(
    make_resolver: MakeResolver, https: WellKnownServer, local_dns: LocalDns
) -> None:
    delegate(https, "example.test", "delegated.test")
    local_dns.records[("_matrix-fed._tcp.delegated.test", "SRV")] = ["10 5 8443 target.test."]
    local_dns.records[("_matrix._tcp.delegated.test", "SRV")] = ["10 5 7000 old.test."]
    local_dns.records[("target.test", "A")] = ["192.0.2.11"]
    local_dns.records[("old.test", "A")] = ["192.0.2.12"]
    assert await make_resolver().resolve("example.test") == Destination(
        "example.test", "target.test", 8443, "delegated.test", "delegated.test"
    )
    assert local_dns.count("_matrix._tcp.delegated.test") == 0


async def test_well_known_then_deprecated_matrix_srv(
    make_resolver: MakeResolver, https: WellKnownServer, local_dns: LocalDns
) -> None:
    delegate(https, "example.test", "delegated.test")
    local_dns.records[("_matrix._tcp.delegated.test", "SRV")] = ["10 5 7000 old.test."]
    local_dns.records[("old.test", "AAAA")] = ["2001:db8::12"]
    assert await make_resolver().resolve("example.test") == Destination(
        "example.test", "old.test", 7000, "delegated.test", "delegated.test"
    )


async def test_well_known_then_address_on_8448(
    make_resolver: MakeResolver, https: WellKnownServer, local_dns: LocalDns
) -> None:
    delegate(https, "example.test", "delegated.test")
    local_dns.records[("delegated.test", "A")] = ["192.0.2.10"]
    assert await make_resolver().resolve("example.test") == Destination(
        "example.test", "delegated.test", 8448, "delegated.test", "delegated.test"
    )
    assert local_dns.count("_matrix-fed._tcp.delegated.test") == 1
    assert local_dns.count("_matrix._tcp.delegated.test") == 1


async def test_well_known_to_name_without_address_does_not_resolve(
    make_resolver: MakeResolver, https: WellKnownServer
) -> None:
    delegate(https, "example.test", "gone.test")
    with pytest.raises(ResolutionError):
        await make_resolver().resolve("example.test")


# -- step 3: the fetch itself -----------------------------------------------------------


async def test_redirects_are_followed(make_resolver: MakeResolver, https: WellKnownServer) -> None:
    https.redirect("example.test", https.url("other.test", "/moved"), status=301)
    delegate(https, "other.test", "delegated.test:1")
    document = https.handlers["other.test"]

    async def other(request: web.Request) -> web.StreamResponse:
        if request.path == "/moved":  # a relative redirect: the same host
            return web.Response(status=308, headers={"Location": "/final"})
        return await document(request)

    https.handlers["other.test"] = other
    found = await make_resolver().resolve("example.test")
    assert found == Destination(
        "example.test", "delegated.test", 1, "delegated.test:1", "delegated.test"
    )
    assert https.requests == {"example.test": 1, "other.test": 2}


@pytest.fixture(autouse=True)
def delegated_addresses(local_dns: LocalDns) -> None:
    local_dns.records[("delegated.test", "A")] = ["192.0.2.10"]


async def test_too_many_redirects_are_refused_then_srv(
    make_resolver: MakeResolver, https: WellKnownServer, local_dns: LocalDns
) -> None:
    hops = 0

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal hops
        hops += 1
        return web.Response(status=302, headers={"Location": f"/hop{hops}"})

    https.handlers["example.test"] = endless
    local_dns.records[("_matrix-fed._tcp.example.test", "SRV")] = ["0 0 8443 example.test."]
    found = await make_resolver().resolve("example.test")
    assert found == Destination(
        "example.test", "example.test", 8443, "example.test", "example.test"
    )
    assert hops == 6  # the first request and five redirects


async def test_redirect_loop_and_plain_http_are_refused(
    make_resolver: MakeResolver, https: WellKnownServer
) -> None:
    https.redirect("example.test", https.url("other.test"))
    https.redirect("other.test", https.url("example.test"))
    https.redirect("third.test", f"http://other.test:{https.port}/.well-known/matrix/server")
    resolver = make_resolver()
    for name in ["example.test", "third.test"]:
        found = await resolver.resolve(name)
        assert (found.host, found.port) == (name, 8448)  # the address fallback
    # the loop is seen before example.test is asked again
    assert https.requests == {"example.test": 1, "other.test": 1, "third.test": 1}


async def test_body_over_50_kb_is_refused(
    make_resolver: MakeResolver, https: WellKnownServer
) -> None:
    padded = json.dumps({"m.server": "delegated.test:1", "pad": "x" * 51_200})
    https.serve_json("example.test", padded)
    just_fits = json.dumps({"m.server": "delegated.test:2", "pad": "x" * 50_000})
    https.serve_json("other.test", just_fits)

    async def chunked(request: web.Request) -> web.StreamResponse:  # no Content-Length
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b'{"m.server": "delegated.test:3", "pad": "')
        for _ in range(60):
            await response.write(b"x" * 1024)
        await response.write(b'"}')
        return response

    https.handlers["third.test"] = chunked
    resolver = make_resolver()
    assert (await resolver.resolve("example.test")).port == 8448
    assert (await resolver.resolve("other.test")).port == 2
    assert (await resolver.resolve("third.test")).port == 8448


@pytest.mark.parametrize(
    "bad", ["not json", "[1]", '{"m.server": 5}', '{"m.server": "bad name!"}', "404"]
)
async def test_failure_is_cached_for_an_hour_then_srv(
    make_resolver: MakeResolver,
    https: WellKnownServer,
    local_dns: LocalDns,
    clock: FakeClock,
    bad: str,
) -> None:
    if bad != "404":
        https.serve_json("example.test", bad)
    local_dns.records[("_matrix-fed._tcp.example.test", "SRV")] = ["0 0 8443 example.test."]
    resolver = make_resolver()
    expected = Destination("example.test", "example.test", 8443, "example.test", "example.test")
    assert await resolver.resolve("example.test") == expected
    clock.advance(HOUR - 1)
    assert await resolver.resolve("example.test") == expected
    assert https.requests["example.test"] == 1
    clock.advance(2)
    delegate(https, "example.test", "delegated.test:9")
    assert (await resolver.resolve("example.test")).port == 9
    assert https.requests["example.test"] == 2


@pytest.mark.parametrize(
    ("headers", "kept_s"),
    [
        ({"Cache-Control": "public, max-age=600"}, 600),
        ({"Cache-Control": "max-age=1000000"}, 48 * HOUR),
        ({}, 24 * HOUR),
        ({"Expires": "@+7200"}, 7200),
        ({"Cache-Control": "max-age=300", "Expires": "@+7200"}, 300),
    ],
)
async def test_cache_headers_set_the_lifetime(
    make_resolver: MakeResolver,
    https: WellKnownServer,
    clock: FakeClock,
    headers: dict[str, str],
    kept_s: int,
) -> None:
    if "Expires" in headers:
        from email.utils import formatdate

        headers = dict(headers, Expires=formatdate(clock.now_ms / 1000 + 7200, usegmt=True))
    delegate(https, "example.test", "delegated.test:1", headers)
    resolver = make_resolver(min_ttl_s=10 * 24 * HOUR)  # DNS outlives the well-known
    await resolver.resolve("example.test")
    clock.advance(kept_s - 1)
    await resolver.resolve("example.test")
    assert https.requests["example.test"] == 1
    clock.advance(2)
    await resolver.resolve("example.test")
    assert https.requests["example.test"] == 2


async def test_no_store_is_not_kept(make_resolver: MakeResolver, https: WellKnownServer) -> None:
    delegate(https, "example.test", "delegated.test:1", {"Cache-Control": "no-store"})
    resolver = make_resolver()
    for _ in range(3):
        assert (await resolver.resolve("example.test")).port == 1
    assert https.requests["example.test"] == 3


async def test_well_known_host_in_a_denied_range_is_not_asked(
    make_resolver: MakeResolver, https: WellKnownServer, local_dns: LocalDns
) -> None:
    delegate(https, "denied.test", "delegated.test:1")
    delegate(https, "example.test", "delegated.test:2")
    resolver = make_resolver(denylist=["127.0.0.0/8"])
    found = await resolver.resolve("denied.test")
    # no delegation: the address fallback (connections to it are checked by the client)
    assert (found.host, found.port) == ("denied.test", 8448)
    assert https.requests == {}
    # a redirect into the denied range is refused the same way, IP literals included
    https.redirect("other.test", https.url("denied.test"))
    https.redirect("third.test", f"https://127.0.0.1:{https.port}/.well-known/matrix/server")
    allowing = make_resolver(denylist=["192.0.2.0/24"])
    local_dns.records[("denied.test", "A")] = ["192.0.2.1"]
    assert (await allowing.resolve("other.test")).port == 8448
    assert https.requests == {"other.test": 1}
    # an IP literal: refused before the request, followed without the denylist
    local_dns.records[("third.test", "A")] = ["127.0.0.2"]
    literal = f"https://127.0.0.1:{https.port}/.well-known/matrix/server"
    https.redirect("third.test", literal)
    assert (await make_resolver(denylist=["127.0.0.1/32"]).resolve("third.test")).port == 8448
    assert https.requests == {"other.test": 1, "third.test": 1}
    assert (await make_resolver().resolve("third.test")).port == 8448
    assert https.requests == {"other.test": 1, "third.test": 2, "127.0.0.1": 1}


async def test_certificate_must_match_the_host(
    make_resolver: MakeResolver, https: WellKnownServer, local_dns: LocalDns
) -> None:
    local_dns.records[("uncertified.test", "A")] = ["127.0.0.1"]
    delegate(https, "uncertified.test", "delegated.test:1")
    found = await make_resolver().resolve("uncertified.test")
    assert found.port == 8448 and https.requests == {}


# -- steps 4 to 6: no well-known ----------------------------------------------------------


async def test_matrix_fed_srv_is_preferred_over_matrix(
    make_resolver: MakeResolver, local_dns: LocalDns
) -> None:
    local_dns.records[("_matrix-fed._tcp.example.test", "SRV")] = ["10 0 8443 new.test."]
    local_dns.records[("_matrix._tcp.example.test", "SRV")] = ["0 0 7000 old.test."]
    local_dns.records[("new.test", "A")] = ["192.0.2.20"]
    local_dns.records[("old.test", "A")] = ["192.0.2.21"]
    assert await make_resolver().resolve("example.test") == Destination(
        "example.test", "new.test", 8443, "example.test", "example.test"
    )
    assert local_dns.count("_matrix._tcp.example.test") == 0


async def test_deprecated_matrix_srv(make_resolver: MakeResolver, local_dns: LocalDns) -> None:
    local_dns.records[("_matrix._tcp.example.test", "SRV")] = ["0 0 7000 old.test."]
    local_dns.records[("old.test", "A")] = ["192.0.2.21"]
    assert await make_resolver().resolve("example.test") == Destination(
        "example.test", "old.test", 7000, "example.test", "example.test"
    )


async def test_srv_priority_order_and_dead_targets(
    make_resolver: MakeResolver, local_dns: LocalDns
) -> None:
    local_dns.records[("_matrix-fed._tcp.example.test", "SRV")] = [
        "20 0 2000 second.test.",
        "10 0 1000 first.test.",
    ]
    local_dns.records[("first.test", "A")] = ["192.0.2.1"]
    local_dns.records[("second.test", "A")] = ["192.0.2.2"]
    assert (await make_resolver().resolve("example.test")).port == 1000
    del local_dns.records[("first.test", "A")]
    assert (await make_resolver().resolve("example.test")).port == 2000
    del local_dns.records[("second.test", "A")]
    with pytest.raises(ResolutionError):
        await make_resolver().resolve("example.test")


async def test_srv_dot_target_means_no_service(
    make_resolver: MakeResolver, local_dns: LocalDns
) -> None:
    local_dns.records[("_matrix-fed._tcp.example.test", "SRV")] = ["0 0 0 ."]
    found = await make_resolver().resolve("example.test")
    assert (found.host, found.port) == ("example.test", 8448)


async def test_address_fallback_on_8448(make_resolver: MakeResolver, local_dns: LocalDns) -> None:
    local_dns.records[("v6.test", "AAAA")] = ["2001:db8::5"]
    found = await make_resolver().resolve("v6.test")
    assert found == Destination("v6.test", "v6.test", 8448, "v6.test", "v6.test")
    assert local_dns.count("v6.test", "A") == 1  # ip_lookup_strategy 5: A first
    assert local_dns.count("v6.test", "AAAA") == 1


async def test_nxdomain_does_not_resolve_and_is_cached(
    make_resolver: MakeResolver, local_dns: LocalDns
) -> None:
    resolver = make_resolver()
    for _ in range(2):
        with pytest.raises(ResolutionError):
            await resolver.resolve("nowhere.test")
    assert local_dns.count("nowhere.test", "A") == 1
    assert local_dns.count("_matrix-fed._tcp.nowhere.test") == 1


async def test_forget_looks_a_server_up_again(
    make_resolver: MakeResolver, local_dns: LocalDns
) -> None:
    """The federation client forgets a server after a failed request: a server that
    was down (its name gone from DNS) or moved is found at the next attempt, not
    after dns_min_ttl_nxdomain (3 days) or dns_min_ttl."""
    resolver = make_resolver()
    with pytest.raises(ResolutionError):
        await resolver.resolve("back.test")
    local_dns.records[("back.test", "A")] = ["192.0.2.7"]
    with pytest.raises(ResolutionError):  # the negative answer is cached
        await resolver.resolve("back.test")
    resolver.forget("back.test")
    found = await resolver.resolve("back.test")
    assert (found.host, found.port) == ("back.test", 8448)
    assert await resolver.dns.addresses("back.test") == (["192.0.2.7"], ANY)
    # A server that moved: its cached address goes with it.
    local_dns.records[("back.test", "A")] = ["192.0.2.8"]
    assert (await resolver.dns.addresses("back.test"))[0] == ["192.0.2.7"]
    resolver.forget("back.test")
    assert (await resolver.dns.addresses("back.test"))[0] == ["192.0.2.8"]


# -- caching of destinations -------------------------------------------------------------


async def test_concurrent_resolutions_share_one_lookup(
    make_resolver: MakeResolver, https: WellKnownServer, local_dns: LocalDns
) -> None:
    delegate(https, "example.test", "delegated.test")
    resolver = make_resolver()
    found = await asyncio.gather(*(resolver.resolve("example.test") for _ in range(20)))
    assert len(set(found)) == 1
    assert https.requests == {"example.test": 1}
    assert local_dns.count("_matrix-fed._tcp.delegated.test") == 1


async def test_destinations_cache_is_bounded(
    make_resolver: MakeResolver, https: WellKnownServer
) -> None:
    for host in ["example.test", "other.test", "third.test"]:
        delegate(https, host, "delegated.test:1")
    resolver = make_resolver(cache_entries=2)
    for host in ["example.test", "other.test", "third.test", "example.test"]:
        await resolver.resolve(host)
    assert https.requests["example.test"] == 2  # dropped when third.test came
    assert https.requests["other.test"] == 1


async def test_destination_expires_with_the_first_answer_it_used(
    make_resolver: MakeResolver, https: WellKnownServer, local_dns: LocalDns, clock: FakeClock
) -> None:
    local_dns.ttl = 100
    delegate(https, "example.test", "delegated.test", {"Cache-Control": "max-age=600"})
    resolver = make_resolver(min_ttl_s=0)
    await resolver.resolve("example.test")
    clock.advance(50)
    await resolver.resolve("example.test")  # the DNS answers hold: nothing asked
    assert local_dns.count("delegated.test", "A") == 1
    elapsed = 50
    for at in [101, 202, 303, 404, 505]:  # the addresses expire; the well-known holds
        clock.advance(at - elapsed)
        elapsed = at
        await resolver.resolve("example.test")
    assert local_dns.count("delegated.test", "A") == 6
    assert https.requests == {"example.test": 1}
    clock.advance(601 - elapsed)  # the well-known was fetched 601 s ago, at 0
    await resolver.resolve("example.test")
    assert https.requests == {"example.test": 2}


async def test_failed_srv_lookup_counts_as_none_for_five_minutes(
    make_resolver: MakeResolver, local_dns: LocalDns, clock: FakeClock
) -> None:
    local_dns.servfail = {"_matrix-fed._tcp.example.test", "_matrix._tcp.example.test"}
    resolver = make_resolver()
    fallback = Destination("example.test", "example.test", 8448, "example.test", "example.test")
    assert await resolver.resolve("example.test") == fallback
    clock.advance(299)
    assert await resolver.resolve("example.test") == fallback
    local_dns.servfail = set()
    local_dns.records[("_matrix-fed._tcp.example.test", "SRV")] = ["0 0 8443 example.test."]
    clock.advance(2)
    assert (await resolver.resolve("example.test")).port == 8443


async def test_well_known_body_is_json_whatever_its_content_type(
    make_resolver: MakeResolver, https: WellKnownServer
) -> None:
    async def plain(request: web.Request) -> web.StreamResponse:
        return web.Response(text='{"m.server": "delegated.test:7"}', content_type="text/plain")

    https.handlers["example.test"] = plain
    assert (await make_resolver().resolve("example.test")).port == 7


async def test_a_passing_failure_keeps_the_last_valid_delegation(
    make_resolver: MakeResolver, https: WellKnownServer, local_dns: LocalDns, clock: FakeClock
) -> None:
    delegate(https, "example.test", "delegated.test:9", {"Cache-Control": "max-age=600"})
    document = https.handlers["example.test"]
    delegated = Destination(
        "example.test", "delegated.test", 9, "delegated.test:9", "delegated.test"
    )
    resolver = make_resolver()
    assert await resolver.resolve("example.test") == delegated

    async def unavailable(request: web.Request) -> web.StreamResponse:
        return web.Response(status=503)

    https.handlers["example.test"] = unavailable
    clock.advance(601)
    assert await resolver.resolve("example.test") == delegated  # kept
    clock.advance(119)
    assert await resolver.resolve("example.test") == delegated
    assert https.requests["example.test"] == 2
    clock.advance(2)  # asked again two minutes after the failure
    https.handlers["example.test"] = document
    assert await resolver.resolve("example.test") == delegated
    assert https.requests["example.test"] == 3
    # an answer that there is no delegation (404) is believed at once
    clock.advance(601)
    del https.handlers["example.test"]
    assert (await resolver.resolve("example.test")).port == 8448
    # and a passing failure after it does not bring the old delegation back
    https.handlers["example.test"] = unavailable
    clock.advance(3601)
    assert (await resolver.resolve("example.test")).port == 8448
    assert https.requests["example.test"] == 5


async def test_a_passing_failure_long_after_expiry_is_a_failure(
    make_resolver: MakeResolver, https: WellKnownServer, clock: FakeClock
) -> None:
    delegate(https, "example.test", "delegated.test:9", {"Cache-Control": "max-age=600"})
    resolver = make_resolver()
    assert (await resolver.resolve("example.test")).port == 9

    async def unavailable(request: web.Request) -> web.StreamResponse:
        return web.Response(status=502)

    https.handlers["example.test"] = unavailable
    clock.advance(600 + 3600 + 1)  # remembered an hour past its expiry, no more
    assert (await resolver.resolve("example.test")).port == 8448
