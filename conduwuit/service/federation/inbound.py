"""Transactions other servers push to us (server-server API: "Transactions",
``PUT /_matrix/federation/v1/send/{txnId}``).

A transaction holds at most 50 PDUs and 100 EDUs. Its answer is kept per origin and
transaction ID (``servertxnid_response``): the same transaction sent again gets the
same answer and nothing is processed twice; the same one sent again while the
first is still being processed waits for it.

Each PDU, in the order given: its room must be one we are in (we take its version
from our copy; in a room we are not in, only the inviter's taking back of an invite
of our user is accepted, as that user's out-of-band membership), the room's server
ACL must allow the origin, its sender must be a user of the origin, then hashes and
signatures (``PduSignatures.check``; an event whose content hash does not match is
used redacted), then the one receive path
(``EventPipeline.receive``: auth against its auth events, the state before it and
the current state, persisted under the room lock). When it cites prev or auth
events we do not have, up to ``MISSING_EVENTS_LIMIT`` of them are fetched from the
origin with ``/get_missing_events`` and taken in first, oldest first, and unknown
auth events with ``/event`` (as outliers, or rejected); if prev events of a PDU of
the transaction are still missing then, it is refused with an error (it is not
kept as an outlier), as Synapse does. An event taken from ``/get_missing_events``
whose own prev events are missing (the gap is wider than the answer) is placed on
the state after them from the origin's ``/state_ids``
(``RemoteEvents.states_after``), so the PDU after it can be placed. PDUs the auth
rules refuse, or whose auth events cannot be had even from the origin, are kept as
rejected (never served; see ``EventPipeline``) and answered ``{}`` like accepted
ones, as Synapse does (they were handled); other refused PDUs are not stored and
get an error. Each PDU's result is in the answer.

EDUs, each only from the server of the user it speaks for: ``m.typing`` and
``m.receipt`` (of users joined to the room), ``m.presence``, each if the matching
``allow_incoming_*`` option is on, ``m.direct_to_device`` (to our users'
devices, once per ``message_id``), and ``m.device_list_update`` and
``m.signing_key_update`` (``RemoteUserKeys``). Other EDU types are ignored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conduwuit.core.errors import AuthError, MatrixError, bad_json
from conduwuit.core.event_hashing import compute_event_id
from conduwuit.core.event_types import EventType
from conduwuit.core.events import Event, EventFormatError, validate_pdu
from conduwuit.core.ids import RoomId, UserId, server_of
from conduwuit.core.membership import MembershipState
from conduwuit.core.room_versions import RoomVersion
from conduwuit.core.signing import SignatureError
from conduwuit.db import MAPS, Database
from conduwuit.db.codec import key
from conduwuit.service.e2ee.to_device import ToDevice
from conduwuit.service.federation.client import FederationClient, FederationError
from conduwuit.service.federation.event_checks import PduSignatures
from conduwuit.service.federation.remote_events import RemoteEvents
from conduwuit.service.federation.remote_user_keys import RemoteUserKeys
from conduwuit.service.federation.room_access import RoomAccess
from conduwuit.service.presence import Presence
from conduwuit.service.rooms.out_of_band import own_member_event, room_version_shown
from conduwuit.service.rooms.pipeline import MissingEventsError, StateIds
from conduwuit.service.rooms.receipts import Receipts
from conduwuit.service.rooms.typing import Typing

log = logging.getLogger(__name__)

MAX_PDUS = 50
MAX_EDUS = 100
#: Events asked of the origin to close one gap (Synapse asks for 10).
MISSING_EVENTS_LIMIT = 10


@dataclass(frozen=True)
class EduSettings:
    typing: bool = True
    receipts: bool = True
    presence: bool = True
    typing_timeout_ms: int = 30_000


@dataclass(frozen=True)
class HandledPdu:
    """A PDU being checked and persisted now (``!admin federation incoming-federation``)."""

    room_id: str
    event_id: str
    origin: str
    #: When its handling started, in the monotonic clock's seconds.
    started: float


def _depth(pdu: dict[str, Any]) -> int:
    depth = pdu.get("depth")
    return depth if isinstance(depth, int) else 0


def _no_verify(_pdu: dict[str, Any]) -> None:
    """Signatures were checked before the room lock was taken."""


class InboundTransactions:
    def __init__(
        self,
        db: Database,
        access: RoomAccess,
        signatures: PduSignatures,
        client: FederationClient,
        typing: Typing,
        receipts: Receipts,
        presence: Presence,
        to_device: ToDevice,
        remote_keys: RemoteUserKeys,
        settings: EduSettings,
        remote: RemoteEvents,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._answers = db.map(MAPS.servertxnid_response)
        self.access = access
        self.storage = access.storage
        self.signatures = signatures
        self.client = client
        self.typing = typing
        self.receipts = receipts
        self.presence = presence
        self.to_device = to_device
        self.remote_keys = remote_keys
        self.settings = settings
        self.remote = remote
        self._running: dict[tuple[str, str], asyncio.Future[dict[str, Any]]] = {}
        self.monotonic = monotonic
        self._handling: dict[str, HandledPdu] = {}

    def handling(self) -> list[HandledPdu]:
        """The PDUs being handled now (signatures, missing events, auth, persisting),
        longest-running first; a gap's fetched events are listed beside the PDU that
        cited them."""
        return sorted(self._handling.values(), key=lambda h: h.started)

    def transactions_running(self) -> int:
        """Transactions received and not answered yet."""
        return len(self._running)

    async def receive(self, origin: str, txn_id: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_json("The transaction must be a JSON object.")
        pdus, edus = body.get("pdus", []), body.get("edus", [])
        if not isinstance(pdus, list) or not isinstance(edus, list):
            raise bad_json("pdus and edus must be lists.")
        if len(pdus) > MAX_PDUS or len(edus) > MAX_EDUS:
            raise bad_json(f"A transaction holds at most {MAX_PDUS} PDUs and {MAX_EDUS} EDUs.")
        if body.get("origin", origin) != origin:
            raise bad_json("The transaction's origin is not the server that signed it.")
        record = key(origin, txn_id)
        done = self._answers.get(record)
        if done is not None:
            answer: dict[str, Any] = json.loads(done)
            return answer
        running = self._running.get((origin, txn_id))
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._running[(origin, txn_id)] = future
        try:
            answer = {"pdus": await self._pdus(origin, pdus)}
            self._edus(origin, edus)
            self._answers.put(record, json.dumps(answer).encode())
            future.set_result(answer)
            return answer
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the waiters get it through shield
            raise
        finally:
            del self._running[(origin, txn_id)]

    # -- PDUs ----------------------------------------------------------------------------
    async def _pdus(self, origin: str, pdus: list[Any]) -> dict[str, dict[str, str]]:
        results: dict[str, dict[str, str]] = {}
        for index, pdu in enumerate(pdus):
            event_id, error = await self._one(origin, pdu, fetch_missing=True)
            results[event_id or f"#{index}"] = {"error": error} if error else {}
        return results

    async def _one(
        self, origin: str, pdu: Any, *, fetch_missing: bool
    ) -> tuple[str | None, str | None]:
        """(event ID, error or None) of one PDU."""
        if not isinstance(pdu, dict) or not isinstance(pdu.get("room_id"), str):
            return None, "Not a PDU of a room"
        room_id = pdu["room_id"]
        rv = self.access.room_version(room_id)
        if rv is None:
            return await self._rescinded_invite(origin, pdu)
        try:
            event_id = compute_event_id(pdu, rv)
        except (ValueError, KeyError, TypeError) as exc:
            return None, f"Invalid event: {exc}"
        # The sender need not be the origin's user: a resident server passes on the
        # joins, leaves and knocks other servers sent it (send_join etc.), as Synapse
        # does and accepts; the sender's server's signature is checked below. The
        # spec's ACL is the origin's; a relayed event of a denied server is refused too.
        sender_server = server_of(str(pdu.get("sender", "")))
        try:
            for server in dict.fromkeys((origin, sender_server)):
                self.access.check_acl(room_id, server)
        except MatrixError as exc:
            return event_id, exc.message
        entry = HandledPdu(room_id, event_id, origin, self.monotonic())
        if self._handling.setdefault(event_id, entry) is not entry:
            return await self._checked_and_received(origin, pdu, rv, event_id, fetch_missing)
        try:
            return await self._checked_and_received(origin, pdu, rv, event_id, fetch_missing)
        finally:
            del self._handling[event_id]

    async def _checked_and_received(
        self, origin: str, pdu: dict[str, Any], rv: RoomVersion, event_id: str, fetch_missing: bool
    ) -> tuple[str | None, str | None]:
        room_id = str(pdu["room_id"])
        try:
            checked = await self.signatures.check(pdu, rv)
        except SignatureError as exc:
            return event_id, f"Signatures do not verify: {exc}"
        except (ValueError, TypeError) as exc:
            return event_id, f"Invalid event: {exc}"
        return event_id, await self._receive(origin, room_id, checked, rv, fetch_missing)

    async def receive_pdu(self, origin: str, pdu: dict[str, Any], rv: RoomVersion) -> str | None:
        """A checked PDU that ``origin`` holds, handed over outside a transaction (our
        own join signed by a resident, ``RemoteJoins``): taken as a pushed PDU, and
        an error unless it is in the timeline (neither rejected nor soft-failed)."""
        error = await self._receive(origin, str(pdu["room_id"]), pdu, rv, fetch_missing=True)
        if error is not None:
            return error
        event_id = compute_event_id(pdu, rv)
        timeline = self.storage.timeline
        if timeline.is_rejected(event_id) or timeline.is_soft_failed(event_id):
            return "the event was rejected here"
        return None

    async def _receive(
        self, origin: str, room_id: str, pdu: dict[str, Any], rv: Any, fetch_missing: bool
    ) -> str | None:
        """The pipeline's receive, closing gaps on the way; unknown auth events come
        with ``/event``. A PDU pushed to us (``fetch_missing``): missing prev events
        from ``/get_missing_events``, and if that does not close the gap it is refused
        — the origin has no excuse not to give them, and a PDU placed on state it
        chose could become the room's only forward extremity (Synapse's "Your server
        isn't divulging details about prev_events"). An event pulled to close such a
        gap: the state after its missing prev events from ``/state_ids``, as Synapse
        calculates the state at a backwards extremity. The error, or None."""
        pipeline = self.storage.pipeline
        event = Event(pdu, rv)
        prevs, auths = set(event.prev_event_ids), set(event.auth_event_ids)
        prev_states: dict[str, StateIds] = {}
        pulled = not fetch_missing
        gap_filled = state_fetched = auth_fetched = False
        for attempt in range(3):
            try:
                await pipeline.receive(
                    pdu, rv, _no_verify, prev_states=prev_states, reject_missing_auth=auth_fetched
                )
                return None
            except MissingEventsError as exc:
                missing_prevs = [e for e in exc.event_ids if e in prevs]
                missing_auth = [e for e in exc.event_ids if e in auths and e not in prevs]
                if (
                    attempt == 2
                    or (not missing_prevs and not missing_auth)
                    or (missing_prevs and state_fetched)
                ):
                    return f"Missing events: {', '.join(exc.event_ids[:5])}"
                if missing_auth:
                    auth_fetched = True
                    await self.remote.fetch_outliers(
                        origin, room_id, missing_auth[:MISSING_EVENTS_LIMIT], rv
                    )
                if missing_prevs and not pulled:
                    if gap_filled:
                        return f"Missing events: {', '.join(missing_prevs[:5])}"
                    gap_filled = True
                    await self._fetch_missing(origin, room_id, pdu, rv)
                elif missing_prevs:
                    # The gap did not close: the state after the missing prev events
                    # from the origin (server-server API, "Retrieving events").
                    state_fetched = True
                    prev_states = await self.remote.states_after(origin, room_id, missing_prevs, rv)
            except AuthError as exc:
                # Kept as rejected: handled, so no error in the answer (as Synapse,
                # which answers {} for a rejected PDU).
                log.info("PDU %s from %s rejected: %s", event.event_id, origin, exc)
                return None
            except (MatrixError, EventFormatError) as exc:
                return f"Invalid event: {exc}"
        return "Not processed"

    async def _rescinded_invite(
        self, origin: str, pdu: dict[str, Any]
    ) -> tuple[str | None, str | None]:
        """A PDU of a room we are not in: only an invite of one of our users taken
        back by its inviter (a leave citing the invite) is accepted, as that user's
        out-of-band membership. As in Synapse (element-hq/synapse#18823): such an
        event cannot be fully authorised without the room, so only the inviter may
        rescind, and anything else of an unknown room is refused."""
        room_id = str(pdu["room_id"])
        unknown = None, f"Unknown room {room_id}"
        target, sender = pdu.get("state_key"), pdu.get("sender")
        content = pdu.get("content")
        if (
            pdu.get("type") != EventType.MEMBER
            or not isinstance(target, str)
            or not isinstance(content, dict)
            or content.get("membership") != MembershipState.LEAVE
            or sender == target
        ):
            return unknown
        found = self.storage.member_index.get(target, room_id)
        shown = (found.stripped_state or []) if found is not None else []
        invite = own_member_event(shown, target)
        if found is None or found.membership != MembershipState.INVITE or invite is None:
            return unknown
        rv = room_version_shown(shown)
        try:
            validate_pdu(pdu, rv)
            event = Event(pdu, rv)
        except EventFormatError as exc:
            return None, f"Invalid event: {exc}"
        if invite.get("sender") != sender or invite["event_id"] not in event.auth_event_ids:
            return event.event_id, "Only the inviter may take back an invite here"
        if server_of(str(sender)) != origin:
            return event.event_id, f"The sender is not a user of {origin}"
        try:
            checked = await self.signatures.check(pdu, rv)
        except SignatureError as exc:
            return event.event_id, f"Signatures do not verify: {exc}"
        self.storage.pipeline.persister.persist_out_of_band(Event(checked, rv))
        return event.event_id, None

    async def _fetch_missing(self, origin: str, room_id: str, pdu: dict[str, Any], rv: Any) -> None:
        """Ask the origin for the events between our forward extremities and ``pdu``
        and take them in, oldest first (no further gap filling for those)."""
        shortroomid = self.storage.short.room(room_id)
        earliest = self.storage.extremities.get(shortroomid) if shortroomid is not None else []
        event = Event(pdu, rv)
        path = "/_matrix/federation/v1/get_missing_events/" + urllib.parse.quote(room_id, safe="")
        try:
            answer = await self.client.request(
                origin,
                "POST",
                path,
                content={
                    "earliest_events": earliest,
                    "latest_events": [event.event_id],
                    "limit": MISSING_EVENTS_LIMIT,
                    "min_depth": 0,
                },
            )
        except FederationError as exc:
            log.info("get_missing_events from %s for %s failed: %s", origin, room_id, exc)
            return
        events = answer.get("events") if isinstance(answer, dict) else None
        if not isinstance(events, list):
            return
        found = [e for e in events[:MISSING_EVENTS_LIMIT] if isinstance(e, dict)]
        found.sort(key=_depth)
        for missing in found:
            if missing.get("room_id") != room_id:
                continue
            # Events of other servers may fill the gap: their own signatures count.
            sender_server = server_of(str(missing.get("sender", "")))
            await self._one(sender_server, missing, fetch_missing=False)

    # -- EDUs ----------------------------------------------------------------------------
    def _edus(self, origin: str, edus: list[Any]) -> None:
        for edu in edus:
            if not isinstance(edu, dict) or not isinstance(edu.get("content"), dict):
                continue
            kind, content = edu.get("edu_type"), edu["content"]
            try:
                if kind == "m.typing" and self.settings.typing:
                    self._typing(origin, content)
                elif kind == "m.receipt" and self.settings.receipts:
                    self._receipts(origin, content)
                elif kind == "m.presence" and self.settings.presence:
                    self._presence(origin, content)
                elif kind == "m.direct_to_device":
                    self._to_device(origin, content)
                elif kind == "m.device_list_update":
                    self.remote_keys.device_list_update(origin, content)
                elif kind == "m.signing_key_update":
                    self.remote_keys.signing_key_update(origin, content)
            except (MatrixError, ValueError, TypeError) as exc:
                log.info("EDU %s from %s ignored: %s", kind, origin, exc)

    def _user(self, origin: str, user_id: Any) -> UserId | None:
        """A user of ``origin``; None for anyone else (the EDU is not theirs to send)."""
        if not isinstance(user_id, str):
            return None
        try:
            user = UserId.parse(user_id)
        except ValueError:
            return None
        return user if str(user.server_name) == origin else None

    def _room(self, origin: str, room_id: Any) -> RoomId | None:
        if not isinstance(room_id, str) or self.access.room_version(room_id) is None:
            return None
        try:
            self.access.check_acl(room_id, origin)
            return RoomId.parse(room_id)
        except (MatrixError, ValueError):
            return None

    def _typing(self, origin: str, content: dict[str, Any]) -> None:
        user = self._user(origin, content.get("user_id"))
        room = self._room(origin, content.get("room_id"))
        typing = content.get("typing")
        if user is None or room is None or not isinstance(typing, bool):
            return
        self.typing.set_typing(
            user,
            room,
            typing,
            self.settings.typing_timeout_ms,
            member_unknown_ok=self._partial_server(origin, room),
        )

    def _partial_server(self, origin: str, room: RoomId) -> bool:
        """``origin`` was in a room we joined with partial state (its join answer's
        ``servers_in_room``): until the resync ends its users' typing and receipts are
        taken without their membership, which we may not know yet (Synapse's rule)."""
        partial = self.storage.partial.get(str(room))
        return partial is not None and origin in partial.servers

    def _receipts(self, origin: str, content: dict[str, Any]) -> None:
        for room_id, by_type in content.items():
            room = self._room(origin, room_id)
            if room is None or not isinstance(by_type, dict):
                continue
            users = by_type.get("m.read")
            for user_id, receipt in (users if isinstance(users, dict) else {}).items():
                user = self._user(origin, user_id)
                event_ids = receipt.get("event_ids") if isinstance(receipt, dict) else None
                if user is None or not isinstance(event_ids, list) or not event_ids:
                    continue
                data = receipt.get("data")
                data = data if isinstance(data, dict) else {}
                thread, ts = data.get("thread_id"), data.get("ts")
                try:
                    self.receipts.set_receipt(
                        user,
                        room,
                        "m.read",
                        str(event_ids[-1]),
                        thread if isinstance(thread, str) else None,
                        member_unknown_ok=self._partial_server(origin, room),
                        event_unknown_ok=True,
                        ts=ts if isinstance(ts, int) and not isinstance(ts, bool) else None,
                    )
                except MatrixError as exc:
                    log.info("receipt of %s in %s ignored: %s", user, room, exc)

    def _presence(self, origin: str, content: dict[str, Any]) -> None:
        pushes = content.get("push")
        for push in pushes if isinstance(pushes, list) else []:
            if not isinstance(push, dict):
                continue
            user = self._user(origin, push.get("user_id"))
            state = push.get("presence")
            status = push.get("status_msg")
            if user is None or not isinstance(state, str):
                continue
            self.presence.set(user, state, status if isinstance(status, str) else None)

    def _to_device(self, origin: str, content: dict[str, Any]) -> None:
        """Messages of a user of the origin to our users' devices, once per
        ``message_id`` (the same dedup as a client's transaction ID)."""
        sender = self._user(origin, content.get("sender"))
        event_type, message_id = content.get("type"), content.get("message_id")
        messages = content.get("messages")
        if (
            sender is None
            or not isinstance(event_type, str)
            or not isinstance(message_id, str)
            or not isinstance(messages, dict)
        ):
            return
        self.to_device.send(str(sender), "", event_type, message_id, messages)
