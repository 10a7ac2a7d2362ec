"""The aiohttp application: middlewares in order, and the routes the API layer declares."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Middleware

from conduwuit.api.router import Authenticator, Route, install
from conduwuit.config import GlobalConfig
from conduwuit.http.compression import compression_middleware, compressors
from conduwuit.http.middleware import body_limit_middleware, error_middleware, headers_middleware


def make_app(
    config: GlobalConfig,
    routes: Iterable[Route],
    authenticator: Authenticator | None = None,
) -> web.Application:
    middlewares: list[Middleware] = [headers_middleware]
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
