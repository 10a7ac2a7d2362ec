"""The outbound client against a real TLS server on loopback (127.0.0.2, a test CA)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web

from conduwuit.config.model import DEFAULT_IP_RANGE_DENYLIST
from conduwuit.core.signing import Keypair
from conduwuit.core.x_matrix import parse_header, verify_request
from conduwuit.service.federation.client import (
    BackingOff,
    ClientSettings,
    FederationClient,
    FederationDisabled,
    ForbiddenServer,
    RemoteError,
    ResponseTooLarge,
    Unreachable,
)
from conduwuit.service.ip_denylist import IpDenylist
from tests.kit.server import free_port
from tests.service.federation.netkit import ip_literal_resolver

ORIGIN = "origin.test"
KEY = Keypair.from_seed("ed25519:a", bytes(range(32)))
REMOTE_IP = "127.0.0.2"


@dataclass
class Remote:
    """A TLS server on 127.0.0.2 that records what it received."""

    port: int
    ca_file: Path
    seen: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{REMOTE_IP}:{self.port}"


@dataclass
class Clock:
    now: int = 1_000_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture
async def remote(tmp_path: Path) -> AsyncIterator[Remote]:
    ca = trustme.CA()
    cert = ca.issue_cert(REMOTE_IP)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    remote = Remote(free_port(), ca_file)

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        remote.seen.append((request.method, request.path_qs, dict(request.headers), body))
        if request.path == "/big":
            response = web.StreamResponse()
            await response.prepare(request)
            for _ in range(64):
                await response.write(b"x" * 4096)
            return response
        if request.path == "/missing":
            return web.json_response({"errcode": "M_NOT_FOUND", "error": "no"}, status=404)
        if request.path == "/broken":
            return web.json_response({"errcode": "M_UNKNOWN"}, status=502)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, REMOTE_IP, remote.port, ssl_context=context).start()
    yield remote
    await runner.cleanup()


def client(remote: Remote, clock: Clock | None = None, **settings: Any) -> FederationClient:
    denylist = settings.pop("denylist", [])
    options: dict[str, Any] = {"ca_file": remote.ca_file, "conn_timeout_s": 2, "timeout_s": 5}
    options.update(settings)
    clock = clock or Clock()
    return FederationClient(
        ORIGIN,
        lambda: KEY,
        ip_literal_resolver(clock),
        IpDenylist(denylist),
        ClientSettings(**options),
        clock,
    )


async def test_signed_request_with_the_destination_and_host(remote: Remote) -> None:
    fed = client(remote)
    try:
        answer = await fed.request(
            remote.name, "PUT", "/_matrix/federation/v1/x", query={"a": "b c"}, content={"k": 1}
        )
    finally:
        await fed.close()
    assert answer == {"ok": True}
    [(method, uri, headers, body)] = remote.seen
    assert (method, uri, headers["Host"]) == ("PUT", "/_matrix/federation/v1/x?a=b+c", remote.name)
    auth = parse_header(headers["Authorization"])
    assert (auth.origin, auth.destination) == (ORIGIN, remote.name)
    verify_request(auth, KEY.public_key, "PUT", uri, remote.name, {"k": 1})
    assert body == b'{"k":1}'


async def test_one_pooled_connection_is_reused(remote: Remote) -> None:
    fed = client(remote)
    try:
        for _ in range(5):
            await fed.get(remote.name, "/x")
        session = await fed._client()
        connector = session.connector
        assert connector is not None
        # Keep-alive: one connection served the five requests and waits in the pool.
        assert sum(len(v) for v in connector._conns.values()) == 1
    finally:
        await fed.close()
    assert len(remote.seen) == 5


async def test_tls_is_verified_against_the_destination(remote: Remote, tmp_path: Path) -> None:
    other_ca = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    for fed in (client(remote, ca_file=None), client(remote, ca_file=other_ca)):
        try:
            with pytest.raises(Unreachable, match=r"SSL|[Cc]ertificate"):
                await fed.get(remote.name, "/x")
        finally:
            await fed.close()
    assert remote.seen == []


async def test_denied_ranges_are_refused_for_literals_and_names(remote: Remote) -> None:
    fed = client(remote, denylist=DEFAULT_IP_RANGE_DENYLIST)
    try:
        with pytest.raises(Unreachable, match="ip_range_denylist"):
            await fed.get(remote.name, "/x")
        # A name that resolves into a denied range: checked at connect time.
        # (aiohttp reports the resolver's refusal as a DNS error.)
        with pytest.raises(Unreachable, match="localhost"):
            await fed.get(f"localhost:{remote.port}", "/x")
    finally:
        await fed.close()
    assert remote.seen == []


async def test_disabled_or_forbidden_sends_nothing(remote: Remote) -> None:
    for settings, error in (
        ({"allow_federation": False}, FederationDisabled),
        ({"forbidden_server_names": frozenset({f"{REMOTE_IP}:{remote.port}"})}, ForbiddenServer),
    ):
        fed = client(remote, **settings)
        try:
            with pytest.raises(error):
                await fed.get(remote.name, "/x")
        finally:
            await fed.close()
    assert remote.seen == []


async def test_answers_over_the_cap_are_cut_off(remote: Remote) -> None:
    fed = client(remote)
    try:
        with pytest.raises(ResponseTooLarge):
            await fed.get(remote.name, "/big", max_response=64 * 1024)
        assert fed.backoff.retry_at(remote.name) is not None
    finally:
        await fed.close()


async def test_remote_errors_are_passed_on_and_4xx_is_not_a_failure(remote: Remote) -> None:
    fed = client(remote)
    try:
        with pytest.raises(RemoteError) as info:
            await fed.get(remote.name, "/missing")
        assert (info.value.status, info.value.errcode) == (404, "M_NOT_FOUND")
        assert fed.backoff.retry_at(remote.name) is None
        with pytest.raises(RemoteError):
            await fed.get(remote.name, "/broken")
        assert fed.backoff.retry_at(remote.name) is not None
    finally:
        await fed.close()


async def test_backoff_is_exponential_shared_and_reset_by_success(remote: Remote) -> None:
    clock = Clock()
    fed = client(remote, clock)
    dead = f"{REMOTE_IP}:{free_port()}"  # nothing listens there
    try:
        with pytest.raises(Unreachable):
            await fed.get(dead, "/x")
        first = fed.backoff.retry_at(dead)
        assert first is not None
        with pytest.raises(BackingOff):
            await fed.get(dead, "/x")  # not even tried
        clock.now = first
        with pytest.raises(Unreachable):
            await fed.get(dead, "/x")
        second = fed.backoff.retry_at(dead)
        assert second is not None and second - clock.now == 2 * (first - 1_000_000)
        # Success resets: the live remote after a simulated failure.
        fed.backoff.failed(remote.name)
        clock.now += 10**9
        await fed.get(remote.name, "/x")
        assert fed.backoff.retry_at(remote.name) is None
        fed.backoff.failed(remote.name)
        assert fed.backoff.retry_at(remote.name) == clock.now + fed.backoff.base_ms
    finally:
        await fed.close()


async def test_a_failed_request_forgets_the_destination(remote: Remote) -> None:
    """After a failure the destination is looked up again (it may have moved or come
    back: tests/service/federation/test_resolver.py); a 4xx answer forgets nothing."""
    fed = client(remote)
    forgotten: list[str] = []
    resolver = fed._resolver
    real_forget = resolver.forget

    def forget(server_name: str) -> None:
        forgotten.append(server_name)
        real_forget(server_name)

    resolver.forget = forget  # type: ignore[method-assign]
    dead = f"{REMOTE_IP}:{free_port()}"  # nothing listens there
    try:
        with pytest.raises(Unreachable):
            await fed.get(dead, "/x")
        with pytest.raises(RemoteError):
            await fed.get(remote.name, "/missing")
        assert forgotten == [dead]
    finally:
        await fed.close()


async def test_backoff_is_capped() -> None:
    clock = Clock()
    from conduwuit.service.backoff import Backoff

    backoff = Backoff(clock, base_ms=10, max_ms=100)
    for _ in range(40):
        backoff.failed("x")
    assert backoff.retry_at("x") == clock.now + 100


async def test_backoff_remembers_a_bounded_number_of_destinations() -> None:
    """Keys a client chooses (unknown event IDs) must not grow the map without end:
    past ``max_entries`` the longest remembered is forgotten."""
    clock = Clock()
    from conduwuit.service.backoff import Backoff

    backoff = Backoff(clock, base_ms=10, max_ms=100, max_entries=2)
    for key in ("a", "b", "c"):
        backoff.failed(key)
    assert backoff.retry_at("a") is None
    assert backoff.retry_at("b") is not None and backoff.retry_at("c") is not None
    backoff.failed("b")  # known already: nothing more is forgotten
    assert backoff.retry_at("c") is not None
