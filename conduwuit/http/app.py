"""The aiohttp application: middlewares in order, and the routes the API layer declares."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Middleware

from conduwuit.api.router import Authenticator, Route, install
from conduwuit.config import GlobalConfig
from conduwuit.http.compression import compression_middleware, compressors
from conduwuit.http.metrics import metrics_middleware
from conduwuit.http.middleware import body_limit_middleware, error_middleware, headers_middleware
from conduwuit.service.metrics import RequestStats


def make_app(
    config: GlobalConfig,
    routes: Iterable[Route],
    authenticator: Authenticator | None = None,
    request_stats: RequestStats | None = None,
) -> web.Application:
    # Outermost, so it sees each request's final status (errors rendered).
    middlewares: list[Middleware] = []
    if request_stats is not None:
        middlewares.append(metrics_middleware(request_stats))
    middlewares.append(headers_middleware)
    enabled = compressors(
        zstd=config.zstd_compression,
        brotli=config.brotli_compression,
        gzip_=config.gzip_compression,
    )
    if enabled:
        middlewares.append(compression_middleware(enabled))
    middlewares += [error_middleware, body_limit_middleware(config.max_request_size)]
    app = web.Application(middlewares=middlewares, client_max_size=config.max_request_size)
    install(app, routes, authenticator, max_request_size=config.max_request_size)
    return app
