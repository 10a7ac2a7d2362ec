"""GET ``metrics_path`` (``/metrics``): Prometheus's text format, with ``allow_metrics``.

Not a Matrix endpoint. With ``metrics_token`` the scraper sends it as a bearer token
(Prometheus's ``authorization`` setting); a missing one is 401 M_MISSING_TOKEN, a
wrong one 401 M_UNKNOWN_TOKEN, as for access tokens.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from aiohttp import web

from conduwuit.api.auth import access_token
from conduwuit.api.router import Route
from conduwuit.core.errors import ErrCode, MatrixError


class MetricsHandlers:
    def __init__(self, path: str, render: Callable[[], bytes], token: str | None) -> None:
        self.path = path
        self.render = render
        self.token = token

    @staticmethod
    def _check_token(request: web.Request, token: str) -> None:
        given = access_token(request)
        if given is None:
            raise MatrixError(ErrCode.MISSING_TOKEN, "The metrics need a bearer token.")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise MatrixError(ErrCode.UNKNOWN_TOKEN, "Wrong metrics token.")

    async def get_metrics(self, request: web.Request) -> web.Response:
        if self.token is not None:
            self._check_token(request, self.token)
        from prometheus_client import CONTENT_TYPE_LATEST  # loaded only with the metrics on

        return web.Response(body=self.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    def routes(self) -> list[Route]:
        return [Route("GET", (self.path,), self.get_metrics)]
