"""Filters: POST /user/{userId}/filter, GET /user/{userId}/filter/{filterId}.

The body is validated against the spec's Filter schema (definitions/sync_filter.yaml,
event_filter.yaml, room_event_filter.yaml) and stored as sent, for sync.
"""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import AfterValidator, Field, StrictBool, StrictInt, StrictStr

from conduwuit.api.auth import requester
from conduwuit.api.router import Auth, Route, client_paths
from conduwuit.api.wire import WireModel, json_body, parse
from conduwuit.core.errors import forbidden, not_found
from conduwuit.core.event_filter import NOT_REL_TYPES_KEY, REL_TYPES_KEY, check_filter_size
from conduwuit.core.ids import RoomId, UserId
from conduwuit.service.filters import Filters


def _room_id(value: str) -> str:
    RoomId.parse(value)
    return value


def _user_id(value: str) -> str:
    UserId.parse(value)
    return value


# As in Synapse's filter schema (room_id_array, user_id_array): the IDs in a filter
# must be well-formed, so a typo is refused rather than silently matching nothing.
RoomIdStr = Annotated[StrictStr, AfterValidator(_room_id)]
UserIdStr = Annotated[StrictStr, AfterValidator(_user_id)]


class EventFilter(WireModel):
    limit: StrictInt | None = Field(None, ge=1)
    not_senders: list[UserIdStr] | None = None
    not_types: list[StrictStr] | None = None
    senders: list[UserIdStr] | None = None
    types: list[StrictStr] | None = None


class RoomEventFilter(EventFilter):
    unread_thread_notifications: StrictBool | None = None
    lazy_load_members: StrictBool | None = None
    include_redundant_members: StrictBool | None = None
    not_rooms: list[RoomIdStr] | None = None
    rooms: list[RoomIdStr] | None = None
    contains_url: StrictBool | None = None
    # MSC3874 filtering by relation type (Synapse's filter schema has both keys).
    rel_types: list[StrictStr] | None = Field(None, alias=REL_TYPES_KEY)
    not_rel_types: list[StrictStr] | None = Field(None, alias=NOT_REL_TYPES_KEY)


class RoomFilter(WireModel):
    not_rooms: list[RoomIdStr] | None = None
    rooms: list[RoomIdStr] | None = None
    ephemeral: RoomEventFilter | None = None
    include_leave: StrictBool | None = None
    state: RoomEventFilter | None = None
    timeline: RoomEventFilter | None = None
    account_data: RoomEventFilter | None = None


class Filter(WireModel):
    event_fields: list[StrictStr] | None = None
    event_format: Literal["client", "federation"] | None = None
    presence: EventFilter | None = None
    account_data: EventFilter | None = None
    room: RoomFilter | None = None


class FilterHandlers:
    def __init__(self, filters: Filters) -> None:
        self.filters = filters

    def own(self, request: web.Request) -> str:
        who = requester(request)
        user_id = request.match_info["user_id"]
        if user_id != who.user_id:
            raise forbidden("You cannot use the filters of another user.")
        return user_id

    async def create(self, request: web.Request) -> web.Response:
        user_id = self.own(request)
        definition = await json_body(request)
        check_filter_size(definition)
        parse(Filter, definition)
        return web.json_response({"filter_id": self.filters.create(user_id, definition)})

    async def get(self, request: web.Request) -> web.Response:
        user_id = self.own(request)
        definition = self.filters.get(user_id, request.match_info["filter_id"])
        if definition is None:
            raise not_found("No such filter.")
        return web.json_response(definition)

    def routes(self) -> list[Route]:
        # Guests may sync, so they may use filters too (as in Synapse).
        return [
            Route(
                "POST",
                client_paths("/user/{user_id}/filter"),
                self.create,
                Auth.ACCESS_TOKEN,
                allow_guests=True,
            ),
            Route(
                "GET",
                client_paths("/user/{user_id}/filter/{filter_id}"),
                self.get,
                Auth.ACCESS_TOKEN,
                allow_guests=True,
            ),
        ]


def routes(filters: Filters) -> list[Route]:
    return FilterHandlers(filters).routes()
