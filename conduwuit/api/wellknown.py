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


def routes(well_known: WellKnown) -> list[Route]:
    def serve(document: dict[str, Any] | None, what: str) -> Route:
        async def handler(request: web.Request) -> web.Response:
            if document is None:
                raise not_found(f"No {what} information is configured")
            return web.json_response(document)

        return Route("GET", (f"/.well-known/matrix/{what}",), handler)

    return [
        serve(client_document(well_known), "client"),
        serve(server_document(well_known), "server"),
        serve(support_document(well_known), "support"),
    ]
