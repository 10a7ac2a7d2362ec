"""Client-server API endpoints for rooms, one module per spec area:
creation, sending and state, membership, timeline history, aliases and directory.

``routes(...)`` collects them for the composition root.
"""

from __future__ import annotations

from conduwuit.api.client.rooms import create, directory, membership, read, send
from conduwuit.api.router import Route
from conduwuit.service.federation.queries import FederationQueries
from conduwuit.service.federation.unknown_events import UnknownEvents
from conduwuit.service.filters import Filters
from conduwuit.service.ratelimit import RateLimits
from conduwuit.service.rooms.actions import RoomActions
from conduwuit.service.rooms.delayed_events import DelayedEvents
from conduwuit.service.rooms.directory import Directory
from conduwuit.service.rooms.history import RoomHistory
from conduwuit.service.rooms.membership import Membership
from conduwuit.service.users.shadow_bans import ShadowBans


def routes(
    actions: RoomActions,
    members: Membership,
    history: RoomHistory,
    directory_: Directory,
    filters: Filters,
    public_rooms_without_auth: bool = False,
    *,
    limits: RateLimits,
    remote: FederationQueries | None = None,
    delayed: DelayedEvents,
    shadow_bans: ShadowBans,
    forbidden_directory_servers: frozenset[str] = frozenset(),
    unknown_events: UnknownEvents | None = None,
) -> list[Route]:
    return [
        *create.routes(actions, limits, shadow_bans),
        *send.routes(actions, members, history, limits, delayed, shadow_bans),
        *membership.routes(members, history, limits, shadow_bans),
        *read.routes(history, filters, unknown_events),
        *directory.routes(
            directory_, public_rooms_without_auth, remote, forbidden_directory_servers
        ),
    ]
