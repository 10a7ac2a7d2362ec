"""Completing a partial-state room once its full state is known (MSC3706 resync).

Given the full state after our join's prev events (from another server's
``/state_ids``, its events fetched and checked by the caller), every event placed
since the join — the join first — is taken again in stream order, as Synapse's
``update_state_for_partial_state_event`` does: the state before it is worked out
anew from its prev events (now on full state), it is checked again against that
state (an event let in on partial state that the full state refuses is taken out of
the timeline and kept as rejected; one rejected stays rejected), and its stored state
is replaced. The room's current state becomes the state after its forward
extremities, the membership indexes follow, the mark is cleared in that batch, and
our users' next /sync sends the room's whole state.

An event whose prev events have no state here (a gap closed with ``/state_ids`` while
partial) keeps the state it was given then, as Synapse leaves such an event.
Everything runs under the room's lock.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence

from conduwuit.core.errors import AuthError, MatrixError
from conduwuit.core.ids import server_of
from conduwuit.core.room_versions import RoomVersion
from conduwuit.service.rooms.build import Extremities
from conduwuit.service.rooms.member_index import MemberIndex
from conduwuit.service.rooms.pipeline import EventPipeline, MissingEventsError, StateIds
from conduwuit.service.rooms.state import to_event

log = logging.getLogger(__name__)


class PartialStateCompletion:
    def __init__(
        self,
        pipeline: EventPipeline,
        extremities: Extremities,
        members: MemberIndex,
        server_name: str,
    ) -> None:
        self._pipeline = pipeline
        self._extremities = extremities
        self._members = members
        self._server_name = server_name

    async def complete(
        self, room_id: str, rv: RoomVersion, prev_states: Mapping[str, StateIds]
    ) -> int:
        """Take the full state in (``prev_states``: the state after each of our join's
        prev events) and clear the room's mark; how many events were refused now."""
        pipeline = self._pipeline
        state, timeline, persister = pipeline.state, pipeline.state.timeline, pipeline.persister
        refused = 0
        async with pipeline.locks.hold(room_id):
            room = pipeline.partial.get(room_id)
            if room is None:
                return 0
            shortroomid = state.short.room(room_id)
            placed = timeline.get_timeline(room.join_event_id)
            events = []
            if placed is not None and shortroomid is not None:
                events = [placed, *timeline.scan(shortroomid, placed[0], backwards=False)]
            redone: set[str] = set()
            for _count, pdu in events:
                event = to_event(pdu, rv)
                await self._redo_rejected(event.prev_event_ids, rv, prev_states, redone)
                try:
                    # Our join's prev events: the state fetched wins over any worked
                    # out here on partial state (history backfilled meanwhile).
                    before = await pipeline.state_after(
                        event.prev_event_ids,
                        rv,
                        prev_states,
                        given_first=event.event_id == room.join_event_id,
                    )
                except MissingEventsError:
                    continue
                try:
                    await pipeline.check(event, rv, before)
                except (AuthError, MatrixError) as exc:
                    log.info("%s refused on the full state of %s: %s", event.event_id, room_id, exc)
                    persister.unplace_rejected(event, before, str(exc))
                    refused += 1
                    continue
                persister.set_state_before(event.event_id, before)
            leaves = self._extremities.get(shortroomid) if shortroomid is not None else []
            await self._redo_rejected(leaves, rv, prev_states, redone)
            try:
                current = await pipeline.state_after(leaves, rv) if leaves else None
            except MissingEventsError:
                current = None
            ours = [u for u in self._members.members(room_id) if server_of(u) == self._server_name]
            log.info(
                "%s: %d events placed again, current state %s (%d entries; given %s)",
                room_id,
                len(events),
                current,
                len(state.state_ids(current or 0)),
                {k: len(v) for k, v in prev_states.items()},
            )
            persister.replace_current(
                room_id,
                current if current is not None else state.current_hash(room_id),
                ours,
                also=functools.partial(pipeline.partial.clear, room_id=room_id),
            )
        return refused

    async def _redo_rejected(
        self,
        event_ids: Sequence[str],
        rv: RoomVersion,
        prev_states: Mapping[str, StateIds],
        redone: set[str],
    ) -> None:
        """Rejected events (out of the timeline) that later events cite, taken again
        too: the state after a rejected event is the one before it, which was
        partial, so that state is worked out again, and an event the full state
        allows is accepted (one refused by its own auth events stays rejected).
        Their own rejected prev events first."""
        pipeline = self._pipeline
        timeline = pipeline.state.timeline
        for event_id in event_ids:
            if event_id in redone or not timeline.is_rejected(event_id):
                continue
            redone.add(event_id)
            pdu = timeline.get(event_id)
            if pdu is None or pipeline.state.hash_before(event_id) is None:
                continue
            event = to_event(pdu, rv)
            await self._redo_rejected(event.prev_event_ids, rv, prev_states, redone)
            try:
                before = await pipeline.state_before(event, rv, prev_states)
            except MissingEventsError:
                continue
            try:
                await pipeline.check(event, rv, before)
            except (AuthError, MatrixError):
                pipeline.persister.set_state_before(event_id, before)
                continue
            # Refused on partial state only (a member it showed left, say): the full
            # state allows it, so it is accepted now, as Synapse's re-check does.
            log.info("%s accepted on the full state of %s", event_id, event.room_id)
            pipeline.persister.accept_rejected(event, before)
