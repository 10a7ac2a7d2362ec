"""Client-server API endpoints for rooms, one module per spec area:
creation, sending and state, membership, timeline reads, aliases and directory.

``routes(...)`` collects them for the composition root.
"""

from __future__ import annotations

from conduwuit.api.client.rooms import create, directory, membership, read, send
from conduwuit.api.router import Route
from conduwuit.service.filters import Filters
from conduwuit.service.ratelimit import RateLimits
from conduwuit.service.rooms.directory import Directory
from conduwuit.service.rooms.membership import Membership
from conduwuit.service.rooms.ops import RoomOps
from conduwuit.service.rooms.reads import RoomReads


def routes(
    ops: RoomOps,
    members: Membership,
    reads: RoomReads,
    directory_: Directory,
    filters: Filters,
    public_rooms_without_auth: bool = False,
    *,
    limits: RateLimits,
) -> list[Route]:
    return [
        *create.routes(ops, limits),
        *send.routes(ops, members, reads, limits),
        *membership.routes(members, reads, limits),
        *read.routes(reads, filters),
        *directory.routes(directory_, public_rooms_without_auth),
    ]
