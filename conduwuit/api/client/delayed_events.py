"""Managing delayed events (MSC4140, unstable prefix ``org.matrix.msc4140``), as
Synapse serves them. Scheduling is a query parameter of the send and state
endpoints (``api.client.rooms.send``).

- ``GET .../delayed_events``: the requester's scheduled events;
- ``POST .../delayed_events/{delay_id}`` with ``{"action": "cancel"|"restart"|"send"}``:
  authenticated, for the requester's own delayed events;
- ``POST .../delayed_events/{delay_id}/{cancel|restart|send}``: unauthenticated, the
  delay ID being the capability (a client hands it to a service, e.g. Element Call's
  SFU, that restarts or sends it when the client stops responding).

An unknown delay ID, or another user's on the authenticated path, is 404 M_NOT_FOUND.
"""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.auth import requester
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import json_body
from conduwuit.core.errors import invalid_param, missing_param
from conduwuit.service.rooms.delayed_events import DelayedEvents

UNSTABLE = ("unstable/org.matrix.msc4140",)
ACTIONS = ("cancel", "restart", "send")


class DelayedEventHandlers:
    def __init__(self, delayed: DelayedEvents) -> None:
        self.delayed = delayed

    async def list_events(self, request: web.Request) -> web.Response:
        user_id = requester(request).user_id
        events = [event.listing() for event in self.delayed.of_user(user_id)]
        return web.json_response({"delayed_events": events})

    async def _act(self, delay_id: str, action: str, user_id: str | None) -> None:
        if action == "cancel":
            self.delayed.cancel(delay_id, user_id)
        elif action == "restart":
            self.delayed.restart(delay_id, user_id)
        else:
            await self.delayed.send_now(delay_id, user_id)

    async def update(self, request: web.Request) -> web.Response:
        """The authenticated form, with the action in the body (Synapse's errors)."""
        user_id = requester(request).user_id
        body = await json_body(request)
        if "action" not in body:
            raise missing_param("'action' is missing")
        action = body["action"]
        if action not in ACTIONS:
            raise invalid_param("'action' is not one of " + ", ".join(f"'{a}'" for a in ACTIONS))
        await self._act(request.match_info["delay_id"], action, user_id)
        return web.json_response({})

    async def update_by_id(self, request: web.Request) -> web.Response:
        """The unauthenticated form, with the action in the path."""
        await json_body(request)  # an empty body or a JSON object; nothing is read
        action = request.path.rsplit("/", 1)[-1]
        await self._act(request.match_info["delay_id"], action, None)
        return web.json_response({})

    def routes(self) -> list[Route]:
        base = "/delayed_events"
        return [
            Route(
                "GET",
                client_paths(base, versions=UNSTABLE),
                self.list_events,
                Auth.ACCESS_TOKEN,
            ),
            Route(
                "POST",
                client_paths(base + "/{delay_id}", versions=UNSTABLE),
                self.update,
                Auth.ACCESS_TOKEN,
            ),
            Route(
                "POST",
                tuple(
                    path
                    for action in ACTIONS
                    for path in client_paths(f"{base}/{{delay_id}}/{action}", versions=UNSTABLE)
                ),
                self.update_by_id,
            ),
        ]


def routes(delayed: DelayedEvents) -> list[Route]:
    return DelayedEventHandlers(delayed).routes()
