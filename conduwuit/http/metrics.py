"""The outermost middleware with ``allow_metrics``: every request's method, route
template (``/_matrix/client/v3/rooms/{room_id}/send/...``, never the raw path, so
the series stay few) and final status, and how long it took."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from aiohttp.typedefs import Middleware

from conduwuit.http.middleware import Handler
from conduwuit.service.metrics import RequestStats

#: Requests no route matched (404s, preflights): one series, whatever the path.
UNMATCHED = "unmatched"
#: The client went away before the answer (nginx's "client closed request").
CLIENT_CLOSED = 499


def endpoint(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return UNMATCHED if resource is None else resource.canonical


def metrics_middleware(stats: RequestStats) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:  # redirects: errors are responses by now
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = CLIENT_CLOSED
            raise
        finally:
            stats.observe(request.method, endpoint(request), status, time.perf_counter() - started)

    return middleware
