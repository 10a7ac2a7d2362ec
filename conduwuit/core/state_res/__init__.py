"""State resolution: ``resolve(room_version, state_sets, fetch)`` picks the algorithm
the room version uses (v1 for room version 1, v2 after, v2.1 for v12).

State maps are ``(type, state_key) -> event_id``; events come from ``fetch``
(no I/O here: the caller pre-loads or wraps its cache).
"""

from __future__ import annotations

from collections.abc import Sequence

from conduwuit.core.power_levels import StateKey
from conduwuit.core.room_versions import RoomVersion, StateResAlgorithm
from conduwuit.core.state_res.common import FetchEvent, StateMap, StateResolutionError
from conduwuit.core.state_res.v1 import resolve_v1
from conduwuit.core.state_res.v2 import resolve_v2

__all__ = ["FetchEvent", "StateMap", "StateResolutionError", "resolve"]


def resolve(
    room_version: RoomVersion, state_sets: Sequence[StateMap], fetch: FetchEvent
) -> dict[StateKey, str]:
    if room_version.state_res is StateResAlgorithm.V1:
        return resolve_v1(room_version, state_sets, fetch)
    return resolve_v2(room_version, state_sets, fetch)
