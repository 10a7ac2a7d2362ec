"""What a sliding sync request asks for, as plain values (the api layer parses the
JSON body into these).

MSC4186: ``lists`` (named, with ``ranges`` and ``filters``) and ``room_subscriptions``
both carry a room config (``required_state``, ``timeline_limit``); a room that several
of them select gets the union of their ``required_state`` and the largest limit, as
in Synapse (``RoomSyncConfig.combine_room_sync_config``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conduwuit.service.sliding_sync.patterns import LAZY

StateKeyPattern = tuple[str, str]


@dataclass(frozen=True)
class RoomConfig:
    required_state: frozenset[StateKeyPattern] = frozenset()
    timeline_limit: int = 0

    def merge(self, other: RoomConfig) -> RoomConfig:
        return RoomConfig(
            self.required_state | other.required_state,
            max(self.timeline_limit, other.timeline_limit),
        )

    @property
    def lazy_members(self) -> bool:
        return ("m.room.member", LAZY) in self.required_state


@dataclass(frozen=True)
class ListFilters:
    """A list's ``filters``; ``None`` means "not filtered on"."""

    is_dm: bool | None = None
    is_encrypted: bool | None = None
    is_invite: bool | None = None
    #: Room types wanted; ``None`` inside stands for rooms without a type.
    room_types: tuple[str | None, ...] | None = None
    not_room_types: tuple[str | None, ...] = ()
    #: Spaces whose children (``m.space.child``) the list keeps.
    spaces: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    not_tags: tuple[str, ...] = ()
    #: Rooms whose computed name contains this, ignoring case.
    room_name_like: str | None = None


@dataclass(frozen=True)
class ListConfig:
    ranges: tuple[tuple[int, int], ...] = ()
    room: RoomConfig = field(default_factory=RoomConfig)
    filters: ListFilters = field(default_factory=ListFilters)


@dataclass(frozen=True)
class Scope:
    """An extension's ``lists`` and ``rooms``: ``None`` is every list (every
    subscription), as ``["*"]`` or leaving the field out means (Synapse's default)."""

    enabled: bool = False
    lists: tuple[str, ...] | None = None
    rooms: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ToDeviceConfig:
    enabled: bool = False
    limit: int = 100
    since: int | None = None


@dataclass(frozen=True)
class ThreadSubscriptionsConfig:
    """MSC4308's extension: at most ``limit`` of the newest subscription changes."""

    enabled: bool = False
    limit: int = 100


@dataclass(frozen=True)
class Extensions:
    to_device: ToDeviceConfig = field(default_factory=ToDeviceConfig)
    e2ee: bool = False
    account_data: Scope = field(default_factory=Scope)
    receipts: Scope = field(default_factory=Scope)
    typing: Scope = field(default_factory=Scope)
    thread_subscriptions: ThreadSubscriptionsConfig = field(
        default_factory=ThreadSubscriptionsConfig
    )


@dataclass(frozen=True)
class SlidingRequest:
    conn_id: str = ""
    lists: dict[str, ListConfig] = field(default_factory=dict)
    subscriptions: dict[str, RoomConfig] = field(default_factory=dict)
    extensions: Extensions = field(default_factory=Extensions)
