"""Other servers' users joining, leaving and knocking on resident rooms, and
invites of our users (server-server API: "Joining Rooms", "Leaving Rooms",
"Knocking upon a room", "Inviting to a room").

``make_*`` build a template member event on the room's current state (checked
against the auth rules so a refusal comes now, not at ``send_*``); ``send_*`` take
the remote's signed event through the same path as every received event
(hashes and signatures, then the pipeline's auth checks and persistence under the
room lock). Restricted joins (v8+) name a local user who may invite as
``join_authorised_via_users_server``; ``send_join`` then adds this server's
signature. Only a user of the requesting server may join, leave or knock, and an
invite must come from a user of the requesting server to one of ours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from conduwuit.core.errors import AuthError, ErrCode, MatrixError, bad_json, forbidden, not_found
from conduwuit.core.event_signing import sign_event
from conduwuit.core.event_types import EventType
from conduwuit.core.events import Event, EventFormatError, validate_pdu
from conduwuit.core.ids import UserId, server_of
from conduwuit.core.membership import MembershipState
from conduwuit.core.partial_join import StateKey, joined_servers, partial_state_ids
from conduwuit.core.room_versions import RoomVersion
from conduwuit.core.room_versions import get as get_room_version
from conduwuit.core.signing import Keypair, SignatureError
from conduwuit.db import Database
from conduwuit.service.federation.event_checks import PduSignatures
from conduwuit.service.federation.room_access import RoomAccess, outgoing
from conduwuit.service.notifier import Notifier
from conduwuit.service.rooms.build import NewEvent
from conduwuit.service.rooms.membership import AUTHORISING_USER, Membership
from conduwuit.service.rooms.persist import STRIPPED_STATE_TYPES, stripped
from conduwuit.service.rooms.pipeline import MissingEventsError
from conduwuit.service.sync.rooms import heroes

#: Template fields a joining server fills in itself.
_NOT_IN_TEMPLATE = ("hashes", "signatures", "unsigned", "event_id")


@dataclass(frozen=True)
class Sent:
    """A member event taken in through ``send_*``: the event as stored, and the
    state before it (``(type, state_key) -> event ID``)."""

    pdu: dict[str, Any]
    state_before: dict[StateKey, str]
    signed_by_us: bool


def _no_verify(_pdu: dict[str, Any]) -> None:
    """Signatures were checked before the room lock was taken."""


class FederationMembership:
    def __init__(
        self,
        db: Database,
        access: RoomAccess,
        membership: Membership,
        signatures: PduSignatures,
        keypair: Callable[[], Keypair],
        server_name: str,
        is_local_user: Callable[[str], bool],
        notifier: Notifier,
        hand_on: Callable[[dict[str, Any], str], None],
    ) -> None:
        self.db = db
        #: Passes an accepted send_* event to the room's other servers (the sender).
        self.hand_on = hand_on
        self.access = access
        self.storage = access.storage
        self.membership = membership
        self.signatures = signatures
        self.keypair = keypair
        self.server_name = server_name
        self.is_local_user = is_local_user
        self.notifier = notifier

    # -- templates -----------------------------------------------------------------------
    def _resident(self, origin: str, room_id: str) -> RoomVersion:
        rv = self.access.room_version(room_id)
        if rv is None:
            raise not_found(f"Room {room_id} is not known to this server.")
        self.access.check_acl(room_id, origin)
        return rv

    def _full_state(self, room_id: str, membership: str) -> None:
        """Joins and knocks through us need the room's full state: while it is partial
        (our own partial-state join), 404 as Synapse answers ("partial state")."""
        if membership in (MembershipState.JOIN, MembershipState.KNOCK) and (
            self.storage.partial.is_partial(room_id)
        ):
            raise not_found(f"Room {room_id} not found (this server has partial state).")

    @staticmethod
    def _user_of(origin: str, user_id: str) -> UserId:
        try:
            user = UserId.parse(user_id)
        except ValueError as exc:
            raise bad_json(f"Invalid user ID: {exc}") from None
        if str(user.server_name) != origin:
            raise forbidden(f"User {user_id} does not belong to the requesting server {origin}.")
        return user

    async def make(
        self,
        origin: str,
        room_id: str,
        user_id: str,
        membership: str,
        supported_versions: Iterable[str] | None,
    ) -> dict[str, Any]:
        """``make_join`` / ``make_leave`` / ``make_knock``: a template member event."""
        user = self._user_of(origin, user_id)
        rv = self._resident(origin, room_id)
        self._full_state(room_id, membership)
        if supported_versions is not None and rv.identifier not in set(supported_versions):
            raise MatrixError(
                ErrCode.INCOMPATIBLE_ROOM_VERSION,
                f"Your server does not support room version {rv.identifier}.",
                room_version=rv.identifier,
            )
        if membership == MembershipState.KNOCK and not rv.knock_join_rule:
            raise MatrixError(
                ErrCode.INCOMPATIBLE_ROOM_VERSION,
                f"Room version {rv.identifier} does not support knocking.",
                room_version=rv.identifier,
            )
        content: dict[str, Any] = {"membership": membership}
        if membership == MembershipState.JOIN:
            current = self.storage.member_index.membership(user_id, room_id)
            if current != MembershipState.JOIN:
                authoriser = self.membership.restricted_authoriser(user, room_id)
                if authoriser is not None:
                    content[AUTHORISING_USER] = authoriser
        before = self.storage.state.current_hash(room_id)
        pipeline = self.storage.pipeline
        event = pipeline.builder.build(
            NewEvent(EventType.MEMBER, content, state_key=user_id), user_id, room_id, rv, before
        )
        try:
            await pipeline.check(event, rv, before)
        except AuthError as exc:
            raise forbidden(f"You are not allowed to {membership} this room: {exc}") from None
        template = {k: v for k, v in event.pdu.items() if k not in _NOT_IN_TEMPLATE}
        return {"room_version": rv.identifier, "event": template}

    # -- send_* --------------------------------------------------------------------------
    async def send(
        self, origin: str, room_id: str, event_id: str, pdu: Any, membership: str
    ) -> Sent:
        """``send_join`` / ``send_leave`` / ``send_knock``: check and take in the
        remote's member event."""
        rv = self._resident(origin, room_id)
        self._full_state(room_id, membership)
        if not isinstance(pdu, dict):
            raise bad_json("The event must be a JSON object.")
        try:
            validate_pdu(pdu, rv)
        except EventFormatError as exc:
            raise bad_json(f"Invalid event: {exc}") from None
        event = Event(pdu, rv)
        content = event.content
        if (
            event.type != EventType.MEMBER
            or event.state_key != event.sender
            or content.get("membership") != membership
        ):
            raise bad_json(f"The event must be an m.room.member {membership} of its sender.")
        if event.room_id != room_id:
            raise bad_json("The event is for another room.")
        if event.event_id != event_id:
            raise bad_json("The event ID does not match the event.")
        self._user_of(origin, event.sender)
        signed_by_us = False
        authoriser = content.get(AUTHORISING_USER) if membership == MembershipState.JOIN else None
        if authoriser is not None and rv.restricted_join_rule:
            if not isinstance(authoriser, str) or server_of(authoriser) != self.server_name:
                raise bad_json(f"{AUTHORISING_USER} must be a user of this server.")
            pdu = sign_event(pdu, self.server_name, self.keypair(), rv)
            signed_by_us = True
        try:
            checked = await self.signatures.check(pdu, rv, for_join=True)
        except SignatureError as exc:
            raise forbidden(f"The event's signatures do not verify: {exc}") from None
        pipeline = self.storage.pipeline
        # A membership the room's current state would not allow is refused here,
        # not kept as a soft-failed event the remote would believe took effect.
        if not self.storage.timeline.exists(event.event_id) and pipeline.soft_fails(
            Event(checked, rv), rv, self.storage.state.current_hash(room_id)
        ):
            raise forbidden(f"The {membership} is not allowed by the room's current state.")
        new = not self.storage.timeline.exists(event.event_id)
        try:
            accepted = await pipeline.receive(checked, rv, _no_verify)
        except MissingEventsError as exc:
            raise bad_json(f"The event cites events this server does not have: {exc}") from None
        except AuthError as exc:
            raise forbidden(f"The {membership} is not allowed: {exc}") from None
        if self.storage.timeline.is_soft_failed(accepted.event_id):
            raise forbidden(f"The {membership} is not allowed by the room's current state.")
        stored = self.storage.timeline.get(accepted.event_id) or {
            **checked,
            "event_id": accepted.event_id,
        }
        if new:
            self.hand_on(stored, origin)
        before = self.storage.state.hash_before(accepted.event_id) or 0
        return Sent(stored, self.storage.state.state_ids(before), signed_by_us)

    def join_answer(self, sent: Sent, rv: RoomVersion, omit_members: bool) -> dict[str, Any]:
        """The ``send_join`` answer: the state before the join with its auth chain;
        with ``omit_members`` (v2 only), the partial state of ``_partial_answer``."""
        if omit_members:
            answer = self._partial_answer(sent, rv)
        else:
            state_ids = sorted(sent.state_before.values())
            chain = sorted(self.storage.auth_chains.event_ids(state_ids))
            answer = {
                "origin": self.server_name,
                "state": self._pdus(state_ids, rv),
                "auth_chain": self._pdus(chain, rv),
                "members_omitted": False,
            }
        if sent.signed_by_us:
            answer["event"] = outgoing(sent.pdu, rv)
        return answer

    def _partial_answer(self, sent: Sent, rv: RoomVersion) -> dict[str, Any]:
        """``omit_members=true`` (joins-v2.yaml): member events are left out of
        ``state`` (``core/partial_join.py`` says which stay), ``members_omitted`` is
        true and ``servers_in_room`` lists the servers with joined members before
        the join. ``auth_chain`` is the auth chain of the join event and of the
        returned state, less the events already in ``state`` (the spec allows that
        elision once ``omit_members`` is set; Synapse does it too).

        The heroes are those of our room summary (``sync.rooms.heroes``, from the
        current membership, the joiner left out), as Synapse takes them from its
        current room summary: a membership change racing the join may shift them,
        and the joining server gets the full state later anyway. ``servers_in_room``
        is exact: read from the member events of the state before the join."""
        joiner = str(sent.pdu.get("state_key", ""))
        room_id = str(sent.pdu.get("room_id", ""))
        state_ids = partial_state_ids(
            sent.state_before,
            joiner,
            lambda: heroes(self.storage.member_index, room_id, joiner),
        )
        chain = self.storage.auth_chains.event_ids([*state_ids, str(sent.pdu["event_id"])])
        return {
            "origin": self.server_name,
            "state": self._pdus(sorted(state_ids), rv),
            "auth_chain": self._pdus(sorted(chain - state_ids), rv),
            "members_omitted": True,
            "servers_in_room": joined_servers(self._memberships(sent.state_before)),
        }

    def _memberships(self, state: dict[StateKey, str]) -> Iterator[tuple[str, str | None]]:
        """``(user, membership)`` of each member event of ``state``."""
        timeline = self.storage.timeline
        for (kind, user), event_id in state.items():
            if kind == EventType.MEMBER:
                pdu = timeline.get(event_id)
                content = pdu.get("content") if pdu is not None else None
                yield user, content.get("membership") if isinstance(content, dict) else None

    def stripped_state(self, room_id: str) -> list[dict[str, Any]]:
        """The room's stripped state, for a knocking server (``knock_room_state``)."""
        state = self.storage.state
        current = state.current_hash(room_id)
        out = []
        for event_type in STRIPPED_STATE_TYPES:
            pdu = state.pdu_at(current, event_type, "")
            if pdu is not None:
                out.append(stripped(pdu))
        return out

    def _pdus(self, event_ids: Iterable[str], rv: RoomVersion) -> list[dict[str, Any]]:
        out = []
        for event_id in event_ids:
            pdu = self.storage.timeline.get(event_id)
            if pdu is not None:
                out.append(outgoing(pdu, rv))
        return out

    # -- invites -------------------------------------------------------------------------
    async def invite(
        self,
        origin: str,
        room_id: str,
        event_id: str,
        pdu: Any,
        room_version: str,
        invite_room_state: Any,
    ) -> dict[str, Any]:
        """``PUT /invite``: a user of ``origin`` invites one of ours. The event is
        checked, signed by us and returned; the invitee sees the invite (with the
        stripped state sent) in /sync. For a room we are in, it is also taken through
        the pipeline like any received event."""
        rv = get_room_version(room_version)
        if rv is None:
            raise MatrixError(
                ErrCode.INCOMPATIBLE_ROOM_VERSION,
                f"This server does not support room version {room_version}.",
                room_version=room_version,
            )
        if not isinstance(pdu, dict):
            raise bad_json("The event must be a JSON object.")
        try:
            validate_pdu(pdu, rv)
        except EventFormatError as exc:
            raise bad_json(f"Invalid event: {exc}") from None
        event = Event(pdu, rv)
        if event.type != EventType.MEMBER or event.content.get("membership") != "invite":
            raise bad_json("The event must be an m.room.member invite.")
        if event.room_id != room_id or event.event_id != event_id:
            raise bad_json("The event's room or ID does not match the request.")
        invitee = event.state_key or ""
        if server_of(invitee) != self.server_name or not self.is_local_user(invitee):
            raise not_found(f"User {invitee} is not a user of this server.")
        self._user_of(origin, event.sender)
        if not self.membership.actions.may_invite(invitee):
            raise forbidden(f"User {invitee} may not receive invites from other servers.")
        # The invitee's invite permission: a blocked inviter is refused (403
        # M_INVITE_BLOCKED, which the inviting server passes to its user); an ignored
        # one is signed and stored like any invite, and /sync leaves it out.
        self.membership.actions.check_invite_permission(event.sender, invitee)
        if not isinstance(invite_room_state, list | type(None)):
            raise bad_json("invite_room_state must be a list.")
        self.access.check_enabled(room_id)
        resident = self.access.room_version(room_id)
        if resident is not None:
            self.access.check_acl(room_id, origin)
        current = self.storage.member_index.membership(invitee, room_id)
        if current in (MembershipState.JOIN, MembershipState.BAN):
            raise forbidden(f"User {invitee} is {current} in the room.")
        try:
            checked = await self.signatures.check(pdu, rv)
        except SignatureError as exc:
            raise forbidden(f"The event's signatures do not verify: {exc}") from None
        signed = sign_event(checked, self.server_name, self.keypair(), rv)
        if resident is not None:
            try:
                await self.storage.pipeline.receive(signed, rv, _no_verify)
            except MissingEventsError:
                self._store_invite(signed, rv, invite_room_state or [])
            except AuthError as exc:
                raise forbidden(f"The invite is not allowed: {exc}") from None
        else:
            self._store_invite(signed, rv, invite_room_state or [])
        return outgoing(signed, rv)

    def _store_invite(self, pdu: dict[str, Any], rv: RoomVersion, room_state: list[Any]) -> None:
        """An invite to a room this server is not in: the event as an outlier and the
        invitee's membership with the stripped state the inviting server sent."""
        strip = [stripped(e) for e in room_state if isinstance(e, dict)]
        self.storage.pipeline.persister.persist_out_of_band(Event(pdu, rv), strip)
