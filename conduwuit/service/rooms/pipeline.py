"""The one event path (DESIGN.md "One event path").

Local events: ``create_local`` builds on the current state, then runs ``check`` and
``persist``. Received events (federation, later backfill): ``receive`` verifies
hashes and signatures through a callback, works out the state before the event
from its prev_events, then runs the same ``check`` and ``persist``, with the
soft-fail check against the current state in between. A received event the auth
rules refuse is kept as rejected (with the state before it): never served, it
changes no state as a prev event, and an event citing it as an auth event is
rejected too. Auth events fetched for another event go through
``receive_outlier`` (auth rules against their own auth events only).

Both run under the room's lock (``RoomLocks``) from reading the state they build
on to the commit, so they may ``await`` in between (verification, state
resolution in a thread, later fetches over federation) without a second event of
the room being built on the same prev_events.

``check`` is the spec's receive checks 1-6 (server-server API "Checks performed
on receipt of a PDU"): format and size, auth events cited correctly, auth against
the auth events, auth against the state before the event.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from conduwuit.core import auth_rules, state_res
from conduwuit.core.errors import AuthError, ErrCode, MatrixError, bad_json
from conduwuit.core.event_types import EventType
from conduwuit.core.events import Event, EventFormatError, OversizedKeyError, validate_pdu
from conduwuit.core.power_levels import CREATE_KEY, StateKey
from conduwuit.core.room_versions import RoomVersion
from conduwuit.core.timeline_pos import TimelinePos
from conduwuit.db import Database
from conduwuit.service.rooms.build import EventBuilder, NewEvent, room_id_of
from conduwuit.service.rooms.locks import RoomLocks
from conduwuit.service.rooms.partial_state import PartialRoom, PartialStateRooms
from conduwuit.service.rooms.persist import Persister
from conduwuit.service.rooms.state import RoomState, to_event
from conduwuit.service.rooms.transactions import Txn


class JoinStateError(Exception):
    """A send_join response without a usable state (no valid create event)."""


class MissingEventsError(Exception):
    """A received event cites prev or auth events this server does not have yet."""

    def __init__(self, event_ids: list[str]) -> None:
        super().__init__(f"missing events: {', '.join(event_ids)}")
        self.event_ids = event_ids


def _format_error(exc: EventFormatError) -> MatrixError:
    if "larger than" in str(exc):
        return MatrixError(ErrCode.TOO_LARGE, f"Event is too large: {exc}")
    return bad_json(f"Invalid event: {exc}")


def _validate_received(pdu: dict[str, Any], rv: RoomVersion) -> str | None:
    """Format checks of a PDU from another server: ``MatrixError`` if it may not be
    kept; the reason to keep it as rejected when only a key is oversized in bytes
    (``OversizedKeyError``: the spec's byte limit wins, the event is not accepted,
    but it stays in the DAG as Synapse keeps it); None if it is well formed."""
    try:
        validate_pdu(pdu, rv)
    except OversizedKeyError as exc:
        return f"Event is too large: {exc}"
    except EventFormatError as exc:
        raise _format_error(exc) from None
    return None


def _auth_keys(event: Event, rv: RoomVersion) -> list[StateKey]:
    """The state the auth rules read; v12 does not cite the create event but needs it."""
    keys = auth_rules.auth_types_for_event(event, rv)
    return keys if CREATE_KEY in keys else [CREATE_KEY, *keys]


#: Another server's signature on a local event before it is persisted (an invite of
#: one of its users): given the checked event, returns the PDU to persist (the same
#: event with that server's signature added); raises to refuse.
Countersign = Callable[[Event, RoomVersion, int], Awaitable[dict[str, Any]]]

#: A room state as event IDs by (type, state key).
StateIds = dict[tuple[str, str], str]

#: A server policy on local events beyond the auth rules (a suspended sender,
#: core/suspension.py): given the built event and a way to load another event of
#: the room; raises to refuse before anything is written.
LocalCheck = Callable[[Event, Callable[[str], Event | None]], None]

# Checks hashes and signatures of a received PDU; raises. Federation's is async (it
# may fetch keys), so an awaitable result is awaited.
Verify = Callable[[dict[str, Any]], Awaitable[None] | None]


class EventPipeline:
    def __init__(
        self,
        db: Database,
        state: RoomState,
        builder: EventBuilder,
        persister: Persister,
        locks: RoomLocks,
        *,
        partial: PartialStateRooms | None = None,
    ) -> None:
        self._db = db
        self.state = state
        self.builder = builder
        self.persister = persister
        self.locks = locks
        #: Run on every local event before the auth rules (set by the composition root).
        self.local_checks: list[LocalCheck] = []
        self.partial = partial if partial is not None else PartialStateRooms(db)

    # -- the shared checks -------------------------------------------------------------
    def _load(self, event_id: str, rv: RoomVersion) -> Event | None:
        pdu = self.state.timeline.get(event_id)
        return to_event(pdu, rv) if pdu is not None else None

    async def check(
        self, event: Event, rv: RoomVersion, before: int, *, against_state: bool = True
    ) -> None:
        """Raise ``MatrixError`` (format) or ``AuthError`` unless the event may enter.

        Async because fetching unknown auth events over federation will happen here;
        the caller holds the room's lock. ``against_state=False``: the state before the
        event is partial (a partial-state join), so where it lacks an entry the event's
        own auth event stands in, as Synapse does then; the resync checks the event
        again against the full state.
        """
        try:
            validate_pdu(dict(event.pdu), rv)
        except EventFormatError as exc:
            raise _format_error(exc) from None
        if event.type == EventType.CREATE and event.state_key == "":
            auth_rules.check(event, {}, rv)
            return
        auth_events = []
        for event_id in event.auth_event_ids:
            found = self._load(event_id, rv)
            if found is None:
                raise AuthError(f"auth event {event_id} is unknown")
            self._not_rejected(event_id)
            auth_events.append(found)
        auth_rules.check_auth_events(event, auth_events, rv)
        auth_map = {(e.type, e.state_key or ""): e for e in auth_events}
        if rv.room_id_from_create_event:
            # v12: the create event is implied by the room ID, not cited.
            create = self._load("$" + (event.room_id or "!")[1:], rv)
            if create is not None:
                auth_map[(EventType.CREATE, "")] = create
        auth_rules.check(event, auth_map, rv)
        state_auth = self.state.auth_state(before, _auth_keys(event, rv), rv)
        if not against_state:
            state_auth = await self._partial_auth_state(state_auth, auth_map, rv)
        auth_rules.check(event, state_auth, rv)

    async def _partial_auth_state(
        self, known: dict[StateKey, Event], cited: dict[StateKey, Event], rv: RoomVersion
    ) -> dict[StateKey, Event]:
        """The state to check an event against when the state before it is partial:
        as Synapse's ``_check_event_auth`` does then, the state known here resolved
        with the event's own auth events (state resolution), so the gaps (members the
        partial state lacks) are filled from them and a membership the partial state
        got wrong (a kick let in for want of the kicker's leave) does not refuse what
        the event's auth events allow. Where they do not disagree the union is the
        resolution, and the resolution's walk of the auth chains is skipped."""
        if all(known[k].event_id == e.event_id for k, e in cited.items() if k in known):
            return {**cited, **known}
        sets = [
            {k: e.event_id for k, e in known.items()},
            {k: e.event_id for k, e in cited.items()},
        ]
        # Off the event loop, as the resolution of a fork (see ``state_after``).
        resolved = await asyncio.to_thread(state_res.resolve, rv, sets, lambda i: self._load(i, rv))
        out: dict[StateKey, Event] = {}
        for key, event_id in resolved.items():
            found = self._load(event_id, rv)
            if found is not None:
                out[key] = found
        return out

    def _not_rejected(self, auth_event_id: str) -> None:
        """An event whose auth event was rejected is rejected too (server-server API:
        "Rejection")."""
        if self.state.timeline.is_rejected(auth_event_id):
            raise AuthError(f"auth event {auth_event_id} was rejected")

    def soft_fails(self, event: Event, rv: RoomVersion, current: int) -> bool:
        """Check 6: an event allowed by its past but not by the current state is kept
        out of the timeline and current state."""
        if event.type == EventType.CREATE:
            return False
        try:
            auth_rules.check(event, self.state.auth_state(current, _auth_keys(event, rv), rv), rv)
        except AuthError:
            return True
        return False

    # -- local events --------------------------------------------------------------------
    async def create_local(
        self,
        new: NewEvent,
        sender: str,
        room_id: str | None,
        rv: RoomVersion,
        txn: Txn | None = None,
        *,
        held: bool = False,
        countersign: Countersign | None = None,
    ) -> Event:
        """Build, check and persist a local event under the room's lock. Refused
        events change nothing.

        ``held``: the caller already holds ``locks.hold(room_id)`` (room creation
        keeps it across the initial events). ``room_id=None`` is the create event of
        a version that derives the room ID from it: nothing can name that room
        before the event is persisted, so there is nothing to lock.
        """
        if room_id is None:
            return await self._create_locked(new, sender, None, rv, txn, countersign)
        if held:
            if not self.locks.held(room_id):
                raise RuntimeError(f"create_local(held=True) without the lock of {room_id}")
            return await self._create_locked(new, sender, room_id, rv, txn, countersign)
        async with self.locks.hold(room_id):
            return await self._create_locked(new, sender, room_id, rv, txn, countersign)

    async def check_local(self, new: NewEvent, sender: str, room_id: str, rv: RoomVersion) -> None:
        """Raise unless ``new`` would be accepted on the room's current state now;
        nothing is written (delayed events are checked when scheduled, MSC4140)."""
        before = self.state.current_hash(room_id)
        event = self.builder.build(new, sender, room_id, rv, before)
        self._check_local(event, rv)
        await self.check(event, rv, before)

    def _check_local(self, event: Event, rv: RoomVersion) -> None:
        for local_check in self.local_checks:
            local_check(event, lambda event_id: self._load(event_id, rv))

    async def _create_locked(
        self,
        new: NewEvent,
        sender: str,
        room_id: str | None,
        rv: RoomVersion,
        txn: Txn | None,
        countersign: Countersign | None = None,
    ) -> Event:
        if txn is not None:
            # The same transaction sent twice at once: the second waited for the lock
            # and gets the first one's event (callers check earlier without the lock).
            done = self.persister.txn_event(txn)
            existing = self._load(done, rv) if done is not None else None
            if existing is not None:
                return existing
        before = self.state.current_hash(room_id) if room_id is not None else 0
        event = self.builder.build(new, sender, room_id, rv, before)
        self._check_local(event, rv)
        await self.check(event, rv, before)
        if countersign is not None:
            signed = Event(await countersign(event, rv, before), rv)
            if signed.event_id != event.event_id or signed.content != event.content:
                raise MatrixError(
                    ErrCode.UNKNOWN, "The other server returned a different event", status=502
                )
            event = signed
        self.persister.persist(event, rv, before, txn=txn)
        return event

    # -- received events -----------------------------------------------------------------
    async def state_before(
        self, event: Event, rv: RoomVersion, given: Mapping[str, StateIds] | None = None
    ) -> int:
        """The snapshot before a received event: the state after its prev_events,
        resolved if they differ; for a prev event not placed here, the state after it
        from ``given``. The caller holds the room's lock."""
        return await self.state_after(event.prev_event_ids, rv, given)

    async def state_after(
        self,
        prev_ids: Sequence[str],
        rv: RoomVersion,
        given: Mapping[str, StateIds] | None = None,
        *,
        given_first: bool = False,
    ) -> int:
        """The snapshot after the events ``prev_ids`` (resolved if they differ), as
        ``state_before`` works it out for an event citing them. ``given_first``: the
        state in ``given`` wins over a state stored here (worked out on partial state)."""
        afters: list[int] = []
        for prev_id in prev_ids:
            before = self.state.hash_before(prev_id)
            prev = self._load(prev_id, rv)
            if (before is None or prev is None or given_first) and given and prev_id in given:
                afters.append(self._save_ids(0, dict(given[prev_id])))
                continue
            if before is None or prev is None:
                raise MissingEventsError([prev_id])
            # A rejected event changes no state: the state after it is the one before.
            if prev.state_key is None or self.state.timeline.is_rejected(prev_id):
                afters.append(before)
            else:
                afters.append(self._after(prev, before))
        distinct = sorted(set(afters))
        if not distinct:
            return 0
        if len(distinct) == 1:
            return distinct[0]
        states = [self.state.state_ids(h) for h in distinct]
        # Resolution of a fork can walk large auth chains: off the event loop. The
        # worker only reads events by ID (RocksDB point reads are thread-safe) and
        # writes nothing; what it reads cannot change meanwhile, since every write to
        # this room's events happens under the lock the caller holds.
        resolved = await asyncio.to_thread(
            state_res.resolve, rv, states, lambda i: self._load(i, rv)
        )
        return self._save_ids(distinct[0], resolved)

    # Snapshots are content-addressed, so saving one ahead of the event's own batch
    # leaves at worst an unused snapshot if the event is then refused.
    def _after(self, prev: Event, before: int) -> int:
        changes = self.state.changes_after(prev)
        with self._db.batch() as b:
            return self.state.store.save_changes(before, changes, b)

    def _save_ids(self, parent: int, ids: dict[tuple[str, str], str]) -> int:
        short = self.state.short
        with self._db.batch() as b:
            full = {}
            for (event_type, state_key), event_id in ids.items():
                se = short.event(event_id)
                if se is not None:
                    full[short.get_or_create_statekey(event_type, state_key, b)] = se
            return self.state.store.save(parent, full, b)

    async def receive(
        self,
        pdu: dict[str, Any],
        rv: RoomVersion,
        verify: Verify,
        *,
        prev_states: Mapping[str, StateIds] | None = None,
        position: int | TimelinePos | None = None,
        reject_missing_auth: bool = False,
    ) -> Event:
        """Take a PDU from another server through the same checks and persistence.

        ``verify`` checks hashes and signatures (it raises; key fetching is the
        federation layer's business); it may be async. Raises ``MissingEventsError``
        when the caller must fetch prev/auth events first, ``AuthError`` when the
        event is rejected.

        ``prev_states``: the state after prev events this server cannot have or place,
        as another server gave it (``/state_ids``, server-server API: "the receiving
        server can request the state at the missing prev events"). ``position``: the event is
        history fetched from another server (backfill), to be placed there in the
        timeline; it is not checked against the current state (that is for new
        events) and changes nothing current (``Persister.persist_backfilled``); an
        event known only as an outlier (a state event of a send_join answer) takes
        its place in the timeline then. ``reject_missing_auth``: the caller tried to
        fetch the unknown auth events; an event citing one still unknown is kept as
        rejected (with the state before it when that is known), as Synapse rejects
        an event whose auth events cannot be had.
        """
        oversized = _validate_received(pdu, rv)
        event = Event(pdu, rv)
        room_id = room_id_of(event)
        async with self.locks.hold(room_id):
            verified = verify(pdu)
            if inspect.isawaitable(verified):
                await verified
            # An event known only as an outlier (fetched as another's auth event or
            # state) is placed now that it arrives as a new or backfilled event, as
            # Synapse "de-outliers" it (Complement TestPartialStateJoin "Resync
            # completes even when events arrive before their prev_events").
            if self._known(event.event_id, in_timeline=True):
                return event
            given = prev_states or {}
            exists = self.state.timeline.exists
            missing_auth = [e for e in event.auth_event_ids if not exists(e)]
            missing = [
                *missing_auth,
                *(e for e in event.prev_event_ids if not exists(e) and e not in given),
            ]
            if missing_auth and reject_missing_auth:
                reason = f"auth events unknown: {', '.join(missing_auth[:5])}"
                before_or_none: int | None = None
                if len(missing) == len(missing_auth):
                    try:
                        before_or_none = await self.state_before(event, rv, given)
                    except MissingEventsError:
                        pass
                self.persister.persist_rejected(event, before_or_none, reason)
                raise AuthError(reason)
            if missing:
                raise MissingEventsError(missing)
            before = await self.state_before(event, rv, given)
            # A partial-state room: the state before is missing members, so its gaps
            # are filled from the event's auth events and it is not soft-failed
            # (Synapse's); the resync checks it against the full state.
            full = not self.partial.is_partial(room_id)
            try:
                if oversized is not None:
                    raise AuthError(oversized)
                await self.check(event, rv, before, against_state=full)
            except AuthError as exc:
                self.persister.persist_rejected(event, before, str(exc))
                raise
            if position is not None:
                self.persister.persist_backfilled(event, rv, before, position)
                return event
            soft_failed = full and self.soft_fails(event, rv, self.state.current_hash(room_id))
            self.persister.persist(event, rv, before, soft_failed=soft_failed)
        return event

    def _known(self, event_id: str, *, in_timeline: bool = False) -> bool:
        """Stored already (nothing to do); ``AuthError`` again if it was rejected.
        ``in_timeline``: an outlier (neither rejected nor soft-failed) counts as not
        known yet (backfill places it)."""
        timeline = self.state.timeline
        if not timeline.exists(event_id):
            return False
        if in_timeline and timeline.pdu_id(event_id) is None and not timeline.is_hidden(event_id):
            return False
        reason = self.state.timeline.rejection(event_id)
        if reason is not None:
            raise AuthError(reason)
        return True

    async def receive_outlier(self, pdu: dict[str, Any], rv: RoomVersion) -> Event:
        """An event another one cites as an auth event, fetched from a server (its
        hashes and signatures checked by the caller): format and auth rules against
        its own auth events, which must be known. Kept as an outlier, or as rejected
        (then ``AuthError``); ``MissingEventsError`` if its auth events are unknown."""
        oversized = _validate_received(pdu, rv)
        event = Event(pdu, rv)
        room_id = room_id_of(event)
        async with self.locks.hold(room_id):
            if self._known(event.event_id):
                return event
            missing = [e for e in event.auth_event_ids if not self.state.timeline.exists(e)]
            if missing:
                raise MissingEventsError(missing)
            try:
                if oversized is not None:
                    raise AuthError(oversized)
                self._check_outlier(event, rv, room_id, {})
            except AuthError as exc:
                self.persister.persist_rejected(event, None, str(exc))
                raise
            self.persister.persist_outlier(event)
        return event

    # -- a room's state from another server (send_join) ----------------------------------
    def _check_outlier(
        self, event: Event, rv: RoomVersion, room_id: str, accepted: dict[str, Event]
    ) -> None:
        """An event of a send_join response: its own room, and allowed by its own auth
        events (accepted ones of the response, or known here). Raises ``AuthError``."""
        if room_id_of(event) != room_id:
            raise AuthError(f"{event.event_id} is from another room")
        if event.type == EventType.CREATE and event.state_key == "":
            auth_rules.check(event, {}, rv)
            return
        auth_events = []
        for event_id in event.auth_event_ids:
            found = accepted.get(event_id)
            if found is None:
                self._not_rejected(event_id)
                found = self._load(event_id, rv)
            if found is None:
                raise AuthError(f"auth event {event_id} is missing or was rejected")
            auth_events.append(found)
        auth_rules.check_auth_events(event, auth_events, rv)
        auth_map = {(e.type, e.state_key or ""): e for e in auth_events}
        if rv.room_id_from_create_event:
            create = accepted.get("$" + room_id[1:]) or self._load("$" + room_id[1:], rv)
            if create is not None:
                auth_map[(EventType.CREATE, "")] = create
        auth_rules.check(event, auth_map, rv)

    async def persist_remote_join(
        self,
        room_id: str,
        rv: RoomVersion,
        state: list[dict[str, Any]],
        auth_chain: list[dict[str, Any]],
        join: dict[str, Any],
        *,
        partial_servers: list[str] | None = None,
    ) -> Event:
        """Take the state and auth chain of a send_join response, then our join.

        The caller verified hashes and signatures (dropping events that failed). Here
        every event is format-checked and authorised against its own auth events, in
        auth order; those failing are dropped (a state entry whose event was dropped is
        left out). The room's current state becomes that state, and the join goes
        through ``check`` and ``persist`` on it like any local event.
        ``partial_servers``: the state is partial (``members_omitted``); the room is
        marked partial-state in the join's batch, with the servers to resync from.
        """
        events: dict[str, Event] = {}
        for pdu in (*auth_chain, *state):
            try:
                validate_pdu(pdu, rv)
            except EventFormatError:
                continue
            event = Event(pdu, rv)
            events[event.event_id] = event
        state_ids_wanted = {Event(p, rv).event_id for p in state if _valid(p, rv)}
        async with self.locks.hold(room_id):
            accepted: dict[str, Event] = {}
            for event_id in auth_order(events):
                event = events[event_id]
                try:
                    self._check_outlier(event, rv, room_id, accepted)
                except AuthError:
                    continue
                accepted[event_id] = event
            state_ids: dict[tuple[str, str], str] = {}
            for event_id in state_ids_wanted:
                found = accepted.get(event_id)
                if found is not None and found.state_key is not None:
                    state_ids[(found.type, found.state_key)] = event_id
            if (EventType.CREATE, "") not in state_ids:
                raise JoinStateError("the room's state has no valid m.room.create event")
            snapshot = self.persister.persist_state(room_id, list(accepted.values()), state_ids)
            try:
                validate_pdu(join, rv)
            except EventFormatError as exc:
                raise _format_error(exc) from None
            event = Event(join, rv)
            # On partial state the join's own auth events fill its gaps (a restricted
            # join's authorising member is in the auth chain, not in the state).
            await self.check(event, rv, snapshot, against_state=partial_servers is None)
            mark = None
            if partial_servers is not None:
                room = PartialRoom(room_id, event.event_id, tuple(partial_servers))
                mark = functools.partial(self.partial.mark, room=room)
            self.persister.persist(event, rv, snapshot, also=mark)
        return event


def _valid(pdu: dict[str, Any], rv: RoomVersion) -> bool:
    try:
        validate_pdu(pdu, rv)
    except EventFormatError:
        return False
    return True


def auth_order(events: dict[str, Event]) -> list[str]:
    """Event IDs with each event after the auth events it cites (of ``events``);
    a cycle is broken somewhere (and then fails its auth check)."""
    order: list[str] = []
    done: set[str] = set()
    expanded: set[str] = set()
    for root in sorted(events, key=lambda e: events[e].depth):
        stack: list[tuple[str, bool]] = [(root, False)]
        while stack:
            event_id, finish = stack.pop()
            if event_id in done or event_id not in events:
                continue
            if finish:
                done.add(event_id)
                order.append(event_id)
                continue
            if event_id in expanded:
                continue
            expanded.add(event_id)
            stack.append((event_id, True))
            stack.extend((a, False) for a in events[event_id].auth_event_ids if a not in done)
    return order
