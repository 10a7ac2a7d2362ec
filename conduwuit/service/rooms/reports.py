"""Reporting rooms, events and users (client-server API "Reporting content") with
conduwuit's checks: the event is in the room, the reporter is in the room, the
reason is at most 750 characters. Reports are logged and handed to the listeners
(the admin room posts them, as conduwuit does); conduwuit's small random delay is
the API layer's part.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from conduwuit.core.errors import invalid_param, not_found
from conduwuit.core.ids import RoomId, UserId
from conduwuit.core.membership import MembershipState
from conduwuit.service.rooms.member_index import MemberIndex
from conduwuit.service.rooms.timeline import Timeline

log = logging.getLogger(__name__)

MAX_REASON = 750


def escape_for_log(text: str | None) -> str:
    """``text`` with every non-printable character (newlines, ANSI escapes, bidi
    controls) as a Python escape, so a reporter cannot forge log lines or drive the
    admin's terminal."""
    if text is None:
        return "None"
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


class Reports:
    def __init__(
        self, members: MemberIndex, timeline: Timeline, is_local_user: Callable[[str], bool]
    ) -> None:
        self._members = members
        self._timeline = timeline
        self._is_local_user = is_local_user
        #: Called with each accepted report as text (the admin room posts it).
        self.listeners: list[Callable[[str], None]] = []

    def _tell(self, text: str) -> None:
        for listener in self.listeners:
            listener(text)

    @staticmethod
    def _check_reason(reason: str | None) -> None:
        if reason is not None and len(reason) > MAX_REASON:
            raise invalid_param(
                f"Reason too long, should be {MAX_REASON} characters or fewer",
            )

    def report_event(
        self, user: UserId, room_id: RoomId, event_id: str, reason: str | None, score: int | None
    ) -> None:
        self._check_reason(reason)
        pdu = self._timeline.get(event_id)
        # One 404 for "no such event", "not in this room" and "you are not in it", so a
        # report does not reveal which (spec: servers SHOULD not leak existence).
        if pdu is None or pdu.get("room_id") != str(room_id):
            raise not_found("Event ID is not known to us or Event ID is invalid")
        if not self._members.is_joined(str(user), str(room_id)):
            raise not_found("Event ID is not known to us or Event ID is invalid")
        log.warning(
            "report: %s reported event %s in %s (score %s): %s",
            user,
            escape_for_log(event_id),
            room_id,
            score,
            escape_for_log(reason),
        )
        self._tell(
            f"Report received from {user}:\n\nEvent ID: {event_id}\nRoom ID: {room_id}\n"
            f"Score: {score}\nReason: {reason}"
        )

    def report_room(self, user: UserId, room_id: RoomId, reason: str | None) -> None:
        self._check_reason(reason)
        membership = self._members.membership(str(user), str(room_id))
        if membership is None and self._members.count(str(room_id), MembershipState.JOIN) == 0:
            raise not_found("Room does not exist to us, no local users have joined at all")
        log.warning("report: %s reported room %s: %s", user, room_id, escape_for_log(reason))
        self._tell(f"Room report received from {user}:\n\nRoom ID: {room_id}\nReason: {reason}")

    def report_user(self, user: UserId, reported: UserId, reason: str) -> None:
        """Client-server API "Reporting users" (v1.14): only users of this server
        that exist (and are not deactivated) can be reported, else 404 as conduwuit
        does; the reporter need not share a room with them."""
        self._check_reason(reason)
        if not self._is_local_user(str(reported)):
            raise not_found("User does not exist or is not a local user")
        log.warning(
            "report: %s reported user %s: %s",
            user,
            escape_for_log(str(reported)),
            escape_for_log(reason),
        )
        self._tell(f"User report received from {user}:\n\nUser ID: {reported}\nReason: {reason}")
