"""Outbound HTTPS with the server's own TLS contexts, built on first use (issue 21):
push gateways, URL previews and appservices pass one per request, aiohttp's
defaults are not used (the entry point leaves them without CAs)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import pytest
import trustme
from aiohttp import web

from conduwuit.service.appservice.client import AppserviceClient
from conduwuit.service.ip_denylist import IpDenylist
from conduwuit.service.push.gateway import GatewayClient, GatewayError
from conduwuit.service.tls import LazyTLS, system_tls
from tests.kit.server import free_port

NOTIFY = "/_matrix/push/v1/notify"


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def https_url(ca: trustme.CA) -> AsyncIterator[str]:
    """An HTTPS server on loopback with a certificate of the test CA."""
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)

    async def notify(request: web.Request) -> web.Response:
        return web.json_response({"rejected": []})

    async def transactions(request: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application()
    app.router.add_post(NOTIFY, notify)
    app.router.add_put("/_matrix/app/v1/transactions/{txn}", transactions)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=server_ctx)
    await site.start()
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def _trusting(ca: trustme.CA) -> LazyTLS:
    built: list[bool] = []

    def build() -> ssl.SSLContext:
        built.append(True)
        ctx = ssl.create_default_context()
        ca.configure_trust(ctx)
        return ctx

    return LazyTLS(build)


async def test_plain_http_builds_no_context() -> None:
    tls = system_tls()
    assert await tls.for_url("http://127.0.0.1:1/x") is True
    assert not tls.built
    context = await tls.for_url("HTTPS://example.org/")
    assert isinstance(context, ssl.SSLContext) and tls.built
    assert await tls.context() is context  # built once


async def test_push_gateway_over_https_uses_the_given_context(
    ca: trustme.CA, https_url: str
) -> None:
    body = {"notification": {"devices": [{"app_id": "a", "pushkey": "p"}]}}
    tls = _trusting(ca)
    client = GatewayClient(IpDenylist([]), timeout_s=5, tls=tls)
    try:
        assert not tls.built  # nothing sent yet
        assert await client.notify(https_url + NOTIFY, body) == []
        assert tls.built
    finally:
        await client.close()
    # The system's CAs do not know the test CA: the certificate check fails.
    untrusting = GatewayClient(IpDenylist([]), timeout_s=5)
    try:
        with pytest.raises(GatewayError):
            await untrusting.notify(https_url + NOTIFY, body)
    finally:
        await untrusting.close()


async def test_appservice_over_https_uses_the_given_context(ca: trustme.CA, https_url: str) -> None:
    from conduwuit.core.appservice import parse_registration

    reg = parse_registration(
        {
            "id": "bridge",
            "url": https_url,
            "as_token": "as",
            "hs_token": "hs",
            "sender_localpart": "bridge",
            "namespaces": {},
        }
    )
    client = AppserviceClient(timeout_s=5, idle_timeout_s=5, tls=_trusting(ca))
    try:
        status, _ = await client.request_raw(
            reg, "PUT", "/_matrix/app/v1/transactions/1", {"events": []}
        )
        assert status == 200
    finally:
        await client.close()
