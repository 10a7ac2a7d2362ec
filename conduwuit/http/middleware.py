"""The middlewares every response passes through, outermost first.

``error_middleware`` turns every failure into a Matrix JSON error and gives each
request an id for the logs; ``headers_middleware`` answers CORS preflights and adds
CORS and security headers to every response, errors included.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from conduwuit.core.errors import ErrCode, MatrixError

log = logging.getLogger("conduwuit.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

REQUEST_ID = web.RequestKey("request_id", str)

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH",
    "Access-Control-Allow-Headers": "Origin, X-Requested-With, Content-Type, Accept, "
    "Authorization, Date",
    "Access-Control-Max-Age": "86400",
}

# Responses are JSON or media: nothing needs scripts, frames or plugins. The HTML
# landing page needs inline styles only (see api/root.py).
SECURITY_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'; script-src 'none'; "
    "plugin-types application/pdf; style-src 'unsafe-inline'; object-src 'self'; "
    "frame-ancestors 'none'; form-action 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "accelerometer=(), camera=(), geolocation=(), gyroscope=(), "
    "magnetometer=(), microphone=(), payment=(), usb=()",
    "X-XSS-Protection": "0",
    "Cross-Origin-Resource-Policy": "cross-origin",
}


def error_response(error: MatrixError) -> web.Response:
    response = web.json_response(error.to_json(), status=error.status)
    response.headers.update(error.headers)
    return response


def _translate_http_exception(exc: web.HTTPException) -> MatrixError:
    if isinstance(exc, web.HTTPNotFound):
        return MatrixError(ErrCode.UNRECOGNIZED, "Unrecognized request", status=404)
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return MatrixError(
            ErrCode.UNRECOGNIZED,
            f"Method {exc.method} is not allowed here",
            status=405,
            headers={"Allow": ", ".join(sorted(exc.allowed_methods))},
        )
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return MatrixError(ErrCode.TOO_LARGE, "Request body is too large", status=413)
    errcode = ErrCode.UNKNOWN if exc.status >= 500 else ErrCode.UNRECOGNIZED
    return MatrixError(errcode, exc.reason, status=exc.status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request.headers.get("X-Request-Id", "")[:64] or secrets.token_hex(6)
    request[REQUEST_ID] = request_id
    started = time.monotonic()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except MatrixError as exc:
        status = exc.status
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            status = exc.status
            raise
        error = _translate_http_exception(exc)
        status = error.status
        return error_response(error)
    except Exception:
        log.exception("request %s %s %s failed", request_id, request.method, request.path)
        return error_response(
            MatrixError(ErrCode.UNKNOWN, f"Internal server error (request {request_id})")
        )
    finally:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s %s -> %d in %.1f ms",
                request_id,
                request.method,
                request.path,
                status,
                (time.monotonic() - started) * 1000,
            )


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "OPTIONS":
        response: web.StreamResponse = web.Response(status=204)
    else:
        response = await handler(request)
    if (
        not response.prepared
        and response.content_type == "application/json"
        and response.charset is not None
    ):
        # JSON is UTF-8 by definition (RFC 8259) and application/json has no charset
        # parameter; aiohttp adds one. Synapse sends a bare "application/json", and
        # clients (Complement among them) compare the header exactly.
        response.charset = None
    for name, value in CORS_HEADERS.items():
        response.headers.setdefault(name, value)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def body_limit_middleware(
    max_size: int,
) -> Middleware:
    """Refuse a declared Content-Length over the limit before reading a byte.

    Bodies without a length (chunked) are cut off by aiohttp's ``client_max_size``
    while streaming, which raises 413 as soon as the limit is passed.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > max_size:
            raise MatrixError(
                ErrCode.TOO_LARGE,
                f"Request body is larger than the limit of {max_size} bytes",
                status=413,
            )
        return await handler(request)

    return middleware
