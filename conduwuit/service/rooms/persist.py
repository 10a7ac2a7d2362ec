"""Persisting one accepted event: everything it changes, in one batch.

The PDU into the timeline (or the outliers, if soft-failed), the state before it,
the new state snapshot, the room's current state (resolved against the previous
current state when the event does not extend it), forward extremities,
membership indexes, relations, an applied redaction and the client transaction,
and what listeners stage for it (push notifications).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from conduwuit.core import state_res
from conduwuit.core.event_types import EventType
from conduwuit.core.events import Event
from conduwuit.core.membership import MembershipState
from conduwuit.core.power_levels import CREATE_KEY, POWER_LEVELS_KEY, PowerLevels
from conduwuit.core.redaction import redact, should_apply_redaction
from conduwuit.core.room_versions import RoomVersion
from conduwuit.core.timeline_pos import TimelinePos
from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import from_u64, u64
from conduwuit.service.notifier import Notifier
from conduwuit.service.rooms.build import Extremities, room_id_of
from conduwuit.service.rooms.member_index import MemberIndex, MembershipChange
from conduwuit.service.rooms.search_index import SearchIndex
from conduwuit.service.rooms.state import RoomState, to_event
from conduwuit.service.rooms.state_store import StateView
from conduwuit.service.rooms.timeline import PduJson, pduid
from conduwuit.service.rooms.transactions import Transactions, Txn

# What ``unsigned`` says about the state an event replaced (``_replaced_state``).
_REPLACED_STATE_KEYS = ("replaces_state", "prev_content", "prev_sender")

# Shown to invited and knocking users (client-server API: "Stripped state").
STRIPPED_STATE_TYPES = (
    EventType.CREATE,
    EventType.NAME,
    EventType.AVATAR,
    EventType.TOPIC,
    EventType.JOIN_RULES,
    EventType.CANONICAL_ALIAS,
    EventType.ENCRYPTION,
)


#: Stages what else an accepted event changes in its own batch: ``(batch, pdu, count,
#: state before)``; not called for soft-failed events (push notifications use it).
PersistListener = Callable[[Batch, PduJson, int, int], None]


def stripped(pdu: Mapping[str, Any]) -> dict[str, Any]:
    return {k: pdu[k] for k in ("type", "state_key", "content", "sender") if k in pdu}


class Persister:
    def __init__(
        self,
        db: Database,
        state: RoomState,
        members: MemberIndex,
        extremities: Extremities,
        notifier: Notifier,
        transactions: Transactions,
    ) -> None:
        self._db = db
        self._state = state
        self._short = state.short
        self._timeline = state.timeline
        self._members = members
        self._extremities = extremities
        self._notifier = notifier
        self._relations = db.map(MAPS.tofrom_relation)
        self._search = SearchIndex(db)
        self._threads = db.map(MAPS.roomid_threads)
        self._thread_latest = db.map(MAPS.threadroot_latest)
        self._transactions = transactions
        self.listeners: list[PersistListener] = []

    def txn_event(self, txn: Txn) -> str | None:
        """The event a client transaction already created, if any."""
        return self._transactions.event_for(txn)

    def persist(
        self,
        event: Event,
        rv: RoomVersion,
        before: int,
        *,
        soft_failed: bool = False,
        txn: Txn | None = None,
        also: Callable[[Batch], None] | None = None,
    ) -> int:
        """Write ``event`` (already checked) and return its stream position;
        ``also`` adds the caller's own writes to the event's batch."""
        room_id = room_id_of(event)
        pdu: PduJson = {**event.pdu, "event_id": event.event_id}
        unsigned = self._replaced_state(event, before, dict(pdu.get("unsigned") or {}))
        with self._db.batch() as b:
            shortroomid = self._short.get_or_create_room(room_id, b)
            se = self._short.get_or_create_event(event.event_id, b)
            count = b.next_count()
            self._state.set_hash_before(b, se, before)
            if also is not None:
                also(b)
            if soft_failed:
                self._timeline.put_outlier(b, pdu, soft_failed=True)
                return count
            after = before
            # Copied only when the event changes state: a message in a room of 20,000
            # members must not copy its state.
            full: Mapping[int, int] = self._state.store.full(before)
            if event.state_key is not None:
                sk = self._short.get_or_create_statekey(event.type, event.state_key, b)
                # The diff alone: O(1) in the size of the state (a view, not a copy).
                after = self._state.store.save_changes(before, {sk: se}, b)
                full = StateView(full, {sk: se}, len(full) + (sk not in full))
            if txn is not None:
                self._transactions.record(b, txn, event.event_id)
            if unsigned:
                pdu["unsigned"] = unsigned
            current = self._state.current_hash(room_id)
            leaves = self._extremities.get(shortroomid)
            if current == before or not current:
                new_current, new_full = after, full
                # Only the event's own state key can have changed: no full diff.
                changed_keys = {sk: se} if event.state_key is not None else {}
            else:
                new_full = self._resolve(rv, current, event, before, b)
                new_current = self._state.store.save(current, new_full, b)
                old_full = self._state.store.full(current)
                changed_keys = {k: v for k, v in new_full.items() if old_full.get(k) != v}
            self._state.set_current(b, room_id, new_current)
            new_leaves = self._extremities.replace(
                b, shortroomid, [e for e in event.prev_event_ids if e in leaves], event.event_id
            )
            users, _ = self._update_members(b, room_id, event, se, changed_keys, new_full, count)
            self._relate(b, event, se, shortroomid, count)
            self._apply_redaction(b, event, rv, before)
            self._timeline.put_timeline(b, pduid(shortroomid, count), pdu)
            self._search.index(b, shortroomid, pduid(shortroomid, count), pdu)
            for listener in self.listeners:
                listener(b, pdu, count, before)
            # Wakes long-polls only once ``count`` is visible (every earlier count in).
            b.after_commit(lambda: self._notifier.notify(count, rooms=[room_id], users=users))
        self._extremities.remember(shortroomid, new_leaves)
        return count

    def persist_backfilled(
        self, event: Event, rv: RoomVersion, before: int, position: int | TimelinePos
    ) -> None:
        """An older event fetched from another server (backfill), already checked, at
        ``position`` (negative, below the room's oldest event, or a sub-position in a
        gap, ``core.timeline_pos``): into the timeline with
        the state before it, its relations, search terms and an applied redaction.
        History changes neither the current state, the forward extremities nor the
        memberships, pushes nothing and wakes no /sync (as Synapse's backfilled
        events)."""
        room_id = room_id_of(event)
        pdu: PduJson = {**event.pdu, "event_id": event.event_id}
        with self._db.batch() as b:
            shortroomid = self._short.get_or_create_room(room_id, b)
            se = self._short.get_or_create_event(event.event_id, b)
            self._state.set_hash_before(b, se, before)
            unsigned = self._replaced_state(event, before, dict(pdu.get("unsigned") or {}))
            if unsigned:
                pdu["unsigned"] = unsigned
            self._relate(b, event, se, shortroomid, None)
            self._apply_redaction(b, event, rv, before)
            self._timeline.put_timeline(b, pduid(shortroomid, position), pdu)
            self._search.index(b, shortroomid, pduid(shortroomid, position), pdu)

    def _replaced_state(
        self, event: Event, before: int, unsigned: dict[str, Any]
    ) -> dict[str, Any]:
        """``unsigned`` with what a state event replaces (``replaces_state``,
        ``prev_content``, ``prev_sender``) added. These keys are always this server's:
        the same keys in a received event's ``unsigned`` are dropped, never served."""
        for key in _REPLACED_STATE_KEYS:
            unsigned.pop(key, None)
        if event.state_key is None:
            return unsigned
        previous = self._state.pdu_at(before, event.type, event.state_key)
        if previous is not None:
            unsigned["replaces_state"] = previous["event_id"]
            unsigned["prev_content"] = previous.get("content", {})
            unsigned["prev_sender"] = previous.get("sender")
        return unsigned

    def persist_state(
        self, room_id: str, events: list[Event], state_ids: Mapping[tuple[str, str], str]
    ) -> int:
        """A room's state as another server gave it (send_join), in one batch: the
        events (already checked) as outliers, the snapshot of ``state_ids`` as the
        room's current state, and the membership indexes of its member events.
        Returns the snapshot, on which the caller persists the join event."""
        with self._db.batch() as b:
            self._short.get_or_create_room(room_id, b)
            for event in events:
                self._short.get_or_create_event(event.event_id, b)
                if not self._timeline.exists(event.event_id):
                    self._timeline.put_outlier(b, {**event.pdu, "event_id": event.event_id})
            full = {
                self._short.get_or_create_statekey(t, k, b): self._short.get_or_create_event(e, b)
                for (t, k), e in state_ids.items()
            }
            snapshot = self._state.store.save(0, full, b)
            self._state.set_current(b, room_id, snapshot)
            count = b.next_count()
            by_id = {e.event_id: e for e in events}
            changes = [
                MembershipChange(
                    room_id,
                    state_key,
                    str(by_id[e].content.get("membership", MembershipState.LEAVE)),
                    count,
                )
                for (t, state_key), e in state_ids.items()
                if t == EventType.MEMBER and e in by_id
            ]
            self._members.apply(b, changes)
        return snapshot

    # -- a partial-state room's resync (service/rooms/unpartial.py) ----------------------
    def set_state_before(self, event_id: str, before: int) -> None:
        """The state before a placed event, worked out again on the full state."""
        se = self._short.event(event_id)
        if se is None:
            return
        with self._db.batch() as b:
            self._state.set_hash_before(b, se, before)

    def unplace_rejected(self, event: Event, before: int, reason: str) -> None:
        """An event taken in on partial state that the full state refuses: out of the
        timeline, kept as rejected with the state before it (Synapse rejects it then;
        it is no longer served)."""
        room_id = room_id_of(event)
        with self._db.batch() as b:
            count = b.next_count()
            se = self._short.get_or_create_event(event.event_id, b)
            self._state.set_hash_before(b, se, before)
            self._timeline.unplace(b, event.event_id)
            self._timeline.put_rejected(b, {**event.pdu, "event_id": event.event_id}, reason)
            b.after_commit(lambda: self._notifier.notify(count, rooms=[room_id]))

    def accept_rejected(self, event: Event, before: int) -> int:
        """An event refused on partial state that the full state allows: into the
        timeline now (at the next position), with the state before it (Synapse clears
        its rejection then). Returns its position."""
        room_id = room_id_of(event)
        pdu: PduJson = {**event.pdu, "event_id": event.event_id}
        with self._db.batch() as b:
            shortroomid = self._short.get_or_create_room(room_id, b)
            se = self._short.get_or_create_event(event.event_id, b)
            count = b.next_count()
            self._state.set_hash_before(b, se, before)
            unsigned = self._replaced_state(event, before, dict(pdu.get("unsigned") or {}))
            if unsigned:
                pdu["unsigned"] = unsigned
            self._timeline.unreject(b, event.event_id)
            self._timeline.put_timeline(b, pduid(shortroomid, count), pdu)
            self._search.index(b, shortroomid, pduid(shortroomid, count), pdu)
            b.after_commit(lambda: self._notifier.notify(count, rooms=[room_id]))
        return count

    def replace_current(
        self,
        room_id: str,
        snapshot: int,
        rejoined: list[str],
        also: Callable[[Batch], None] | None = None,
    ) -> int:
        """The room's current state becomes ``snapshot`` (the full state after a
        partial-state resync), in one batch: the membership indexes of the member
        events that changed, and ``rejoined`` (our users) joined again at this stream
        position, so their next /sync takes the room as newly joined and sends its
        whole state (Synapse's sync does so for a room un-partial-stated since the
        token). ``also`` adds the caller's writes. Returns the stream position."""
        current = self._state.current_hash(room_id)
        old_full = self._state.store.full(current) if current else {}
        new_full = dict(self._state.store.full(snapshot))
        changed = {k: v for k, v in new_full.items() if old_full.get(k) != v}
        with self._db.batch() as b:
            count = b.next_count()
            self._state.set_current(b, room_id, snapshot)
            users, again = self._update_members(
                b, room_id, None, -1, changed, new_full, count, rejoined
            )
            if also is not None:
                also(b)
            woken = [*users, *again]
            b.after_commit(lambda: self._notifier.notify(count, rooms=[room_id], users=woken))
        return count

    def persist_rejected(self, event: Event, before: int | None, reason: str) -> None:
        """A received event the auth rules refused: kept, with the state before it
        when known, so that events citing it can be placed or refused; never served."""
        with self._db.batch() as b:
            se = self._short.get_or_create_event(event.event_id, b)
            if before is not None:
                self._state.set_hash_before(b, se, before)
            self._timeline.put_rejected(b, {**event.pdu, "event_id": event.event_id}, reason)

    def persist_outlier(self, event: Event) -> None:
        """An accepted event outside the timeline (an auth event fetched for another)."""
        with self._db.batch() as b:
            self._short.get_or_create_event(event.event_id, b)
            self._timeline.put_outlier(b, {**event.pdu, "event_id": event.event_id})

    def persist_out_of_band(
        self, event: Event, room_state: list[dict[str, Any]] | None = None
    ) -> int:
        """A member event of one of our users in a room this server is not in (an
        invite received, its rejection, a knock through another server): the event as
        an outlier and the user's membership, with what they are shown of the room —
        ``room_state`` (stripped) and the event itself with its ID, as Synapse puts the
        full invite event in ``invite_state`` (its "out-of-band memberships").
        Returns the stream position."""
        user = str(event.state_key)
        membership = str(event.content.get("membership", MembershipState.LEAVE))
        shown = [*(room_state or []), {**stripped(event.pdu), "event_id": event.event_id}]
        with self._db.batch() as b:
            count = b.next_count()
            self._short.get_or_create_event(event.event_id, b)
            self._timeline.put_outlier(b, {**event.pdu, "event_id": event.event_id})
            change = MembershipChange(room_id_of(event), user, membership, count, shown)
            self._members.apply(b, [change])
            b.after_commit(lambda: self._notifier.notify(count, users=[user]))
        return count

    def _resolve(
        self,
        rv: RoomVersion,
        current: int,
        event: Event,
        before: int,
        b: Batch,
    ) -> dict[int, int]:
        """The room's new current state when an event forks off an older state."""
        cache: dict[str, Event | None] = {event.event_id: event}

        def fetch(event_id: str) -> Event | None:
            if event_id not in cache:
                pdu = self._timeline.get(event_id)
                cache[event_id] = to_event(pdu, rv) if pdu is not None else None
            return cache[event_id]

        after_ids = self._state.state_ids(before)
        if event.state_key is not None:
            after_ids[(event.type, event.state_key)] = event.event_id
        resolved = state_res.resolve(rv, [self._state.state_ids(current), after_ids], fetch)
        full: dict[int, int] = {}
        for (event_type, state_key), event_id in resolved.items():
            sk = self._short.get_or_create_statekey(event_type, state_key, b)
            se = self._short.event_in(event_id, b)
            if se is not None:
                full[sk] = se
        return full

    def _pdu_of(self, se: int, event: Event | None, own: int) -> PduJson | None:
        if se == own and event is not None:
            return {**event.pdu, "event_id": event.event_id}
        event_id = self._short.event_id(se)
        return self._timeline.get(event_id) if event_id else None

    def _update_members(
        self,
        b: Batch,
        room_id: str,
        event: Event | None,
        own: int,
        changed_keys: Mapping[int, int],
        new: Mapping[int, int],
        count: int,
        rejoined: Sequence[str] = (),
    ) -> tuple[list[str], list[str]]:
        """Move members whose state changed (``changed_keys`` of the new current state),
        and join ``rejoined`` again unless their state changed; (the users whose state
        changed, the users joined again). One ``apply`` for all: it reads the counts
        from the database, so a second one in the same batch would overwrite the
        first one's counts with stale ones."""
        changed: dict[str, PduJson] = {}
        for sk, se in changed_keys.items():
            if se == own and event is not None and event.state_key is not None:
                event_type, state_key = event.type, event.state_key
            else:
                event_type, state_key = self._short.statekey_of(sk)
            if event_type != EventType.MEMBER:
                continue
            found = self._pdu_of(se, event, own)
            if found is not None:
                changed[state_key] = found
        changes = []
        for user_id, member in changed.items():
            membership = str((member.get("content") or {}).get("membership", MembershipState.LEAVE))
            strip = None
            if membership in (MembershipState.INVITE, MembershipState.KNOCK):
                strip = []
                for t in STRIPPED_STATE_TYPES:
                    short_key = self._short.statekey(t, "")
                    found = (
                        self._pdu_of(new[short_key], event, own)
                        if short_key is not None and short_key in new
                        else None
                    )
                    if found is not None:
                        strip.append(stripped(found))
                strip.append(stripped(member))
            changes.append(MembershipChange(room_id, user_id, membership, count, strip))
        again = [u for u in rejoined if u not in changed]
        changes.extend(MembershipChange(room_id, u, MembershipState.JOIN, count) for u in again)
        self._members.apply(b, changes)
        return list(changed), again

    def _relate(
        self,
        b: Batch,
        event: Event,
        se: int,
        shortroomid: int,
        count: int | None,
    ) -> None:
        """The relation edge; a thread's latest activity too, unless ``count`` is None
        (backfilled history is never a thread's latest activity)."""
        relates = event.content.get("m.relates_to")
        if not isinstance(relates, dict):
            return
        target = relates.get("event_id")
        if isinstance(target, str) and target != event.event_id:
            parent = self._timeline.get(target)
            if parent is not None and parent.get("room_id") != event.room_id:
                return  # relations never cross rooms (a federated event may try)
            te = self._short.get_or_create_event(target, b)
            b.put(self._relations, u64(te) + u64(se), b"")
            if relates.get("rel_type") == "m.thread" and count is not None:
                old = self._thread_latest.get(target.encode())
                if old is not None:
                    b.delete(self._threads, u64(shortroomid) + old + target.encode())
                b.put(self._threads, u64(shortroomid) + u64(count) + target.encode(), b"")
                b.put(self._thread_latest, target.encode(), u64(count))

    def _apply_redaction(self, b: Batch, event: Event, rv: RoomVersion, before: int) -> None:
        target_id = event.redacts
        if target_id is None:
            return
        target = self._timeline.get(target_id)
        if target is None or target.get("room_id") != event.room_id:
            return
        # v3+ "Handling redactions": the auth rules let any redaction in; it is applied
        # only if the redacter may redact others' events or is on the sender's server.
        if not rv.special_case_redaction_auth:
            auth = self._state.auth_state(before, [CREATE_KEY, POWER_LEVELS_KEY], rv)
            levels = PowerLevels(auth, rv)
            if not should_apply_redaction(
                event.sender,
                levels.user_level(event.sender),
                levels.named_level("redact"),
                str(target.get("sender", "")),
            ):
                return
        relates = target.get("content", {}).get("m.relates_to")
        if isinstance(relates, dict) and isinstance(relates.get("event_id"), str):
            te = self._short.event(relates["event_id"])
            se = self._short.event(target_id)
            if te is not None and se is not None:
                b.delete(self._relations, u64(te) + u64(se))
        target_pduid = self._timeline.pdu_id(target_id)
        if target_pduid is not None:
            self._search.unindex(b, from_u64(target_pduid[:8]), target_pduid, target)
        # Drops every field the algorithm does not keep, "_txn" of old records too.
        redacted = redact(target, rv)
        redacted["event_id"] = target_id
        redacted["unsigned"] = {"redacted_because": {**event.pdu, "event_id": event.event_id}}
        self._timeline.replace(b, target_id, redacted)
