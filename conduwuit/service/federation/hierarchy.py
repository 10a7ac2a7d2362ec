"""Space children on other servers (client-server API "Spaces"; server-server API
``GET /_matrix/federation/v1/hierarchy/{roomId}``).

A child room this server is not in is asked of the servers in its ``via`` (the
first ``MAX_VIA`` of them, ours left out), as Synapse does: the first valid answer
wins, a failing server moves on to the next. An answer is the room's summary with
its ``children_state``, the summaries of its children the server could describe,
and the children it says we may not see. Answers are kept ``CACHE_MS`` per (room,
suggested_only), like Synapse's hierarchy cache; failures are not kept, so a room
that becomes accessible shows up on the next request.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from conduwuit.core.event_types import EventType
from conduwuit.service.clock import Clock
from conduwuit.service.federation.caching import ExpiringLru, SingleFlight
from conduwuit.service.federation.client import FederationClient, FederationError
from conduwuit.service.rooms.hierarchy import RemoteSpace

log = logging.getLogger(__name__)

#: Servers of a child's ``via`` asked at most (Synapse's MAX_SERVERS_PER_SPACE).
MAX_VIA = 3
#: How long an answer is reused (Synapse keeps them five minutes).
CACHE_MS = 5 * 60 * 1000
CACHE_ENTRIES = 1000
#: A hierarchy answer holds one level of summaries; more than this is not one.
MAX_ANSWER = 4 * 1024 * 1024


class InvalidAnswer(ValueError):
    pass


def _child_event(event: Any) -> bool:
    return (
        isinstance(event, dict)
        and event.get("type") == EventType.SPACE_CHILD
        and isinstance(event.get("state_key"), str)
        and isinstance(event.get("content"), dict)
    )


def _summary(room: Any, room_id: str | None = None) -> dict[str, Any]:
    if not isinstance(room, dict) or not isinstance(room.get("room_id"), str):
        raise InvalidAnswer("a room without a room_id")
    if room_id is not None and room["room_id"] != room_id:
        raise InvalidAnswer(f"asked for {room_id}, answered {room['room_id']}")
    children_state = room.get("children_state", [])
    if not isinstance(children_state, list):
        raise InvalidAnswer("children_state is not a list")
    return {**room, "children_state": [e for e in children_state if _child_event(e)]}


def parse_answer(room_id: str, answer: Any) -> RemoteSpace:
    """A ``/hierarchy`` answer, checked; ``InvalidAnswer`` if it is not one."""
    if not isinstance(answer, dict):
        raise InvalidAnswer("not an object")
    room = _summary(answer.get("room"), room_id)
    children: dict[str, dict[str, Any]] = {}
    listed = answer.get("children", [])
    for child in listed if isinstance(listed, list) else []:
        try:
            summary = _summary(child)
        except InvalidAnswer:
            continue  # Synapse drops children it cannot read too
        children[summary["room_id"]] = summary
    inaccessible = answer.get("inaccessible_children", [])
    return RemoteSpace(
        room=room,
        children=children,
        inaccessible=frozenset(
            r
            for r in (inaccessible if isinstance(inaccessible, list) else [])
            if isinstance(r, str)
        ),
    )


class RemoteHierarchies:
    def __init__(self, server_name: str, client: FederationClient, clock: Clock) -> None:
        self._server_name = server_name
        self._client = client
        self._clock = clock
        self._cache: ExpiringLru[tuple[str, bool], RemoteSpace] = ExpiringLru(CACHE_ENTRIES, clock)
        self._flight: SingleFlight[tuple[str, bool], RemoteSpace | None] = SingleFlight()

    async def fetch(
        self, room_id: str, via: Sequence[str], suggested_only: bool
    ) -> RemoteSpace | None:
        """The room's hierarchy level from the first of ``via`` that gives it."""
        key = (room_id, suggested_only)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        return await self._flight.run(key, lambda: self._ask(room_id, via, suggested_only))

    async def _ask(
        self, room_id: str, via: Sequence[str], suggested_only: bool
    ) -> RemoteSpace | None:
        servers = [s for s in dict.fromkeys(via) if isinstance(s, str) and s != self._server_name]
        path = f"/_matrix/federation/v1/hierarchy/{quote(room_id, safe='')}"
        query = {"suggested_only": "true" if suggested_only else "false"}
        for server in servers[:MAX_VIA]:
            try:
                answer = await self._client.get(server, path, query=query, max_response=MAX_ANSWER)
                found = parse_answer(room_id, answer)
            except (FederationError, InvalidAnswer) as exc:
                log.info("hierarchy of %s via %s: %s", room_id, server, exc)
                continue
            self._cache.put((room_id, suggested_only), found, self._clock() + CACHE_MS)
            return found
        return None
