"""PUT /sendToDevice/{eventType}/{txnId} (client-server API, "Send-to-Device messaging")."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import StrictStr

from conduwuit.api.client.e2ee_common import RequesterOf, check_user_ids
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import WireModel, parse_body
from conduwuit.service.e2ee import ToDevice


class SendToDeviceBody(WireModel):
    messages: dict[StrictStr, dict[StrictStr, dict[str, Any]]]


class ToDeviceHandlers:
    def __init__(self, to_device: ToDevice, *, requester: RequesterOf) -> None:
        self.to_device = to_device
        self.requester = requester

    async def send(self, request: web.Request) -> web.Response:
        who = self.requester(request)
        body = await parse_body(request, SendToDeviceBody)
        check_user_ids(body.messages)
        self.to_device.send(
            who.user_id,
            who.device_id,
            request.match_info["event_type"],
            request.match_info["txn_id"],
            body.messages,
        )
        return web.json_response({})

    def routes(self) -> list[Route]:
        paths = client_paths("/sendToDevice/{event_type}/{txn_id}")
        return [Route("PUT", paths, self.send, Auth.ACCESS_TOKEN, allow_guests=True, max_body=None)]


def routes(to_device: ToDevice, *, requester: RequesterOf) -> list[Route]:
    return ToDeviceHandlers(to_device, requester=requester).routes()
