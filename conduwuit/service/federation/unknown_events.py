"""Events a client names that this server does not hold (``GET
/rooms/{roomId}/event/{eventId}`` and ``/context/{eventId}``: a permalink into
history from before this server joined, or from while it was out of the room),
fetched from the room's other servers and placed into our timeline.

The spec only says these endpoints answer 404 for an event not found or not
visible; Synapse answers from what it holds (it never fetches here). We go further,
conservatively:

- Only for a user who may read the whole room (joined, or a world-readable room:
  not up to a leave, what other servers have lies past it), while this server is in
  the room, for a well-formed event ID not in our timeline (a rejected or
  soft-failed event stays a 404; one known only as an outlier, such as the missing
  prev event of a gap, is fetched again and placed like an unknown one).
- Asked of the room's other servers with a joined member (the room ID's server
  first), at most ``MAX_SERVERS``, each within ``REQUEST_TIMEOUT`` s, the whole fetch
  within ``FETCH_DEADLINE`` s. One fetch per room at a time (a second request for
  the same ID waits, then reads the first one's result; waiting counts against the
  same ``FETCH_DEADLINE``, so no request waits longer); an ID that gave nothing is
  not asked for again for ``BACKOFF_BASE_MS`` ms, doubling up to ``BACKOFF_MAX_MS``
  (per room and ID, the ``MAX_REMEMBERED`` latest), so a client repeating an unknown
  ID costs at most one round of requests per backoff.
- The event is checked as every fetched event (``RemoteEvents.fetch_from_any``: the
  ID asked for, the room, format and sizes, hashes and signatures: a content hash
  mismatch gives the redacted copy, as the spec says).
- It must fall into a gap of our timeline (``service.rooms.gaps``, or below the
  oldest event, which is no create event): by depth, above the held event below
  the gap and below the event after it (Synapse orders history by depth; the
  narrowest such gap). Anything else (a branch beside events held here, a lying
  depth) is refused: kept as an outlier it would have no state here, so whether
  the user may see it could not be judged on our own state, and the safe answer
  is 404.
- Before anything is stored, its visibility is judged on the state before it as
  that server tells it (``/state_ids``, the unknown state events fetched and
  checked, not stored): an event the user could not see is refused and nothing is
  kept. Else those events are taken in as outliers (auth-checked) and the event goes
  into the gap through backfill's one path (``Backfill.place``: auth against its
  auth events and the state before it, as ``/timestamp_to_event`` places its
  answer). The client's read is then answered from our timeline like any other:
  visibility on the state we computed for the event is the final judgement (the
  first rested on the other server's word).

Any failure leaves the client's 404 ``M_NOT_FOUND``; nothing unchecked is stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from conduwuit.core import visibility
from conduwuit.core.errors import MatrixError
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import EventId, RoomId, UserId
from conduwuit.core.room_versions import RoomVersion
from conduwuit.service.backoff import Backoff
from conduwuit.service.clock import monotonic_clock
from conduwuit.service.federation.backfill import depth_of, is_create
from conduwuit.service.federation.remote_events import RemoteEvents, history_holders
from conduwuit.service.rooms.history import Access, RoomHistory
from conduwuit.service.rooms.locks import RoomLocks
from conduwuit.service.rooms.timeline import PduJson, pduid, position_of

log = logging.getLogger(__name__)

#: Servers asked for one event at most; seconds each may take; seconds in all.
MAX_SERVERS = 3
REQUEST_TIMEOUT = 5.0
FETCH_DEADLINE = 20.0
#: An ID that gave nothing is asked for again after this long, doubling to the cap.
BACKOFF_BASE_MS = 60_000
BACKOFF_MAX_MS = 24 * 60 * 60 * 1000
#: (room, event ID) failures remembered (the oldest forgotten first).
MAX_REMEMBERED = 10_000
#: Gaps of a room looked at for the event's place at most.
MAX_GAPS = 1000
#: Unknown state and auth-chain events fetched at most to judge and place it.
MAX_STATE_EVENTS = 1000

#: Backfills one event into the gap before the timeline event at a pduid (room ID,
#: the server that gave it, the event, the pduid): federation's ``Backfill.place``.
Place = Callable[[str, str, dict[str, Any], bytes], Awaitable[bool]]


class UnknownEvents:
    def __init__(
        self,
        server_name: str,
        history: RoomHistory,
        remote: RemoteEvents,
        place: Place,
        joined_servers: Callable[[str], Iterable[str]],
    ) -> None:
        self._server_name = server_name
        self._history = history
        self._storage = history.storage
        self._remote = remote
        self._place = place
        self._joined_servers = joined_servers
        self._running = RoomLocks()
        self._backoff = Backoff(
            monotonic_clock, BACKOFF_BASE_MS, BACKOFF_MAX_MS, max_entries=MAX_REMEMBERED
        )

    async def fetch(self, user: UserId, room_id: RoomId, event_id: str) -> bool:
        """Fetch ``event_id`` of the room into our timeline when ``user`` may have it
        asked for (see the module's notes); whether it is in our timeline now. The
        caller reads it again, visibility and all."""
        room = str(room_id)
        timeline = self._storage.timeline
        if not EventId.is_valid(event_id) or self._held(event_id):
            return False
        try:
            access = self._history.access(user, room)
        except MatrixError:
            return False
        servers = set(self._joined_servers(room))
        rv = self._storage.state.room_version(room)
        shortroomid = self._storage.short.room(room)
        if access.until is not None or self._server_name not in servers:
            return False
        others = history_holders(servers - {self._server_name}, room)[:MAX_SERVERS]
        if rv is None or shortroomid is None or not others:
            return False
        key = f"{room}\n{event_id}"
        deadline = time.monotonic() + FETCH_DEADLINE
        asked = False
        try:
            # Waiting for another fetch of the room counts against this one's time.
            async with asyncio.timeout(FETCH_DEADLINE), self._running.hold(room):
                if self._held(event_id):  # the request before this one fetched it
                    return timeline.pdu_id(event_id) is not None
                if self._backoff.retry_at(key) is not None:
                    return False
                asked = True
                placed = await self._fetch(
                    user, access, room, rv, shortroomid, event_id, others, deadline
                )
        except TimeoutError:
            log.info("fetching %s of %s took too long", event_id, room)
            placed = False
        if placed:
            self._backoff.succeeded(key)
        elif asked:
            self._backoff.failed(key)
        return placed

    def _held(self, event_id: str) -> bool:
        """In our timeline, or kept hidden (rejected, soft-failed). An outlier (a
        state or auth event, the missing prev event of a gap) is fetched again and
        placed like an unknown event."""
        timeline = self._storage.timeline
        return timeline.pdu_id(event_id) is not None or timeline.is_hidden(event_id)

    async def _fetch(
        self,
        user: UserId,
        access: Access,
        room: str,
        rv: RoomVersion,
        shortroomid: int,
        event_id: str,
        servers: list[str],
        deadline: float,
    ) -> bool:
        found = await self._remote.fetch_from_any(
            servers, room, event_id, rv, per_server=REQUEST_TIMEOUT, deadline=deadline
        )
        if found is None:
            return False
        server, pdu = found
        gap = self._gap_for(shortroomid, pdu)
        if gap is None:
            log.info("%s of %s fits no gap of our timeline: not taken", event_id, room)
            return False
        if not await self._judged_visible(user, access, server, room, rv, pdu, event_id):
            log.info("%s of %s may not be seen by %s: not taken", event_id, room, user)
            return False
        placed = await self._place(room, server, pdu, gap)
        log.info("%s fetched for %s into %s's timeline: %s", event_id, user, room, placed)
        return placed

    def _gap_for(self, shortroomid: int, pdu: PduJson) -> bytes | None:
        """The pduid of the event after the narrowest gap whose depths hold ``pdu``'s:
        below that event's, not below the held event under the gap's."""
        depth = pdu.get("depth")
        if not isinstance(depth, int):
            return None
        timeline = self._storage.timeline
        keys = list(timeline.gaps.of_room(shortroomid, MAX_GAPS))
        oldest = timeline.oldest(shortroomid)
        if oldest is not None and not is_create(oldest[1]):
            keys.append(pduid(shortroomid, oldest[0]))
        best: tuple[int, bytes] | None = None
        for key in dict.fromkeys(keys):
            upper = timeline.get_timeline_by_pduid(key)
            if upper is None or depth >= depth_of(upper):
                continue
            if best is not None and depth_of(upper) >= best[0]:
                continue
            below = position_of(key).before()
            lower = next(iter(timeline.scan_at(shortroomid, below, True)), None)
            if lower is not None and depth_of(lower[1]) > depth:
                continue
            if lower is not None and not timeline.gaps.missing(key):
                continue  # a closed gap between two held events
            best = (depth_of(upper), key)
        return best[1] if best is not None else None

    async def _judged_visible(
        self,
        user: UserId,
        access: Access,
        server: str,
        room: str,
        rv: RoomVersion,
        pdu: PduJson,
        event_id: str,
    ) -> bool:
        """Whether ``user`` could see ``pdu`` by the state before it as ``server``
        tells it; if so, the state's events (and their auth chain) unknown here are
        taken in as outliers, for placing the event."""
        ids = await self._remote.state_ids_before(server, room, event_id)
        if ids is None:
            return False
        state_ids, chain_ids = ids
        timeline = self._storage.timeline
        unknown = [e for e in dict.fromkeys(state_ids) if not timeline.exists(e)]
        unknown_chain = [
            e for e in dict.fromkeys(chain_ids) if not timeline.exists(e) and e not in unknown
        ]
        if len(unknown) + len(unknown_chain) > MAX_STATE_EVENTS:
            return False
        fetched = await self._remote.fetch_events(server, room, unknown, rv)
        history_visibility: Any = None
        membership: str | None = None
        for state_id in state_ids:
            state_pdu = fetched.get(state_id) or timeline.get(state_id)
            # (Fetched events are of the room; one held here may be of another.)
            if state_pdu is None or timeline.is_rejected(state_id):
                continue
            if state_pdu.get("room_id") != room:
                continue
            content = state_pdu.get("content") or {}
            kind = (state_pdu.get("type"), state_pdu.get("state_key"))
            if kind == (EventType.HISTORY_VISIBILITY, ""):
                history_visibility = content.get("history_visibility")
            elif kind == (EventType.MEMBER, str(user)) and isinstance(
                content.get("membership"), str
            ):
                membership = content["membership"]
        if not visibility.may_see_given(
            pdu, str(user), history_visibility, membership, access.joined
        ):
            return False
        fetched.update(await self._remote.fetch_events(server, room, unknown_chain, rv))
        await self._remote.take_outliers(list(fetched.values()), rv)
        return True
