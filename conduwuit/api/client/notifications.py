"""GET /notifications (client-server API "Listing Notifications", notifications.yaml).

The events that notified the caller, newest first. ``from`` is a ``next_token`` of
an earlier page (the stream position of its last notification); ``limit``
defaults to 50 (the spec names no default; Synapse's storage default) and is
capped at 100, 0 counting as 1; ``only=highlight`` keeps the highlighting ones (other values of
``only`` are ignored, as Synapse does). Refusals: 400 M_INVALID_PARAM for a
``from`` or ``limit`` that is not a non-negative integer.

``profile_tag`` is left out: it names the pusher profile of the rule, and no
rule here carries one (the field is optional).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from conduwuit.api.auth import requester
from conduwuit.api.query import int_param, optional_int_param
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.core.client_event import to_client
from conduwuit.service.push import Notifications
from conduwuit.service.rooms.timeline import PduJson

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


class NotificationHandlers:
    def __init__(
        self,
        notifications: Notifications,
        event: Callable[[str], PduJson | None],
        clock: Callable[[], int],
    ) -> None:
        self._notifications = notifications
        self._event = event
        self._clock = clock

    async def get_notifications(self, request: web.Request) -> web.Response:
        user_id = requester(request).user_id
        before = optional_int_param(request, "from")
        limit = max(1, min(int_param(request, "limit", DEFAULT_LIMIT), MAX_LIMIT))
        only_highlight = request.query.get("only") == "highlight"
        page, next_position = self._notifications.page(user_id, before, limit, only_highlight)
        now = self._clock()
        notifications: list[dict[str, Any]] = []
        for found in page:
            # The event as it is now: a redacted one is shown redacted.
            pdu = self._event(found.event_id)
            if pdu is None:
                continue
            notifications.append(
                {
                    "actions": found.actions,
                    "event": to_client(pdu, now),
                    "read": found.read,
                    "room_id": found.room_id,
                    "ts": found.ts,
                }
            )
        body: dict[str, Any] = {"notifications": notifications}
        if next_position is not None:
            body["next_token"] = str(next_position)
        return web.json_response(body)

    def routes(self) -> list[Route]:
        return [
            Route("GET", client_paths("/notifications"), self.get_notifications, Auth.ACCESS_TOKEN)
        ]
