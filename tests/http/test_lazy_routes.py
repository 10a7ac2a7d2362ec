"""Route handlers whose module is imported on the route's first request
(conduwuit/api/lazy.py): the router is complete from the start (404, 405 and
OPTIONS answer without importing anything), the first request behaves as any
other, concurrent first requests build the group once, a handler that cannot be
loaded is a logged 500, and every recorded route resolves to its real handler."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from aiohttp import web

from conduwuit.api.lazy import LazyGroup, LazyRoute, shape
from conduwuit.api.route_shapes import ROUTE_SHAPES
from conduwuit.api.router import Auth, Route
from conduwuit.api.routes import EAGER, GROUPS, routes
from conduwuit.cli import route_shapes
from conduwuit.server import build
from conduwuit.service.services import Services
from tests.http.conftest import MakeClient
from tests.kit.homeserver import Homeserver, homeserver_config

SHAPES_FILE = Path(__file__).parents[2] / "conduwuit" / "api" / "route_shapes.py"


def lazy_groups(app: web.Application) -> dict[str, LazyGroup]:
    """The app's lazy groups by name (each route's LazyRoute, under the wrappers)."""
    groups: dict[str, LazyGroup] = {}
    for route in app.router.routes():
        owner = getattr(inspect.unwrap(route.handler), "__self__", None)
        if isinstance(owner, LazyRoute):
            groups[owner.group.name] = owner.group
    return groups


def served_groups(hs: Homeserver) -> dict[str, LazyGroup]:
    app = hs.client.app
    assert app is not None
    return lazy_groups(app)


def test_route_shapes_py_is_current() -> None:
    assert SHAPES_FILE.read_text() == route_shapes(), (
        "conduwuit/api/route_shapes.py is stale: run `make route-shapes`"
    )


def _lazy_shapes(services: Services) -> dict[str, tuple[object, ...]]:
    return {
        build.__name__: tuple(shape(route) for route in build(services))
        for build in GROUPS
        if build not in EAGER
    }


@pytest.mark.parametrize(
    "options",
    [
        {"loop_lag_monitor": True},
        # Every option a lazy group's builder reads, away from its default.
        {
            "allow_federation": False,
            "allow_public_room_directory_without_auth": True,
            "allow_profile_lookup_federation_requests": False,
            "thread_subscription_push_rules": True,
            "allow_registration": False,
            "allow_guest_registration": True,
            "allow_legacy_media": True,
            "well_known__client": "https://m.example",
            "well_known__server": "m.example:443",
            "forbidden_remote_room_directory_server_names": '["evil.example"]',
        },
    ],
)
def test_lazy_groups_have_the_recorded_routes_whatever_the_config(
    tmp_path: Path, options: dict[str, object]
) -> None:
    server = build(homeserver_config(tmp_path / "db", **options))
    try:
        assert _lazy_shapes(server.services) == ROUTE_SHAPES
    finally:
        server.close()


def test_every_lazy_route_resolves_to_its_named_handler(tmp_path: Path) -> None:
    server = build(homeserver_config(tmp_path / "db", loop_lag_monitor=True))
    try:
        groups = lazy_groups(server.app)
        assert set(groups) == set(ROUTE_SHAPES)
        assert not any(group.built for group in groups.values())
        resolved = [route for group in groups.values() for route in group.resolve()]
        names = {f"{r.handler.__module__}.{r.handler.__qualname__}" for r in resolved}
        assert all(n.startswith("conduwuit.api.") and "<locals>" not in n for n in names)
        # What ``routes`` (every module imported) builds, lazily.
        assert {shape(r) for r in resolved} <= {shape(r) for r in routes(server.services)}
    finally:
        server.close()


def test_starting_imports_no_lazy_handler_module(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import json, sys
        from conduwuit.server import build
        from tests.kit.homeserver import homeserver_config
        server = build(homeserver_config({str(tmp_path / "db")!r}))
        loaded = sorted(m for m in sys.modules if m.startswith("conduwuit.api."))
        server.close()
        print(json.dumps(loaded))
    """)
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],  # the checkout's conduwuit and tests
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = set(json.loads(result.stdout.splitlines()[-1]))
    # The eager groups' modules (media, by default) and what the router and the
    # authenticators need; no handler module of a lazy group.
    assert "conduwuit.api.client.rooms.send" not in loaded
    assert "conduwuit.api.client.sync" not in loaded
    assert "conduwuit.api.federation.send" not in loaded
    assert "conduwuit.api.admin.users" not in loaded
    assert {"conduwuit.api.router", "conduwuit.api.lazy", "conduwuit.api.auth"} <= loaded


async def test_unknown_paths_wrong_methods_and_options_need_no_import(hs: Homeserver) -> None:
    groups = served_groups(hs)
    status, body = await hs.request("GET", "/_matrix/client/v3/nope")
    assert (status, body["errcode"]) == (404, "M_UNRECOGNIZED")
    response = await hs.client.post("/_matrix/client/versions")
    assert response.status == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert (await response.json())["errcode"] == "M_UNRECOGNIZED"
    response = await hs.client.options(
        "/_matrix/client/v3/sync", headers={"Origin": "https://app.example"}
    )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert not any(group.built for group in groups.values())


async def test_concurrent_first_requests_build_the_group_once(hs: Homeserver) -> None:
    group = served_groups(hs)["_versions"]
    built: list[list[Route]] = []
    resolve = group.resolve

    def counting_resolve() -> list[Route]:
        first = not group.built
        routes = resolve()
        if first:
            built.append(routes)
        return routes

    group.resolve = counting_resolve  # type: ignore[method-assign]
    responses = await asyncio.gather(
        *(hs.client.get("/_matrix/client/versions") for _ in range(20))
    )
    bodies = {json.dumps(await r.json(), sort_keys=True) for r in responses}
    assert [r.status for r in responses] == [200] * 20
    assert len(bodies) == 1 and "versions" in json.loads(bodies.pop())
    assert len(built) == 1
    # HEAD (added for every GET) reaches the same lazy handler.
    assert (await hs.client.head("/_matrix/client/versions")).status == 200


async def test_an_authenticated_lazy_route_authenticates_before_loading(
    hs: Homeserver,
) -> None:
    group = served_groups(hs)["_account_data"]
    status, body = await hs.request("GET", "/user/@a:test.example/account_data/m.x")
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")
    assert not group.built
    token = (await hs.register("alice"))["access_token"]
    status, body = await hs.request(
        "PUT", "/user/@alice:test.example/account_data/m.x", {"a": 1}, token=token
    )
    assert status == 200 and group.built
    status, body = await hs.request(
        "GET", "/user/@alice:test.example/account_data/m.x", token=token
    )
    assert (status, body) == (200, {"a": 1})


async def test_a_handler_that_cannot_load_is_a_logged_500(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(services: Services) -> list[Route]:
        import conduwuit.api.no_such_module  # type: ignore[import-not-found]  # noqa: F401

        return []

    shapes = (("GET", ("/_matrix/client/v3/broken",), "none", False, False, 1024),)
    group = LazyGroup(broken, None, shapes)  # type: ignore[arg-type]
    client = await make_client(group.routes())
    with caplog.at_level(logging.ERROR):
        for _ in range(2):  # not remembered: each request tries (and logs) again
            response = await client.get("/_matrix/client/v3/broken")
            assert response.status == 500
            assert (await response.json())["errcode"] == "M_UNKNOWN"
    assert not group.built
    failures = [r for r in caplog.records if r.exc_info and "broken" in r.getMessage()]
    assert len(failures) == 2
    assert "could not load the handler of /_matrix/client/v3/broken" in caplog.text
    assert "conduwuit.api.no_such_module" in caplog.text


async def test_routes_that_differ_from_the_recorded_ones_are_refused(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    from conduwuit.api import root

    def root_routes(services: Services) -> list[Route]:
        return root.routes("test.example")

    # Recorded with a 1-byte body limit; the module says otherwise: never served.
    shapes = (("GET", ("/",), Auth.NONE.value, False, False, 1),)
    client = await make_client(LazyGroup(root_routes, None, shapes).routes())  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR):
        response = await client.get("/")
    assert response.status == 500
    assert "differ from conduwuit/api/route_shapes.py" in caplog.text
