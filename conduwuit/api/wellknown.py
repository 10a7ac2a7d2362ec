"""/.well-known/matrix/{client,server,support}: delegation and support contacts, from config.

Each answers 404 M_NOT_FOUND when its options are unset, as the spec expects of a
server that does not delegate.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from conduwuit.api.router import Route
from conduwuit.config import WellKnown
from conduwuit.core.errors import not_found


def client_document(well_known: WellKnown) -> dict[str, Any] | None:
    if well_known.client is None:
        return None
    return {"m.homeserver": {"base_url": well_known.client}}


def server_document(well_known: WellKnown) -> dict[str, Any] | None:
    if well_known.server is None:
        return None
    return {"m.server": well_known.server}


def support_document(well_known: WellKnown) -> dict[str, Any] | None:
    """MSC1929 support information; None when neither a contact nor a page is set."""
    contact: dict[str, str] = {}
    if well_known.support_mxid:
        contact["matrix_id"] = well_known.support_mxid
    if well_known.support_email:
        contact["email_address"] = well_known.support_email
    if not contact and well_known.support_page is None:
        return None
    document: dict[str, Any] = {}
    if contact:
        contact["role"] = well_known.support_role
        document["contacts"] = [contact]
    if well_known.support_page is not None:
        document["support_page"] = well_known.support_page
    return document


class WellKnownHandlers:
    def __init__(self, well_known: WellKnown) -> None:
        # Built once: the config does not change while the server runs.
        self.client_document = client_document(well_known)
        self.server_document = server_document(well_known)
        self.support_document = support_document(well_known)

    def serve(self, document: dict[str, Any] | None, what: str) -> web.Response:
        if document is None:
            raise not_found(f"No {what} information is configured")
        return web.json_response(document)

    async def client(self, request: web.Request) -> web.Response:
        return self.serve(self.client_document, "client")

    async def server(self, request: web.Request) -> web.Response:
        return self.serve(self.server_document, "server")

    async def support(self, request: web.Request) -> web.Response:
        return self.serve(self.support_document, "support")

    def routes(self) -> list[Route]:
        return [
            Route("GET", ("/.well-known/matrix/client",), self.client),
            Route("GET", ("/.well-known/matrix/server",), self.server),
            Route("GET", ("/.well-known/matrix/support",), self.support),
        ]


def routes(well_known: WellKnown) -> list[Route]:
    return WellKnownHandlers(well_known).routes()
