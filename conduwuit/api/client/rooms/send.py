"""Sending events and reading/writing state (client-server API "Sending events to a
room", "Getting events for a room" state parts, "Redactions")."""

from __future__ import annotations

from aiohttp import web

from conduwuit.api.client.rooms.params import device, massaged_ts, me, room_id
from conduwuit.api.query import optional_int_param
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import canonical_body
from conduwuit.core.client_event import to_client
from conduwuit.core.event_types import EventType
from conduwuit.service.ratelimit import RateLimits
from conduwuit.service.rooms.actions import RoomActions
from conduwuit.service.rooms.delayed_events import DelayedEvents, new_delay_id
from conduwuit.service.rooms.history import RoomHistory
from conduwuit.service.rooms.membership import Membership
from conduwuit.service.rooms.transactions import Txn
from conduwuit.service.users.shadow_bans import ShadowBans, fake_event_id

#: MSC4140's query parameter: schedule the event this many milliseconds from now.
DELAY_PARAM = "org.matrix.msc4140.delay"


class SendHandlers:
    def __init__(
        self,
        actions: RoomActions,
        members: Membership,
        history: RoomHistory,
        limits: RateLimits,
        delayed: DelayedEvents,
        shadow_bans: ShadowBans,
    ) -> None:
        self.actions = actions
        self.shadow_bans = shadow_bans
        self.members = members
        self.history = history
        self.limits = limits
        self.delayed = delayed

    def delay(self, request: web.Request) -> int | None:
        """The requested delay (MSC4140), refused before anything else if too long."""
        delay = optional_int_param(request, DELAY_PARAM)
        if delay is not None:
            self.delayed.check_delay(delay)
        return delay

    def charge(self, user: str, txn: Txn | None = None) -> None:
        """One event against the sender's message limit (Synapse's rc_message); a
        retried transaction is answered from the first send and costs nothing, as
        Synapse's transaction cache answers it before any rate limit."""
        if txn is None or self.actions.storage.pipeline.persister.txn_event(txn) is None:
            self.limits.user(self.limits.messages, user)

    async def send_event(self, request: web.Request) -> web.Response:
        user = me(request)
        room, event_type = room_id(request), request.match_info["event_type"]
        txn = Txn.send(
            str(user), device(request), str(room), event_type, request.match_info["txn_id"]
        )
        delay = self.delay(request)
        if delay is not None:
            # A retried transaction answers its delay ID before the body is read, as
            # the transaction cache of Synapse does (Complement retries without one).
            if (done := self.delayed.for_txn(txn)) is not None:
                return web.json_response({"delay_id": done})
            content = await canonical_body(request)
            self.limits.user(self.limits.messages, str(user))
            if self.shadow_bans.is_banned(str(user)):
                return web.json_response({"delay_id": new_delay_id()})
            delay_id = await self.delayed.schedule(
                user, room, event_type, None, content, delay, txn
            )
            return web.json_response({"delay_id": delay_id})
        content = await canonical_body(request)
        self.charge(str(user), txn)
        if self.shadow_bans.is_banned(str(user)):
            # Synapse: a shadow-banned user's send "succeeds" with an event ID that
            # names nothing; the event is neither stored nor sent.
            return web.json_response({"event_id": fake_event_id()})
        event_id = await self.actions.send(
            user, room, event_type, content, txn=txn, timestamp=massaged_ts(request)
        )
        return web.json_response({"event_id": event_id})

    async def put_state(self, request: web.Request) -> web.Response:
        delay = self.delay(request)
        content = await canonical_body(request)
        event_type = request.match_info["event_type"]
        state_key = request.match_info.get("state_key", "")
        self.charge(str(me(request)))
        banned = self.shadow_bans.is_banned(str(me(request)))
        if delay is not None and banned:
            # A delayed event of a shadow-banned user is never scheduled: its delay
            # ID names nothing (the cancel/restart/send endpoints answer 404).
            return web.json_response({"delay_id": new_delay_id()})
        if delay is not None:
            delay_id = await self.delayed.schedule(
                me(request), room_id(request), event_type, state_key, content, delay
            )
            return web.json_response({"delay_id": delay_id})
        if banned and (event_type != EventType.MEMBER or content.get("membership") == "invite"):
            # Synapse fakes state events and invites of a shadow-banned user; their
            # own joins and leaves go through.
            return web.json_response({"event_id": fake_event_id()})
        if event_type == EventType.MEMBER:
            # The one membership path: the same checks as /join, /invite, /kick...
            event_id = await self.members.set_member_state(
                me(request), room_id(request), state_key, content
            )
        else:
            event_id = await self.actions.send_state(
                me(request),
                room_id(request),
                event_type,
                state_key,
                content,
                timestamp=massaged_ts(request),
            )
        return web.json_response({"event_id": event_id})

    async def get_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.history.state(me(request), room_id(request)))

    async def get_state_event(self, request: web.Request) -> web.Response:
        pdu = self.history.state_event(
            me(request),
            room_id(request),
            request.match_info["event_type"],
            request.match_info.get("state_key", ""),
        )
        if request.query.get("format") == "event":
            return web.json_response(to_client(pdu, self.actions.storage.clock()))
        return web.json_response(pdu.get("content", {}))

    async def redact(self, request: web.Request) -> web.Response:
        user = me(request)
        body = await canonical_body(request)
        room, target = room_id(request), request.match_info["event_id"]
        txn = Txn.redact(
            str(user), device(request), str(room), target, request.match_info["txn_id"]
        )
        self.charge(str(user), txn)
        if self.shadow_bans.is_banned(str(user)):
            return web.json_response({"event_id": fake_event_id()})
        event_id = await self.actions.redact(user, room, target, body, txn)
        return web.json_response({"event_id": event_id})

    def routes(self) -> list[Route]:
        room = "/rooms/{room_id}"
        state_key_paths = client_paths(room + "/state/{event_type}/{state_key:.*}")
        no_key_paths = client_paths(room + "/state/{event_type}")
        return [
            Route(
                "PUT",
                client_paths(room + "/send/{event_type}/{txn_id}"),
                self.send_event,
                Auth.ACCESS_TOKEN,
                allow_guests=True,
            ),
            Route(
                "PUT",
                state_key_paths + no_key_paths,
                self.put_state,
                Auth.ACCESS_TOKEN,
                allow_guests=True,
            ),
            Route(
                "GET",
                client_paths(room + "/state"),
                self.get_state,
                Auth.ACCESS_TOKEN,
                allow_guests=True,
            ),
            Route(
                "GET",
                state_key_paths + no_key_paths,
                self.get_state_event,
                Auth.ACCESS_TOKEN,
                allow_guests=True,
            ),
            Route(
                "PUT",
                client_paths(room + "/redact/{event_id}/{txn_id}"),
                self.redact,
                Auth.ACCESS_TOKEN,
            ),
        ]


def routes(
    actions: RoomActions,
    members: Membership,
    history: RoomHistory,
    limits: RateLimits,
    delayed: DelayedEvents,
    shadow_bans: ShadowBans,
) -> list[Route]:
    return SendHandlers(actions, members, history, limits, delayed, shadow_bans).routes()
