"""Endpoints as data: method, every path version, auth scheme, handler.

Each API module exposes ``routes(...) -> list[Route]`` built from the services it
needs. ``install`` adds them to the aiohttp router, wrapping each handler so that
authentication happens here, before the handler runs, never inside it.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CLIENT_PREFIX = "/_matrix/client"


class Auth(enum.Enum):
    """How a route authenticates its caller."""

    NONE = "none"
    #: A user's access token (header or query): 401 M_MISSING_TOKEN / M_UNKNOWN_TOKEN.
    ACCESS_TOKEN = "access_token"
    #: An access token if present, anonymous otherwise.
    OPTIONAL_ACCESS_TOKEN = "optional_access_token"
    #: The X-Matrix signature of a federating server.
    SERVER_SIGNATURE = "server_signature"


class Authenticator(Protocol):
    """Checks a request against an auth scheme and records who made it on the request."""

    async def authenticate(
        self, request: web.Request, scheme: Auth, *, allow_guests: bool = False
    ) -> None: ...


@dataclass(frozen=True)
class Route:
    method: str
    paths: tuple[str, ...]
    handler: Handler
    auth: Auth = Auth.NONE
    #: Whether guest accounts may call it (client-server API, "Guest access").
    allow_guests: bool = False


def client_paths(path: str, *, versions: Iterable[str] = ("r0", "v3")) -> tuple[str, ...]:
    """``/login`` -> ``/_matrix/client/r0/login``, ``/_matrix/client/v3/login``."""
    return tuple(f"{CLIENT_PREFIX}/{version}{path}" for version in versions)


def _authenticated(route: Route, authenticator: Authenticator | None) -> Handler:
    if route.auth is Auth.NONE:
        return route.handler
    if authenticator is None:
        raise RuntimeError(f"route {route.paths[0]} needs an authenticator for {route.auth}")
    handler = route.handler
    scheme = route.auth
    allow_guests = route.allow_guests

    async def wrapper(request: web.Request) -> web.StreamResponse:
        await authenticator.authenticate(request, scheme, allow_guests=allow_guests)
        return await handler(request)

    return wrapper


def install(
    app: web.Application, routes: Iterable[Route], authenticator: Authenticator | None
) -> None:
    """Add every route (and HEAD for every GET) to the app's router."""
    for route in routes:
        handler = _authenticated(route, authenticator)
        for path in route.paths:
            app.router.add_route(route.method, path, handler)
            if route.method == "GET":
                app.router.add_route("HEAD", path, handler)
