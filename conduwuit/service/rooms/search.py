"""``POST /search`` over room events (client-server API "Server Side Search").

Candidates come from the word index (every query word must occur, as conduwuit
does), only in rooms the user is joined to, then the filter and history
visibility apply. ``rank`` is the number of query-word occurrences; ``order_by``
``recent`` sorts by stream position instead. ``next_batch`` is an offset.
"""

from __future__ import annotations

from typing import Any

from conduwuit.core.client_event import to_client
from conduwuit.core.errors import bad_json, invalid_param, missing_param
from conduwuit.core.event_filter import RoomEventFilter
from conduwuit.core.event_types import EventType
from conduwuit.core.ids import RoomId, UserId
from conduwuit.core.membership import MembershipState
from conduwuit.core.numbers import parse_uint
from conduwuit.service.rooms.history import RoomHistory
from conduwuit.service.rooms.search_index import SEARCH_KEYS, SearchIndex, words
from conduwuit.service.rooms.timeline import count_of

MAX_RESULTS = 100


class Search:
    def __init__(self, history: RoomHistory, index: SearchIndex) -> None:
        self.history = history
        self.storage = history.storage
        self.index = index

    def search(
        self, user: UserId, criteria: dict[str, Any], next_batch: str | None = None
    ) -> dict[str, Any]:
        term = criteria.get("search_term")
        if not isinstance(term, str):
            raise missing_param("Missing parameter: search_term")
        keys = criteria.get("keys", list(SEARCH_KEYS))
        if not isinstance(keys, list) or any(k not in SEARCH_KEYS for k in keys):
            raise invalid_param("keys must be content.body/name/topic")
        order_by = criteria.get("order_by", "rank")
        if order_by not in ("rank", "recent"):
            raise invalid_param("order_by must be rank or recent")
        event_filter = RoomEventFilter.from_json(criteria.get("filter"))
        limit = max(1, min(event_filter.limit or 10, MAX_RESULTS))
        offset = 0
        if next_batch is not None:
            batch_offset = parse_uint(next_batch)
            if batch_offset is None:
                raise invalid_param("Invalid next_batch")
            offset = batch_offset

        query = words(term)
        rooms = [
            r.room_id
            for r in self.storage.member_index.rooms_of(str(user), (MembershipState.JOIN,))
        ]
        rooms = [r for r in rooms if event_filter.rooms is None or r in event_filter.rooms]
        hits: list[tuple[float, int, dict[str, Any]]] = []
        for room in rooms if query else []:
            shortroomid = self.storage.short.room(room)
            if shortroomid is None:
                continue
            candidates: set[bytes] | None = None
            for word in query:
                found = self.index.matches(shortroomid, word)
                candidates = found if candidates is None else candidates & found
                if not candidates:
                    break
            access = self.history.access(user, room)
            for pdu_id in candidates or ():
                located = self.storage.timeline.get_timeline_by_pduid(pdu_id)
                if located is None or not event_filter.matches(located):
                    continue
                # The served form: an erased sender's event is matched on its redacted
                # copy, so a search cannot reveal what it said.
                seen = self.history.view(user, located, access)
                if seen is None:
                    continue
                located = seen
                content = located.get("content") or {}
                text = " ".join(
                    str(content.get(SEARCH_KEYS[k], "")) for k in keys if SEARCH_KEYS[k] in content
                )
                if not query <= words(text):
                    continue  # matched on a key the caller did not ask for
                rank = float(sum(text.lower().count(w) for w in query))
                hits.append((rank, count_of(pdu_id), located))
        if order_by == "rank":
            hits.sort(key=lambda h: (-h[0], -h[1]))
        else:
            hits.sort(key=lambda h: -h[1])
        page = hits[offset : offset + limit]
        now = self.storage.clock()
        results = []
        context = criteria.get("event_context")
        for rank, _, pdu in page:
            result: dict[str, Any] = {"rank": rank, "result": to_client(pdu, now)}
            if isinstance(context, dict):
                result["context"] = self._context(user, pdu, context)
            results.append(result)
        body: dict[str, Any] = {
            "count": len(hits),
            "results": results,
            "highlights": sorted(query),
        }
        if len(page) >= limit:
            # A full page has a next batch even if nothing follows (the next one is then
            # empty and has none), as Synapse does; sytest "Can back-paginate search
            # results" expects exactly that.
            body["next_batch"] = str(offset + limit)
        if criteria.get("include_state") is True:
            body["state"] = {
                room: self.history.state(user, _room_id(room))
                for room in sorted({str(p["room_id"]) for _, _, p in page})
            }
        return {"search_categories": {"room_events": body}}

    def _context(self, user: UserId, pdu: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        before = spec.get("before_limit", 5)
        after = spec.get("after_limit", 5)
        if not isinstance(before, int) or not isinstance(after, int):
            raise bad_json("event_context limits must be integers")
        room = _room_id(str(pdu["room_id"]))
        around = self.history.context(
            user, room, str(pdu["event_id"]), limit=2 * max(before, after)
        )
        out: dict[str, Any] = {
            "events_before": around["events_before"][:before],
            "events_after": around["events_after"][:after],
            "start": around["start"],
            "end": around["end"],
        }
        if spec.get("include_profile"):
            senders = {str(e["sender"]) for e in [*out["events_before"], *out["events_after"]]}
            state = self.storage.state
            current = state.current_hash(str(room))
            info = {}
            for sender in senders:
                member = state.content_at(current, EventType.MEMBER, sender) or {}
                info[sender] = {k: member[k] for k in ("displayname", "avatar_url") if k in member}
            out["profile_info"] = info
        return out


def _room_id(value: str) -> RoomId:
    return RoomId.parse(value)
