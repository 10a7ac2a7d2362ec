"""The router as ``install`` builds it (one resource per path, regexes compiled on
first match) answers every URL as aiohttp's plain ``add_route`` per route and method
did: the same handler, the same path variables, the same 404 and 405 (Allow)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from conduwuit.api.router import Authenticator, LazyPatternResource, Route, install
from conduwuit.api.routes import routes
from conduwuit.server import Server, build
from tests.kit.homeserver import homeserver_config

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
_VARIABLE = re.compile(r"\{([_a-zA-Z][_a-zA-Z0-9]*)(:[^{}]+)?\}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    # The loop-lag monitor adds its route only when it is on; legacy media adds paths.
    server = build(
        homeserver_config(tmp_path / "db", loop_lag_monitor=True, allow_legacy_media=True)
    )
    try:
        yield server
    finally:
        server.close()


def reference_router(declared: list[Route]) -> web.UrlDispatcher:
    """The router as it was built before: ``add_route`` for each route and path."""
    app = web.Application()
    for route in declared:
        for path in route.paths:
            app.router.add_route(route.method, path, route.handler)
            if route.method == "GET":
                app.router.add_route("HEAD", path, route.handler)
    return app.router


def sample_urls(paths: set[str]) -> list[str]:
    """A URL each path matches (variables filled in), and near misses around it."""
    urls: set[str] = {"/", "/_matrix", "/_matrix/client/v3/nope"}
    for path in paths:
        url = _VARIABLE.sub(lambda m: "a%2Fb/c" if m.group(2) else "x%21y", path)
        urls |= {url, url + "/", url + "/extra", url.rpartition("/")[0] or "/"}
    return sorted(urls)


async def answer(router: web.UrlDispatcher, request: web.Request) -> tuple[object, ...]:
    match = await router.resolve(request)
    error = match.http_exception
    if error is not None:
        allowed: set[str] = getattr(error, "allowed_methods", set())
        return (type(error).__name__, tuple(sorted(allowed)))
    return (inspect.unwrap(match.handler), tuple(sorted(match.items())))


async def test_every_url_gets_the_answer_of_one_resource_per_route(server: Server) -> None:
    declared = routes(server.services)
    reference = reference_router(declared)
    app = web.Application()
    # Routing only: no request reaches an authenticator here.
    install(app, declared, cast(Authenticator, object()))
    installed = app.router
    paths = {path for route in declared for path in route.paths}
    # One resource per path, fewer than one per add_route.
    assert len(installed.resources()) == len(paths) < len(reference.resources())
    urls = sample_urls(paths)
    matched = 0
    for url in urls:
        get = make_mocked_request("GET", url)
        for method in METHODS:
            request = get.clone(method=method)
            expected = await answer(reference, request)
            assert await answer(installed, request) == expected, (method, url)
            matched += not isinstance(expected[0], str)
    # Every route's sample URL matched a handler (GET twice: HEAD).
    assert matched >= len(paths)


def test_dynamic_paths_compile_on_first_match_to_aiohttps_regex(server: Server) -> None:
    lazy = [r for r in server.app.router.resources() if isinstance(r, LazyPatternResource)]
    dynamic = [r for r in server.app.router.resources() if "{" in r.canonical]
    assert len(lazy) == len(dynamic) > 100
    # Nothing compiled while building the server.
    assert not any("_pattern" in vars(resource) for resource in lazy)
    for resource in lazy:
        path = resource._orig_path
        eager = web.DynamicResource(path)
        assert resource.canonical == eager.canonical
        assert resource.get_info()["pattern"].pattern == eager.get_info()["pattern"].pattern
        assert resource.raw_match(path)


def test_a_path_outside_the_simple_form_gets_aiohttps_own_resource() -> None:
    app = web.Application()

    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    install(app, [Route("GET", ("/caf%C3%A9/{name}",), handler)], None)
    (resource,) = app.router.resources()
    assert type(resource) is web.DynamicResource
