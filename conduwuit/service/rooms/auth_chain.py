"""Auth chains: every event reachable from an event through ``auth_events``.

Each event's chain is memoised in ``shorteventid_authchain`` the first time it is
asked for, so later questions read one record per starting event, not the room.
The memo is a derived cache: written on its own, not in an event's batch.
"""

from __future__ import annotations

from collections.abc import Iterable

from conduwuit.db import MAPS, Database
from conduwuit.db.codec import from_u64, u64
from conduwuit.service.rooms.short import ShortIds
from conduwuit.service.rooms.timeline import Timeline


def _pack(ids: set[int]) -> bytes:
    return b"".join(u64(i) for i in sorted(ids))


def _unpack(raw: bytes) -> set[int]:
    return {from_u64(raw[i : i + 8]) for i in range(0, len(raw), 8)}


class AuthChains:
    def __init__(self, db: Database, short: ShortIds, timeline: Timeline) -> None:
        self._memo = db.map(MAPS.shorteventid_authchain)
        self._short = short
        self._timeline = timeline

    def _auth_event_ids(self, event_id: str) -> list[str]:
        pdu = self._timeline.get(event_id)
        if pdu is None:
            return []
        refs = pdu.get("auth_events", [])
        return [r[0] if isinstance(r, list) else r for r in refs if r]

    def _chain_of(self, short: int) -> set[int]:
        """The chain of one event (excluding itself), computed iteratively and memoised."""
        cached = self._memo.get(u64(short))
        if cached is not None:
            return _unpack(cached)
        # Post-order walk: an event's chain is its auth events plus their chains.
        results: dict[int, set[int]] = {}
        stack: list[tuple[int, bool]] = [(short, False)]
        while stack:
            node, expanded = stack.pop()
            if node in results:
                continue
            memo = self._memo.get(u64(node))
            if memo is not None:
                results[node] = _unpack(memo)
                continue
            event_id = self._short.event_id(node)
            parents = [
                p
                for p in (self._short.event(a) for a in self._auth_event_ids(event_id or ""))
                if p is not None
            ]
            if not expanded:
                stack.append((node, True))
                stack.extend((p, False) for p in parents if p not in results)
                continue
            chain: set[int] = set()
            for p in parents:
                chain.add(p)
                chain |= results.get(p, set())
            results[node] = chain
            self._memo.put(u64(node), _pack(chain))
        return results[short]

    def short_chain(self, event_ids: Iterable[str]) -> set[int]:
        out: set[int] = set()
        for event_id in event_ids:
            short = self._short.event(event_id)
            if short is not None:
                out |= self._chain_of(short)
        return out

    def event_ids(self, event_ids: Iterable[str]) -> set[str]:
        """The auth chain of these events as event IDs (not including the events)."""
        out = set()
        for short in self.short_chain(event_ids):
            event_id = self._short.event_id(short)
            if event_id is not None:
                out.add(event_id)
        return out
