"""POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync (MSC4186).

``pos`` and ``timeout`` are query parameters, the rest a JSON body; the body's
shape and limits follow Synapse's ``SlidingSyncBody`` (the reference Element X is
tested against): ``required_state`` and ``timeline_limit`` are required in every
room config, ``ranges`` are inclusive pairs of non-negative integers.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import Field, StrictBool, StrictInt, StrictStr, field_validator

from conduwuit.api.auth import requester
from conduwuit.api.client.sync import encode
from conduwuit.api.query import int_param
from conduwuit.api.router import CLIENT_PREFIX, Auth, Route
from conduwuit.api.wire import WireModel, parse_body
from conduwuit.core.errors import bad_json
from conduwuit.core.ids import UserId
from conduwuit.service.give_way import GiveWay
from conduwuit.service.sliding_sync import config
from conduwuit.service.sliding_sync.patterns import WILDCARD
from conduwuit.service.sliding_sync.service import SlidingSyncService

PATH = f"{CLIENT_PREFIX}/unstable/org.matrix.simplified_msc3575/sync"
MAX_TIMELINE_LIMIT = 1000
MAX_LISTS = 100
MAX_REQUIRED_STATE = 1000
#: MSC4308's extension key, and the most changes one response may ask for (Synapse's
#: list endpoint caps at 512; its extension does not cap).
THREAD_SUBSCRIPTIONS_EXTENSION = "io.element.msc4308.thread_subscriptions"
MAX_THREAD_SUBSCRIPTIONS = 1000


class RoomConfigBody(WireModel):
    required_state: list[list[StrictStr]] = Field(max_length=MAX_REQUIRED_STATE)
    timeline_limit: StrictInt = Field(ge=0, le=MAX_TIMELINE_LIMIT)

    @field_validator("required_state")
    @classmethod
    def _pairs(cls, value: list[list[str]]) -> list[list[str]]:
        if any(len(pair) != 2 for pair in value):
            raise ValueError("each required_state entry is [event type, state key]")
        return value

    def to_config(self) -> config.RoomConfig:
        pairs = frozenset((kind, key) for kind, key in self.required_state)
        return config.RoomConfig(pairs, self.timeline_limit)


class FiltersBody(WireModel):
    is_dm: StrictBool | None = None
    is_encrypted: StrictBool | None = None
    is_invite: StrictBool | None = None
    room_types: list[StrictStr | None] | None = None
    not_room_types: list[StrictStr | None] | None = None
    spaces: list[StrictStr] | None = None
    tags: list[StrictStr] | None = None
    not_tags: list[StrictStr] | None = None
    room_name_like: StrictStr | None = None

    def to_config(self) -> config.ListFilters:
        return config.ListFilters(
            is_dm=self.is_dm,
            is_encrypted=self.is_encrypted,
            is_invite=self.is_invite,
            room_types=None if self.room_types is None else tuple(self.room_types),
            not_room_types=tuple(self.not_room_types or ()),
            spaces=None if self.spaces is None else tuple(self.spaces),
            tags=None if self.tags is None else tuple(self.tags),
            not_tags=tuple(self.not_tags or ()),
            room_name_like=self.room_name_like,
        )


class ListBody(RoomConfigBody):
    ranges: list[list[StrictInt]] = []
    filters: FiltersBody | None = None

    @field_validator("ranges")
    @classmethod
    def _ranges(cls, value: list[list[int]]) -> list[list[int]]:
        for pair in value:
            if len(pair) != 2 or pair[0] < 0 or pair[1] < pair[0]:
                raise ValueError("each range is [start, end] with 0 <= start <= end")
        return value

    def to_list(self) -> config.ListConfig:
        return config.ListConfig(
            tuple((start, end) for start, end in self.ranges),
            self.to_config(),
            (self.filters or FiltersBody()).to_config(),
        )


class ScopeBody(WireModel):
    enabled: StrictBool | None = False
    lists: list[StrictStr] | None = None
    rooms: list[StrictStr] | None = None

    def to_scope(self) -> config.Scope:
        def names(value: list[str] | None) -> tuple[str, ...] | None:
            return None if value is None or WILDCARD in value else tuple(value)

        return config.Scope(bool(self.enabled), names(self.lists), names(self.rooms))


class ToDeviceBody(WireModel):
    enabled: StrictBool | None = False
    limit: StrictInt = Field(default=100, ge=1, le=1000)
    since: StrictStr | None = None

    def to_config(self) -> config.ToDeviceConfig:
        since = None
        if self.since is not None:
            if not self.since.isdigit():
                raise bad_json("extensions.to_device.since is not a next_batch of this server")
            since = int(self.since)
        return config.ToDeviceConfig(bool(self.enabled), self.limit, since)


class ThreadSubscriptionsBody(WireModel):
    """MSC4308 (Synapse's shape: ``enabled``, ``limit`` defaulting to 100)."""

    enabled: StrictBool | None = False
    limit: StrictInt = Field(default=100, ge=1, le=MAX_THREAD_SUBSCRIPTIONS)

    def to_config(self) -> config.ThreadSubscriptionsConfig:
        return config.ThreadSubscriptionsConfig(bool(self.enabled), self.limit)


class ExtensionsBody(WireModel):
    to_device: ToDeviceBody | None = None
    e2ee: ScopeBody | None = None
    account_data: ScopeBody | None = None
    receipts: ScopeBody | None = None
    typing: ScopeBody | None = None
    thread_subscriptions: ThreadSubscriptionsBody | None = Field(
        default=None, alias=THREAD_SUBSCRIPTIONS_EXTENSION
    )

    def to_config(self) -> config.Extensions:
        off = ScopeBody()
        return config.Extensions(
            to_device=(self.to_device or ToDeviceBody()).to_config(),
            e2ee=bool((self.e2ee or off).enabled),
            account_data=(self.account_data or off).to_scope(),
            receipts=(self.receipts or off).to_scope(),
            typing=(self.typing or off).to_scope(),
            thread_subscriptions=(
                self.thread_subscriptions or ThreadSubscriptionsBody()
            ).to_config(),
        )


class SlidingSyncBody(WireModel):
    conn_id: StrictStr | None = Field(default=None, max_length=200)
    lists: dict[StrictStr, ListBody] | None = Field(default=None, max_length=MAX_LISTS)
    room_subscriptions: dict[StrictStr, RoomConfigBody] | None = None
    extensions: ExtensionsBody | None = None

    def to_request(self) -> config.SlidingRequest:
        return config.SlidingRequest(
            conn_id=self.conn_id or "",
            lists={name: body.to_list() for name, body in (self.lists or {}).items()},
            subscriptions={
                room: body.to_config() for room, body in (self.room_subscriptions or {}).items()
            },
            extensions=(self.extensions or ExtensionsBody()).to_config(),
        )


class SlidingSyncHandlers:
    def __init__(self, sliding_sync: SlidingSyncService) -> None:
        self.sliding_sync = sliding_sync

    async def sync(self, request: web.Request) -> web.Response:
        caller = requester(request)
        body = await parse_body(request, SlidingSyncBody)
        reply = await self.sliding_sync.sync(
            UserId.parse(caller.user_id),
            caller.device_id,
            body.to_request(),
            pos=request.query.get("pos"),
            timeout_ms=int_param(request, "timeout", 0),
        )
        return web.Response(body=await encode(reply, GiveWay()), content_type="application/json")

    def routes(self) -> list[Route]:
        return [Route("POST", (PATH,), self.sync, Auth.ACCESS_TOKEN, allow_guests=True)]


def routes(sliding_sync: SlidingSyncService) -> list[Route]:
    return SlidingSyncHandlers(sliding_sync).routes()
