"""Leaving and knocking on rooms this server is not in (server-server API "Leaving
Rooms (Rejecting Invites)", "Knocking upon a room").

A knock: ``make_knock`` / ``send_knock`` (v1) on the candidate servers in turn;
the knock is stored as our user's out-of-band membership with the room's stripped
state the resident server answered (``knock_room_state``), which /sync shows
under ``knock``.

A leave (rejecting an invite, retracting a knock): ``make_leave`` / ``send_leave``
(v2) on the candidate servers, the leave then stored as the user's out-of-band
membership so /sync moves the room to ``leave``. When no server takes it, the
leave is made here alone on the invite or knock, as Synapse does (its "local
out-of-band leave"): the user is out of the room on this server, and the resident
servers still see them invited or knocking.

Both events are signed by us and checked by the resident server; the state it
sends back is shown to our user only and never used for auth, so it is not
verified (as in Synapse).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from conduwuit.core.errors import MatrixError
from conduwuit.core.events import Event
from conduwuit.core.ids import server_of
from conduwuit.core.membership import MembershipState
from conduwuit.service.federation.templates import Failed, MemberTemplates, try_servers
from conduwuit.service.rooms.out_of_band import own_member_event, room_version_shown
from conduwuit.service.rooms.persist import Persister, stripped
from conduwuit.service.rooms.timeline import Timeline

log = logging.getLogger(__name__)


class RemoteMembership:
    def __init__(self, templates: MemberTemplates, persister: Persister, timeline: Timeline):
        self._templates = templates
        self._persister = persister
        self._timeline = timeline
        self._server_name = templates.server_name

    def _candidates(self, servers: Sequence[str]) -> list[str]:
        return [s for s in dict.fromkeys(servers) if s != self._server_name]

    # -- knocking ------------------------------------------------------------------------
    async def knock(
        self, user_id: str, room_id: str, servers: Sequence[str], content: dict[str, Any]
    ) -> str:
        """Knock through the first of ``servers`` that takes it; the knock's ID."""
        return await try_servers(
            self._candidates(servers),
            lambda server: self._knock_via(server, user_id, room_id, content),
            "knock on the room",
        )

    async def _knock_via(
        self, server: str, user_id: str, room_id: str, content: dict[str, Any]
    ) -> str:
        knock = MembershipState.KNOCK
        template, rv = await self._templates.make(server, knock, user_id, room_id)
        pdu = self._templates.fill(template, rv, user_id, room_id, {**content, "membership": knock})
        event = Event(pdu, rv)
        answer = await self._templates.send(
            server, _send_path("v1", knock, room_id, event.event_id), pdu, "send_knock"
        )
        if not isinstance(answer, dict):
            raise Failed("send_knock answered no object")
        # ``knock_state_events`` is the name MSC2403 used, still answered by some servers.
        room_state = answer.get("knock_room_state", answer.get("knock_state_events"))
        if not isinstance(room_state, list):
            raise Failed("send_knock answered without knock_room_state")
        strip = [stripped(e) for e in room_state if isinstance(e, dict) and "type" in e]
        self._persister.persist_out_of_band(event, strip)
        return event.event_id

    # -- leaving -------------------------------------------------------------------------
    async def leave(
        self,
        user_id: str,
        room_id: str,
        servers: Sequence[str],
        content: dict[str, Any],
        shown: Sequence[dict[str, Any]],
    ) -> str:
        """Reject an invite or retract a knock; ``shown``: the stripped state the user
        has of the room, whose senders' servers are asked too (the inviting server
        first, as Synapse does) and whose create event gives the room's version.
        Returns the leave's ID."""
        mine = own_member_event(shown, user_id)
        senders = [e.get("sender") for e in ([mine] if mine else [])] + [
            e.get("sender") for e in shown
        ]
        candidates = [
            *[server_of(s) for s in senders[:1] if isinstance(s, str) and ":" in s],
            *servers,
            *[server_of(s) for s in senders if isinstance(s, str) and ":" in s],
        ]
        try:
            return await try_servers(
                self._candidates(candidates),
                lambda server: self._leave_via(server, user_id, room_id, content),
                "leave the room",
            )
        except MatrixError as exc:
            # Synapse: "if we were unable to reject the invite, we will generate our
            # own leave event", whatever the failure (a refusal, DNS, a timeout).
            previous = self._timeline.get(str(mine.get("event_id"))) if mine else None
            if previous is None:
                raise
            log.info("no server took %s's leave of %s (%s): leaving here", user_id, room_id, exc)
            rv = room_version_shown(shown)
            pdu = self._templates.out_of_band(previous, rv, content)
            event = Event(pdu, rv)
            self._persister.persist_out_of_band(event)
            return event.event_id

    async def _leave_via(
        self, server: str, user_id: str, room_id: str, content: dict[str, Any]
    ) -> str:
        leave = MembershipState.LEAVE
        template, rv = await self._templates.make(server, leave, user_id, room_id)
        pdu = self._templates.fill(template, rv, user_id, room_id, content)
        event = Event(pdu, rv)
        await self._templates.send(
            server, _send_path("v2", leave, room_id, event.event_id), pdu, "send_leave"
        )
        self._persister.persist_out_of_band(event)
        return event.event_id


def _send_path(version: str, membership: str, room_id: str, event_id: str) -> str:
    return (
        f"/_matrix/federation/{version}/send_{membership}/"
        f"{quote(room_id, safe='')}/{quote(event_id, safe='')}"
    )
