"""Joining a room this server is not in (server-server API "Joining Rooms").

``make_join`` on the candidate servers in turn (the client's ``via``/``server_name``,
the alias's servers, the room ID's server), offering our supported room versions;
the first template is filled in (our time, the client's content), hashed and signed,
and sent with ``send_join`` (v2) to the same server. The answer's state and auth
chain are checked — hashes and signatures concurrently through ``PduSignatures``
(events that fail are dropped; one with a bad content hash is used redacted), then
format and auth rules in the event pipeline — and become the room's state, with our
join as its latest event (``EventPipeline.persist_remote_join``).

Servers are tried as ``templates.try_servers`` says (``M_INCOMPATIBLE_ROOM_VERSION``
ends the attempts; otherwise the last server's refusal is passed on).

With ``federation_partial_state_joins`` the join asks for ``omit_members=true``
(MSC3706, spec v1.19), as Synapse always does: a resident that answers
``members_omitted`` sends the state without most member events, the room is marked
partial-state with our join and usable at once, and ``PartialStateResync`` fetches
the rest in the background. A resident that ignores the flag answers the full state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import quote

from conduwuit.core.events import Event
from conduwuit.core.membership import MembershipState
from conduwuit.core.room_versions import RoomVersion, supported_versions
from conduwuit.core.signing import Keypair
from conduwuit.service.clock import Clock
from conduwuit.service.federation.client import FederationClient
from conduwuit.service.federation.event_checks import PduSignatures
from conduwuit.service.federation.queries import FederationQueries
from conduwuit.service.federation.templates import Failed, MemberTemplates, try_servers
from conduwuit.service.rooms.pipeline import EventPipeline, JoinStateError

log = logging.getLogger(__name__)

#: A room's state and auth chain can be large.
MAX_SEND_JOIN_RESPONSE = 128 * 1024 * 1024
#: Signature checks (and their key fetches) running at once.
CONCURRENT_CHECKS = 64


class RemoteJoins:
    def __init__(
        self,
        server_name: str,
        keypair: Callable[[], Keypair],
        client: FederationClient,
        queries: FederationQueries,
        signatures: PduSignatures,
        pipeline: EventPipeline,
        clock: Clock,
        *,
        allow_unstable_room_versions: bool = True,
        partial_state: bool = False,
    ) -> None:
        self._server_name = server_name
        self._partial_state = partial_state
        #: Called with a room joined with partial state (the resync starts it).
        self.on_partial_join: Callable[[str], None] | None = None
        #: Takes our join signed by the resident, in a room this server is in, as a PDU
        #: from ``origin`` (missing prev events fetched from it): the error or None.
        #: Set by the composition root (``InboundTransactions.receive_pdu``).
        self.receive_resident: (
            Callable[[str, dict[str, Any], RoomVersion], Awaitable[str | None]] | None
        ) = None
        self._queries = queries
        self._signatures = signatures
        self._pipeline = pipeline
        self.templates = MemberTemplates(
            server_name, keypair, client, clock, supported_versions(allow_unstable_room_versions)
        )

    async def resolve_alias(self, alias: str, server: str) -> tuple[str, list[str]]:
        """Another server's alias: its room and the servers to join through."""
        answer = await self._queries.alias(alias, server)
        return str(answer["room_id"]), [str(s) for s in answer["servers"]]

    async def join(
        self,
        user_id: str,
        room_id: str,
        servers: Sequence[str],
        content: dict[str, Any],
        *,
        resident: bool = False,
    ) -> str:
        """Join ``user_id`` through the first of ``servers`` that lets us; the join's ID.
        ``resident``: this server is in the room but none of its members may vouch for
        a restricted join; only the signed join is taken, as a PDU of the room."""
        candidates = [s for s in dict.fromkeys(servers) if s != self._server_name]
        return await try_servers(
            candidates,
            lambda server: self._join_via(server, user_id, room_id, content, resident),
            "join the room",
        )

    async def _join_via(
        self, server: str, user_id: str, room_id: str, content: dict[str, Any], resident: bool
    ) -> str:
        template, rv = await self.templates.make(server, MembershipState.JOIN, user_id, room_id)
        pdu = self.templates.fill(
            template, rv, user_id, room_id, {**content, "membership": MembershipState.JOIN}
        )
        event_id = Event(pdu, rv).event_id
        path = (
            f"/_matrix/federation/v2/send_join/{quote(room_id, safe='')}/{quote(event_id, safe='')}"
        )
        if self._partial_state and not resident:
            path += "?omit_members=true"
        answer = await self.templates.send(
            server, path, pdu, "send_join", max_response=MAX_SEND_JOIN_RESPONSE
        )
        if not isinstance(answer, dict):
            raise Failed("send_join answered no object")
        state, auth_chain = answer.get("state"), answer.get("auth_chain")
        if not isinstance(state, list) or not isinstance(auth_chain, list):
            raise Failed("send_join answered without state/auth_chain")
        signed = answer.get("event")
        if isinstance(signed, dict) and _same_event(signed, event_id, rv):
            pdu = signed  # a restricted join, also signed by the resident server
        if resident:
            return await self._take_resident(server, pdu, rv, event_id)
        checked_state, checked_chain = await asyncio.gather(
            self._verified(state, rv), self._verified(auth_chain, rv)
        )
        partial = self._partial_servers(server, answer) if self._partial_state else None
        try:
            event = await self._pipeline.persist_remote_join(
                room_id, rv, checked_state, checked_chain, pdu, partial_servers=partial
            )
        except JoinStateError as exc:
            raise Failed(str(exc)) from exc
        if partial is not None and self.on_partial_join is not None:
            self.on_partial_join(room_id)
        return event.event_id

    async def _take_resident(
        self, server: str, pdu: dict[str, Any], rv: RoomVersion, event_id: str
    ) -> str:
        """Our join in a room we are in: its signatures checked (the authorising
        server's too) and taken like any PDU of the room, on our own state — the
        answer's state is not needed (Synapse persists such a join as a new event)."""
        if self.receive_resident is None:
            raise Failed("joining a room this server is in through another server")
        try:
            checked = await self._signatures.check(pdu, rv)
        except Exception as exc:
            raise Failed(f"send_join answered a join that does not verify: {exc}") from exc
        error = await self.receive_resident(server, checked, rv)
        if error is not None:
            raise Failed(f"our join through {server} was not accepted: {error}")
        return event_id

    def _partial_servers(self, server: str, answer: dict[str, Any]) -> list[str] | None:
        """The servers to fetch the full state from when the answer's state is partial
        (``members_omitted``): the resident first, then its ``servers_in_room``."""
        if answer.get("members_omitted") is not True:
            return None
        listed = answer.get("servers_in_room")
        others = [s for s in listed if isinstance(s, str)] if isinstance(listed, list) else []
        return [s for s in dict.fromkeys([server, *others]) if s != self._server_name]

    async def _verified(self, pdus: list[Any], rv: RoomVersion) -> list[dict[str, Any]]:
        """The PDUs whose required signatures verify (redacted if their content hash
        does not match); the others are dropped."""
        limit = asyncio.Semaphore(CONCURRENT_CHECKS)

        async def check(pdu: Any) -> dict[str, Any] | None:
            if not isinstance(pdu, dict):
                return None
            async with limit:
                try:
                    return await self._signatures.check(pdu, rv, for_join=True)
                except Exception as exc:  # a bad or unverifiable event is dropped, not fatal
                    log.info("dropping an event of a send_join response: %r", exc)
                    return None

        checked = await asyncio.gather(*(check(p) for p in pdus))
        return [p for p in checked if p is not None]


def _same_event(pdu: dict[str, Any], event_id: str, rv: RoomVersion) -> bool:
    try:
        return Event(pdu, rv).event_id == event_id
    except Exception:
        return False
