"""POST /_synapse/admin/v1/send_server_notice and PUT .../send_server_notice/{txnId}:
Synapse's admin API for server notices (service/server_notices.py)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import StrictStr

from conduwuit.api.client.rooms.params import device, me
from conduwuit.api.router import Auth, Route
from conduwuit.api.wire import WireModel, canonical_body, parse
from conduwuit.core.event_types import EventType
from conduwuit.service.server_notices import Notice, ServerNotices

PATH = "/_synapse/admin/v1/send_server_notice"


class NoticeBody(WireModel):
    user_id: StrictStr
    content: dict[str, Any]
    #: Synapse lets the admin choose the event's type and make it a state event.
    type: StrictStr = EventType.MESSAGE
    state_key: StrictStr | None = None


class ServerNoticeHandlers:
    def __init__(self, notices: ServerNotices) -> None:
        self._notices = notices

    async def _send(self, request: web.Request, txn_id: str | None) -> web.Response:
        user = me(request)
        self._notices.check_admin(user)
        body = parse(NoticeBody, await canonical_body(request))
        notice = Notice(body.user_id, body.content, body.type, body.state_key)
        event_id = await self._notices.send(user, device(request), notice, txn_id)
        return web.json_response({"event_id": event_id})

    async def post(self, request: web.Request) -> web.Response:
        return await self._send(request, None)

    async def put(self, request: web.Request) -> web.Response:
        return await self._send(request, request.match_info["txn_id"])

    def routes(self) -> list[Route]:
        return [
            Route("POST", (PATH,), self.post, Auth.ACCESS_TOKEN),
            Route("PUT", (f"{PATH}/{{txn_id}}",), self.put, Auth.ACCESS_TOKEN),
        ]
