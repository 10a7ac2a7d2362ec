"""Endpoints as data: method, every path version, auth scheme, handler.

Each API module exposes ``routes(...) -> list[Route]`` built from the services it
needs. ``install`` adds them to the aiohttp router, wrapping each handler so that
authentication happens here, before the handler runs, never inside it. A handler
is a named method or function, never a closure, so that tracebacks and profiles
name the endpoint; the wrappers keep it reachable as ``__wrapped__``.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from conduwuit.core.errors import ErrCode, MatrixError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CLIENT_PREFIX = "/_matrix/client"

#: The body limit of a route unless it says otherwise. Synapse caps client request
#: bodies at a few hundred KB except where keys and to-device messages travel; an
#: event is at most 64 KiB (PDU size limit), so this leaves room for any event
#: content, filter or profile while one unauthenticated request can no longer make
#: the server parse (and hold) megabytes.
SMALL_BODY = 256 * 1024

#: The limit a route applied to its request body, for the body reader (api/wire.py).
BODY_LIMIT = web.RequestKey("body_limit", int)


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
        self,
        request: web.Request,
        scheme: Auth,
        *,
        allow_guests: bool = False,
        allow_locked: bool = False,
    ) -> None: ...


@dataclass(frozen=True)
class Route:
    method: str
    paths: tuple[str, ...]
    handler: Handler
    auth: Auth = Auth.NONE
    #: Whether guest accounts may call it (client-server API, "Guest access").
    allow_guests: bool = False
    #: Whether a locked account may call it: only the logouts (client-server API,
    #: "Account locking"); every other route answers 401 M_USER_LOCKED.
    allow_locked: bool = False
    #: Largest request body in bytes, refused with 413 M_TOO_LARGE before it is read;
    #: None for the server's ``max_request_size`` (key uploads, to-device messages).
    max_body: int | None = SMALL_BODY


def client_paths(path: str, *, versions: Iterable[str] = ("r0", "v3")) -> tuple[str, ...]:
    """``/login`` -> ``/_matrix/client/r0/login``, ``/_matrix/client/v3/login``."""
    return tuple(f"{CLIENT_PREFIX}/{version}{path}" for version in versions)


def too_large(limit: int) -> MatrixError:
    return MatrixError(
        ErrCode.TOO_LARGE, f"Request body is larger than the limit of {limit} bytes", status=413
    )


def _limited(route: Route, handler: Handler, max_request_size: int | None) -> Handler:
    """Refuse a declared Content-Length over the route's limit before anything else
    (a chunked body is cut off by the reader in api/wire.py at the same limit)."""
    limits = [n for n in (route.max_body, max_request_size) if n is not None]
    if not limits:
        return handler
    limit = min(limits)

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > limit:
            raise too_large(limit)
        request[BODY_LIMIT] = limit
        return await handler(request)

    return wrapper


def _authenticated(route: Route, authenticator: Authenticator | None) -> Handler:
    if route.auth is Auth.NONE:
        return route.handler
    if authenticator is None:
        raise RuntimeError(f"route {route.paths[0]} needs an authenticator for {route.auth}")
    handler = route.handler
    scheme = route.auth
    allow_guests = route.allow_guests
    allow_locked = route.allow_locked

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        await authenticator.authenticate(
            request, scheme, allow_guests=allow_guests, allow_locked=allow_locked
        )
        return await handler(request)

    return wrapper


#: A path whose parts are only these (literal characters that percent-quoting leaves
#: alone, and ``{name}`` / ``{name:regex}`` variables) gets a LazyPatternResource.
_SIMPLE_PATH = re.compile(
    r"[A-Za-z0-9/_.~-]*(?:\{[_a-zA-Z][_a-zA-Z0-9]*(?::[^{}]+)?\}[A-Za-z0-9/_.~-]*)*"
)
_VARIABLE = re.compile(r"\{([_a-zA-Z][_a-zA-Z0-9]*)(?::[^{}]+)?\}")


class LazyPatternResource(web.DynamicResource):
    """aiohttp's DynamicResource with its regex compiled on the first match.

    Compiling the ~200 dynamic paths' regexes was a third of building the router at
    start-up; a request compiles only the candidates its URL is checked against, once.
    The compiled regex is aiohttp's own (from a DynamicResource of the same path), so
    matching is unchanged; the canonical form (aiohttp indexes resources by it) is
    computed here, only for paths ``_SIMPLE_PATH`` accepts."""

    def __init__(self, path: str, *, name: str | None = None) -> None:
        web.Resource.__init__(self, name=name)  # not DynamicResource's: it compiles
        self._orig_path = path
        self._formatter = _VARIABLE.sub(r"{\1}", path)

    @functools.cached_property
    def _pattern(self) -> re.Pattern[str]:  # type: ignore[override]
        eager = web.DynamicResource(self._orig_path)
        if eager.canonical != self._formatter:  # tests/http/test_router.py checks every route
            raise RuntimeError(f"route {self._orig_path}: canonical {eager.canonical}")
        return eager._pattern


def _resource(router: web.UrlDispatcher, path: str) -> web.Resource:
    if "{" in path and _SIMPLE_PATH.fullmatch(path):
        resource = LazyPatternResource(path)
        router.register_resource(resource)
        return resource
    return router.add_resource(path)


def install(
    app: web.Application,
    routes: Iterable[Route],
    authenticator: Authenticator | None,
    *,
    max_request_size: int | None = None,
) -> None:
    """Add every route (and HEAD for every GET) to the app's router; a route's body
    limit is never above ``max_request_size``.

    Each path is one resource holding all of its methods (aiohttp's ``add_route``
    reuses a resource only for the same path added twice in a row): fewer resources to
    build and to try per request. No two paths match the same URL, so which
    resource a URL meets first does not change the answer, 405's Allow included
    (tests/http/test_router.py compares with one resource per ``add_route``)."""
    resources: dict[str, web.Resource] = {}
    router = app.router
    for route in routes:
        handler = _limited(route, _authenticated(route, authenticator), max_request_size)
        for path in route.paths:
            resource = resources.get(path)
            if resource is None:
                resource = resources[path] = _resource(router, path)
            resource.add_route(route.method, handler)
            if route.method == "GET":
                resource.add_route("HEAD", handler)
