"""Events and state fetched from another server of a room, checked and taken in as
outliers (server-server API: "Retrieving events", "Room state").

Used when an event to take in (received with ``/send``, or backfilled) cites what
this server does not have: its unknown auth events (``GET /event/{eventId}``), or,
when its prev events cannot be had, the state after them (``GET /state_ids`` with
``event_id``: the state before that event, then ``/event`` for each event not known
here; the state after a prev event is that plus the event itself when it is a
state event, as Synapse works it out). Every fetched event
must have the ID asked for and be of the room; its hashes and signatures are
checked (``PduSignatures``) and it goes through ``EventPipeline.receive_outlier``
(auth against its own auth events), in auth order: refused ones are kept as
rejected and left out of the state.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from collections.abc import Iterable
from typing import Any

from conduwuit.core.errors import AuthError, MatrixError
from conduwuit.core.event_hashing import compute_event_id
from conduwuit.core.events import Event, EventFormatError, OversizedKeyError, validate_pdu
from conduwuit.core.ids import server_of
from conduwuit.core.room_versions import RoomVersion
from conduwuit.core.signing import SignatureError
from conduwuit.service.federation.client import FederationClient, FederationError
from conduwuit.service.federation.event_checks import PduSignatures
from conduwuit.service.rooms.pipeline import MissingEventsError, StateIds, auth_order
from conduwuit.service.rooms.storage import RoomStorage

log = logging.getLogger(__name__)

#: Unknown events of one ``/state_ids`` answer fetched at most (its state and auth
#: chain); a larger gap is not closed this way.
MAX_STATE_EVENTS = 5000
#: ``/event`` requests to one server in flight at once.
CONCURRENT_FETCHES = 8
#: Missing prev events of one event whose state is fetched at most (the spec allows
#: 20 prev events; a gap that wide is not closed this way).
MAX_MISSING_PREVS = 5
#: Seconds one server may take to give one event asked of several (``fetch_from_any``).
FETCH_TIMEOUT = 10.0


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _room_of(pdu: dict[str, Any], event_id: str) -> Any:
    """The event's room; a v12 create event has none: its room is its event ID."""
    return pdu.get("room_id", "!" + event_id[1:])


def history_holders(servers: Iterable[str], room_id: str) -> list[str]:
    """``servers`` in the order to ask them for a room's history: the room ID's server
    first (v1-v11 IDs name the creator's, the likeliest to hold the whole history),
    then by name."""
    ordered = sorted(servers)
    domain = server_of(room_id) if ":" in room_id else None
    if domain in ordered:
        ordered.remove(domain)
        ordered.insert(0, domain)
    return ordered


class RemoteEvents:
    def __init__(
        self, storage: RoomStorage, client: FederationClient, signatures: PduSignatures
    ) -> None:
        self.storage = storage
        self.client = client
        self.signatures = signatures

    async def fetch_event(
        self, origin: str, room_id: str, event_id: str, rv: RoomVersion
    ) -> dict[str, Any] | None:
        """``GET /event/{eventId}`` from ``origin``: the event, hashes and signatures
        checked (redacted on a content hash mismatch); None if it is not to be had."""
        path = "/_matrix/federation/v1/event/" + _quote(event_id)
        try:
            answer = await self.client.get(origin, path)
        except FederationError as exc:
            log.info("fetching event %s from %s failed: %s", event_id, origin, exc)
            return None
        pdus = answer.get("pdus") if isinstance(answer, dict) else None
        fetched = pdus[0] if isinstance(pdus, list) and pdus else None
        if not isinstance(fetched, dict) or _room_of(fetched, event_id) != room_id:
            return None
        try:
            if compute_event_id(fetched, rv) != event_id:
                return None
            return await self.signatures.check(fetched, rv)
        except SignatureError as exc:
            log.info("event %s from %s: bad signatures: %s", event_id, origin, exc)
        except (ValueError, KeyError, TypeError) as exc:
            log.info("event %s from %s is invalid: %s", event_id, origin, exc)
        return None

    async def take_outliers(self, pdus: list[dict[str, Any]], rv: RoomVersion) -> None:
        """Checked events into the outliers, each after the auth events it cites;
        refused or incomplete ones are logged and left out (or kept as rejected)."""
        events: dict[str, Event] = {}
        for pdu in pdus:
            try:
                validate_pdu(pdu, rv)
            except OversizedKeyError:
                pass  # receive_outlier keeps it as rejected (see OversizedKeyError)
            except EventFormatError:
                continue
            event = Event(pdu, rv)
            events[event.event_id] = event
        for event_id in auth_order(events):
            try:
                await self.storage.pipeline.receive_outlier(dict(events[event_id].pdu), rv)
            except (AuthError, MissingEventsError) as exc:
                log.info("event %s not taken: %s", event_id, exc)
            except (MatrixError, EventFormatError) as exc:
                log.info("event %s is invalid: %s", event_id, exc)

    async def fetch_outliers(
        self, origin: str, room_id: str, event_ids: list[str], rv: RoomVersion
    ) -> dict[str, dict[str, Any]]:
        """Fetch ``event_ids`` from ``origin`` (a few at a time) and take them in; the
        events fetched (with good signatures), taken in or not, by ID."""
        found = await self.fetch_events(origin, room_id, event_ids, rv)
        await self.take_outliers(list(found.values()), rv)
        return found

    async def fetch_from_any(
        self,
        servers: Iterable[str],
        room_id: str,
        event_id: str,
        rv: RoomVersion,
        *,
        per_server: float = FETCH_TIMEOUT,
        deadline: float | None = None,
    ) -> tuple[str, dict[str, Any]] | None:
        """The event from the first of ``servers`` that gives it, with that server:
        ``fetch_event``'s checks and the format's (``validate_pdu``: fields and sizes;
        nothing is stored). Each server within ``per_server`` s, none asked after the
        monotonic ``deadline``; None if no server gives it."""
        for server in servers:
            left = per_server if deadline is None else deadline - time.monotonic()
            if left <= 0:
                break
            try:
                async with asyncio.timeout(min(per_server, left)):
                    pdu = await self.fetch_event(server, room_id, event_id, rv)
            except TimeoutError:
                log.info("fetching %s from %s timed out", event_id, server)
                continue
            if pdu is None:
                continue
            try:
                validate_pdu(pdu, rv)
            except EventFormatError as exc:
                log.info("%s from %s refused: %s", event_id, server, exc)
                continue
            return server, pdu
        return None

    async def fetch_events(
        self, origin: str, room_id: str, event_ids: list[str], rv: RoomVersion
    ) -> dict[str, dict[str, Any]]:
        """``fetch_event`` of each of ``event_ids`` from ``origin`` (a few at a time):
        the events with good signatures by ID; nothing is stored."""
        gate = asyncio.Semaphore(CONCURRENT_FETCHES)

        async def one(event_id: str) -> dict[str, Any] | None:
            async with gate:
                return await self.fetch_event(origin, room_id, event_id, rv)

        fetched = await asyncio.gather(*(one(e) for e in event_ids))
        return {e: p for e, p in zip(event_ids, fetched, strict=True) if p is not None}

    async def states_after(
        self, origin: str, room_id: str, prev_ids: list[str], rv: RoomVersion
    ) -> dict[str, StateIds]:
        """The state after each of (up to ``MAX_MISSING_PREVS``) prev events, as
        ``origin`` has it; those it cannot tell are left out."""
        found: dict[str, StateIds] = {}
        for prev_id in prev_ids[:MAX_MISSING_PREVS]:
            state = await self.state_after(origin, room_id, prev_id, rv)
            if state is not None:
                found[prev_id] = state
        return found

    async def state_ids_before(
        self, origin: str, room_id: str, event_id: str
    ) -> tuple[list[str], list[str]] | None:
        """``GET /state_ids`` at ``event_id`` from ``origin``: the IDs of the state
        before the event and of its auth chain; None if the server cannot tell."""
        path = "/_matrix/federation/v1/state_ids/" + _quote(room_id)
        try:
            answer = await self.client.get(origin, path, query={"event_id": event_id})
        except FederationError as exc:
            log.info("state_ids of %s at %s from %s failed: %s", room_id, event_id, origin, exc)
            return None
        if not isinstance(answer, dict):
            return None
        state_ids, chain_ids = answer.get("pdu_ids"), answer.get("auth_chain_ids")
        if not isinstance(state_ids, list) or not isinstance(chain_ids, list):
            return None
        return [e for e in state_ids if isinstance(e, str)], [
            e for e in chain_ids if isinstance(e, str)
        ]

    async def state_after(
        self,
        origin: str,
        room_id: str,
        event_id: str,
        rv: RoomVersion,
        *,
        max_events: int = MAX_STATE_EVENTS,
    ) -> StateIds | None:
        """The room's state after ``event_id`` as ``origin`` has it: ``/state_ids`` (the
        state before the event, as Synapse answers it) and the event itself, its
        events fetched and checked; None when the server cannot tell, the event cannot
        be had, or the gap is too large. State events refused by the auth rules (or
        whose auth events cannot be had) are left out; after a rejected event the
        state is the one before it."""
        ids = await self.state_ids_before(origin, room_id, event_id)
        if ids is None:
            return None
        state_ids, chain_ids = ids
        wanted = [*chain_ids, *state_ids, event_id]
        timeline = self.storage.timeline
        unknown = list(dict.fromkeys(e for e in wanted if not timeline.exists(e)))
        if len(unknown) > max_events:
            log.info("state of %s at %s: %d unknown events", room_id, event_id, len(unknown))
            return None
        fetched = await self.fetch_outliers(origin, room_id, unknown, rv)
        event = timeline.get(event_id)
        if event is None and event_id in fetched:
            # Fetched but not taken (its auth events cannot be had): the state after
            # it is the one before, as after a rejected event.
            event = fetched[event_id]
            if isinstance(event.get("state_key"), str):
                return None
        if event is None:
            return None
        state: StateIds = {}
        for state_id in state_ids:
            pdu = timeline.get(state_id)
            if pdu is None or timeline.is_rejected(state_id) or _room_of(pdu, state_id) != room_id:
                continue
            state_key = pdu.get("state_key")
            if isinstance(state_key, str) and isinstance(pdu.get("type"), str):
                state[(pdu["type"], state_key)] = state_id
        if (
            isinstance(event.get("state_key"), str)
            and timeline.exists(event_id)
            and not timeline.is_rejected(event_id)
        ):
            state[(str(event.get("type")), event["state_key"])] = event_id
        return state
