"""Reporting rooms, events and users (client-server API "Reporting content") with
conduwuit's checks: the event is in the room, the reporter is in the room, the
reason is at most 750 characters. Reports are logged and handed to the listeners
(the admin room posts them, as conduwuit does); event reports are also stored, for
Synapse's admin API (``event_reports``). conduwuit's small random delay is the API
layer's part.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass

from conduwuit.core.errors import invalid_param, not_found
from conduwuit.core.ids import RoomId, UserId
from conduwuit.core.membership import MembershipState
from conduwuit.db import MAPS, Database
from conduwuit.db.codec import from_u64, u64
from conduwuit.service.clock import Clock
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


@dataclass(frozen=True, slots=True)
class EventReport:
    """One stored event report."""

    id: int
    received_ts: int
    room_id: str
    event_id: str
    user_id: str
    reason: str | None
    score: int | None

    def to_bytes(self) -> bytes:
        fields = {k: v for k, v in asdict(self).items() if k != "id"}
        return json.dumps(fields, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, report_id: int, raw: bytes) -> EventReport:
        return cls(id=report_id, **json.loads(raw))


class Reports:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        members: MemberIndex,
        timeline: Timeline,
        is_local_user: Callable[[str], bool],
    ) -> None:
        self._db = db
        self._event_reports = db.map(MAPS.reportid_eventreport)
        self._clock = clock
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
        with self._db.batch() as b:
            report_id = b.next_count()
            report = EventReport(
                report_id, self._clock(), str(room_id), event_id, str(user), reason, score
            )
            b.put(self._event_reports, u64(report_id), report.to_bytes())
        self._tell(
            f"Report received from {user}:\n\nEvent ID: {event_id}\nRoom ID: {room_id}\n"
            f"Score: {score}\nReason: {reason}"
        )

    # -- the stored event reports (the admin API) ----------------------------------
    def event_reports(self) -> list[EventReport]:
        """Every stored event report, oldest first."""
        return [
            EventReport.from_bytes(from_u64(k), v) for k, v in self._event_reports.iter_prefix(b"")
        ]

    def event_report(self, report_id: int) -> EventReport | None:
        raw = self._event_reports.get(u64(report_id))
        return EventReport.from_bytes(report_id, raw) if raw is not None else None

    def delete_event_report(self, report_id: int) -> bool:
        """Delete one; False if there is no such report."""
        if not self._event_reports.contains(u64(report_id)):
            return False
        with self._db.batch() as b:
            b.delete(self._event_reports, u64(report_id))
        return True

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
