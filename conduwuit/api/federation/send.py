"""``PUT /_matrix/federation/v1/send/{txnId}``: transactions other servers push
(``service/federation/inbound.py`` does the work)."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.federation.auth import federation_body, origin
from conduwuit.api.router import Auth, Route
from conduwuit.service.federation.inbound import InboundTransactions

#: 50 PDUs of at most 64 KiB and 100 EDUs fit (Synapse's federation body limit).
TRANSACTION_BODY = 8 * 1024 * 1024


class FederationSendHandlers:
    def __init__(self, inbound: InboundTransactions) -> None:
        self.inbound = inbound

    async def send(self, request: web.Request) -> web.Response:
        answer = await self.inbound.receive(
            origin(request), request.match_info["txn_id"], federation_body(request)
        )
        return web.json_response(answer)

    def routes(self) -> list[Route]:
        return [
            Route(
                "PUT",
                ("/_matrix/federation/v1/send/{txn_id}",),
                self.send,
                Auth.SERVER_SIGNATURE,
                max_body=TRANSACTION_BODY,
            )
        ]


def routes(inbound: InboundTransactions) -> list[Route]:
    return FederationSendHandlers(inbound).routes()
