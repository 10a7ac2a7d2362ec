"""GET /metrics (``allow_metrics``): off by default, its path and bearer token, route
templates as endpoint labels, and the Grafana dashboard in docs/ asking only for
metrics the server exports."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from conduwuit.http.metrics import metrics_middleware
from conduwuit.service.metrics import RequestStats
from tests.kit.homeserver import Homeserver, StartHomeserver
from tests.kit.metrics import Families, parse, value

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana-dashboard.json"
WHOAMI = "/_matrix/client/v3/account/whoami"


async def get(hs: Homeserver, path: str, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with hs.client.get(path, headers=headers) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        return response.status, await response.text()


async def scrape(hs: Homeserver, path: str = "/metrics", token: str | None = None) -> Families:
    status, text = await get(hs, path, token)
    assert status == 200, text
    return parse(text)


async def test_off_by_default(hs: Homeserver) -> None:
    assert hs.services.metrics is None
    status, error = await get(hs, "/metrics")
    assert (status, error["errcode"]) == (404, "M_UNRECOGNIZED")


async def test_the_token_is_enforced_at_the_configured_path(start: StartHomeserver) -> None:
    hs = await start(allow_metrics=True, metrics_path="/_conduwuit/metrics", metrics_token="tk")
    status, error = await get(hs, "/_conduwuit/metrics")
    assert (status, error["errcode"]) == (401, "M_MISSING_TOKEN")
    status, error = await get(hs, "/_conduwuit/metrics", token="wrong")
    assert (status, error["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    status, error = await get(hs, "/metrics", token="tk")
    assert (status, error["errcode"]) == (404, "M_UNRECOGNIZED")
    # The lag probe runs for the metrics; its admin endpoint stays loop_lag_monitor's.
    assert hs.services.loop_lag is not None
    status, error = await get(hs, "/_conduwuit/admin/v1/loop_lag")
    assert (status, error["errcode"]) == (404, "M_UNRECOGNIZED")
    families = await scrape(hs, "/_conduwuit/metrics", token="tk")
    # The refused scrapes were counted like any request, under the route template.
    assert value(families, "conduwuit_http_requests", endpoint="/_conduwuit/metrics") == 2
    assert value(families, "conduwuit_http_requests", status="401") == 2


async def test_endpoints_are_route_templates_and_unmatched_paths_one_series(
    start: StartHomeserver,
) -> None:
    hs = await start(allow_metrics=True)
    user = await hs.register("alice")
    token = user["access_token"]
    for _ in range(3):
        status, _ = await hs.request("GET", "/account/whoami", token=token)
        assert status == 200
    status, _ = await hs.request("GET", "/account/whoami")
    assert status == 401
    for path in ("/_matrix/nope/1", "/_matrix/nope/2"):
        status, _ = await get(hs, path)
        assert status == 404
    room = f"/rooms/!{'x' * 8}:test.example/state"
    status, _ = await hs.request("GET", room, token=token)
    assert status == 403
    families = await scrape(hs)
    requests = "conduwuit_http_requests"
    assert value(families, requests, method="GET", endpoint=WHOAMI, status="200") == 3
    assert value(families, requests, method="GET", endpoint=WHOAMI, status="401") == 1
    assert value(families, requests, endpoint="unmatched", status="404") == 2
    state = "/_matrix/client/v3/rooms/{room_id}/state"
    assert value(families, requests, endpoint=state, status="403") == 1
    endpoints = {s.labels["endpoint"] for s in families[requests].samples}
    assert not [e for e in endpoints if "!" in e or "nope" in e], endpoints


async def ok(request: web.Request) -> web.Response:
    return web.Response()


async def test_the_middleware_costs_a_few_microseconds() -> None:
    """Measured: about 3 µs per request on the development machine (a request
    through the whole stack costs hundreds); bounded loosely for a shared CPU."""
    app = web.Application()
    app.router.add_get("/_matrix/client/v3/rooms/{room_id}/state", ok)
    request = make_mocked_request("GET", "/_matrix/client/v3/rooms/!a:b/state", app=app)
    request._match_info = await app.router.resolve(request)
    stats = RequestStats()
    middleware = metrics_middleware(stats)
    n = 20_000
    started = time.perf_counter()
    for _ in range(n):
        await ok(request)
    bare = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(n):
        await middleware(request, ok)
    counted = time.perf_counter() - started
    assert (counted - bare) / n < 25e-6, (bare / n, counted / n)
    requests = next(iter(stats.collect()))
    endpoint = "/_matrix/client/v3/rooms/{room_id}/state"
    assert [(s.labels["endpoint"], s.value) for s in requests.samples] == [(endpoint, n)]


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in board["panels"] for t in panel.get("targets", [])]
    return exprs


async def test_the_dashboard_asks_only_for_exported_metrics(start: StartHomeserver) -> None:
    hs = await start(allow_metrics=True)
    families = await scrape(hs)
    exported = {sample.name for family in families.values() for sample in family.samples}
    # Series not born yet still have names a scrape would show.
    for family in families.values():
        exported.add(family.name)
        if family.type == "counter":
            exported.add(f"{family.name}_total")
        if family.type == "histogram":
            exported |= {f"{family.name}_{s}" for s in ("bucket", "count", "sum")}
    exprs = dashboard_exprs()
    assert len(exprs) >= 10
    for expr in exprs:
        names = set(re.findall(r"\b(?:conduwuit|process)_[a-z_]+\b", expr))
        assert names, expr
        assert names <= exported, (expr, names - exported)
