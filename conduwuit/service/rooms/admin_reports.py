"""Stored event reports as Synapse's admin API shows them
(docs/admin_api/event_reports.md): listed newest first by default, filtered by room,
reporter or the reported event's sender, with the room's name and canonical alias;
one report with the reported event; deleting one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conduwuit.core.errors import not_found
from conduwuit.core.event_types import EventType
from conduwuit.service.rooms.reports import EventReport, Reports
from conduwuit.service.rooms.state import RoomState
from conduwuit.service.rooms.timeline import Timeline


@dataclass(frozen=True, slots=True)
class ReportQuery:
    start: int = 0
    limit: int = 100
    #: Synapse's default: newest first (``dir=b``).
    backwards: bool = True
    room_id: str | None = None
    user_id: str | None = None
    event_sender_user_id: str | None = None


class EventReportAdmin:
    def __init__(self, reports: Reports, state: RoomState, timeline: Timeline) -> None:
        self._reports = reports
        self._state = state
        self._timeline = timeline

    def _sender(self, report: EventReport) -> str | None:
        pdu = self._timeline.get(report.event_id)
        sender = pdu.get("sender") if pdu is not None else None
        return sender if isinstance(sender, str) else None

    def _row(self, report: EventReport) -> dict[str, Any]:
        name = alias = None
        if self._state.exists(report.room_id):
            current = self._state.current_hash(report.room_id)
            name = (self._state.content_at(current, EventType.NAME) or {}).get("name")
            alias = (self._state.content_at(current, EventType.CANONICAL_ALIAS) or {}).get("alias")
        return {
            "id": report.id,
            "received_ts": report.received_ts,
            "room_id": report.room_id,
            "name": name if isinstance(name, str) else None,
            "event_id": report.event_id,
            "user_id": report.user_id,
            "reason": report.reason,
            "score": report.score,
            "sender": self._sender(report),
            "canonical_alias": alias if isinstance(alias, str) else None,
        }

    def list_reports(self, query: ReportQuery) -> dict[str, Any]:
        """Synapse filters ``room_id`` and ``user_id`` by containment (SQL LIKE) and
        the sender exactly."""
        found = []
        for report in self._reports.event_reports():
            if query.room_id is not None and query.room_id not in report.room_id:
                continue
            if query.user_id is not None and query.user_id not in report.user_id:
                continue
            if (
                query.event_sender_user_id is not None
                and self._sender(report) != query.event_sender_user_id
            ):
                continue
            found.append(report)
        if query.backwards:
            found.reverse()
        page = found[query.start : query.start + query.limit]
        reply: dict[str, Any] = {
            "event_reports": [self._row(r) for r in page],
            "total": len(found),
        }
        if query.start + len(page) < len(found):
            reply["next_token"] = query.start + len(page)
        return reply

    def details(self, report_id: int) -> dict[str, Any]:
        report = self._reports.event_report(report_id)
        if report is None:
            raise not_found("Event report not found")
        return {**self._row(report), "event_json": self._timeline.get(report.event_id)}

    def delete(self, report_id: int) -> None:
        if not self._reports.delete_event_report(report_id):
            raise not_found("Event report not found")
