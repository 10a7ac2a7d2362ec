"""Sliding sync connections on disk, so a client's ``pos`` goes on after a restart.

Each connection stores two positions: the newest one answered (its rooms, one row
per room, rewritten only where a response changed them) and the one that response
was answered from (as an ``undo`` of the rooms that differ), so a client that
retries its previous ``pos`` after a restart is answered too, as before one.
Layouts: ``MAPS.userdeviceconnid_slidingconn`` and
``MAPS.userdeviceconnidroomid_slidingroom``. Writes are not synced: losing the last
one on a crash only makes that client start over (``M_UNKNOWN_POS``).

Writes and deletions run off the event loop, in the order they were asked for, on
one thread of their own (``asyncio.to_thread``'s pool has many threads and would
let a later write overtake an earlier one): the comparison with the stored state,
the encoding and the batch of a 20,000-room connection no longer stall every other
request. The response waits (without blocking the loop) for its write to be in
RocksDB, so a crash after a client has a ``pos`` still finds it, as before. Reading
a connection back (``load_off_loop``) runs on the same thread, after the writes
queued before it; ``close`` (before the database closes) waits for all of them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from conduwuit.db import Database
from conduwuit.db.codec import SEP, key, prefix, prefix_end
from conduwuit.db.maps import MAPS
from conduwuit.service.sliding_sync.connections import ConnKey, ConnState, SentRoom

log = logging.getLogger(__name__)

VERSION = 1

#: A stored connection read back: its position and the states kept (it and its base).
Loaded = tuple[int, dict[int, ConnState]]


@dataclass(frozen=True)
class Header:
    """A stored connection without its rooms."""

    pos: int
    next_pos: int
    last_used: float
    lists: dict[str, int] = field(default_factory=dict)
    base: int | None = None
    base_lists: dict[str, int] = field(default_factory=dict)
    undo: dict[str, SentRoom | None] = field(default_factory=dict)


class ConnectionStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._conns = db.map(MAPS.userdeviceconnid_slidingconn)
        self._rooms = db.map(MAPS.userdeviceconnidroomid_slidingroom)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sliding-store")
        #: The last operation queued for each connection (one in flight or done).
        self._queued: dict[ConnKey, Future[None]] = {}
        #: Connections whose last write failed: the next one rewrites them whole.
        #: Only the writer thread reads and changes it.
        self._failed: set[ConnKey] = set()

    def headers(self) -> Iterator[tuple[ConnKey, Header]]:
        """Every stored connection; one that cannot be read is deleted (its client
        starts over)."""
        for raw_key, raw in list(self._conns.iter_prefix(b"")):
            parts = raw_key.split(SEP)
            conn_key = tuple(p.decode() for p in parts) if len(parts) == 3 else None
            header = _decode_header(raw)
            if conn_key is None or header is None:
                log.warning("dropping an unreadable sliding sync connection %r", raw_key)
                self._delete_key(raw_key)
                continue
            yield (conn_key[0], conn_key[1], conn_key[2]), header

    def load(self, conn: ConnKey) -> Loaded | None:
        """The stored position and the states of it and of ``base`` (when there is
        one); None when the connection is not stored. Blocks: waits for the
        connection's queued writes (a connection leaves memory only when idle, so
        there are none but in a test) and reads on the caller's thread."""
        queued = self._queued.get(conn)
        if queued is not None:
            queued.result()
        return self._read(conn)

    async def load_off_loop(self, conn: ConnKey) -> Loaded | None:
        """``load`` on the writer thread, after every write queued before it."""
        return await asyncio.shield(asyncio.wrap_future(self._writer.submit(self._read, conn)))

    def _read(self, conn: ConnKey) -> Loaded | None:
        raw = self._conns.get(key(*conn))
        header = _decode_header(raw) if raw is not None else None
        if header is None:
            return None
        start = prefix(*conn)
        rooms = {
            k[len(start) :].decode(): _decode_room(json.loads(raw))
            for k, raw in self._rooms.iter_prefix(start)
        }
        states = {header.pos: ConnState(rooms, header.lists)}
        if header.base is not None and header.base != header.pos:
            base = dict(rooms)
            for room_id, sent in header.undo.items():
                if sent is None:
                    base.pop(room_id, None)
                else:
                    base[room_id] = sent
            states[header.base] = ConnState(base, header.base_lists)
        return header.pos, states

    def record(
        self,
        conn: ConnKey,
        pos: int,
        state: ConnState,
        base: tuple[int, ConnState] | None,
        next_pos: int,
        last_used: float,
        stored: ConnState | None,
    ) -> None:
        """Queue the write of ``state`` as the connection's position ``pos``, answered
        from ``base``; ``stored`` is the state on disk once the writes queued before
        are done (None: nothing), so only the rooms that differ from it are written.
        The states are never changed once made, so the writer reads them safely."""

        def write() -> None:  # on the writer thread
            before = {} if stored is None or conn in self._failed else stored.rooms
            undo: dict[str, SentRoom | None] = {}
            if base is not None and base[0] != pos:
                undo = _differing(state.rooms, base[1].rooms)
            header = Header(
                pos,
                next_pos,
                last_used,
                dict(state.list_counts),
                None if base is None else base[0],
                {} if base is None else dict(base[1].list_counts),
                undo,
            )
            changed = {r: s for r, s in state.rooms.items() if before.get(r) is not s}
            changed = {r: s for r, s in changed.items() if before.get(r) != s}
            removed = [r for r in before if r not in state.rooms]
            fresh = stored is None or conn in self._failed
            self._save(conn, header, changed, removed, fresh=fresh)
            self._failed.discard(conn)

        self._queue(conn, write)

    def delete(self, conn: ConnKey) -> None:
        """Queue the deletion of the connection (after its queued writes)."""
        self._queue(conn, lambda: self._delete_key(key(*conn)))

    async def written(self, conn: ConnKey) -> None:
        """Wait, without blocking the loop, until the connection's queued writes are
        done. A cancelled waiter (the client went away) leaves the write queued."""
        queued = self._queued.get(conn)
        if queued is not None:
            await asyncio.shield(asyncio.wrap_future(queued))

    def flush(self) -> None:
        """Wait (blocking) until every queued write is on disk."""
        self._writer.submit(_nothing).result()

    async def drained(self) -> None:
        """Wait, without blocking the loop, until every queued write is on disk."""
        await asyncio.shield(asyncio.wrap_future(self._writer.submit(_nothing)))

    def close(self) -> None:
        """Finish the queued writes; none is accepted after. Before the database
        closes (``Services.close``)."""
        self._writer.shutdown(wait=True)

    def _queue(self, conn: ConnKey, write: Callable[[], None]) -> None:
        if len(self._queued) >= _PRUNE_AT:
            self._queued = {k: f for k, f in self._queued.items() if not f.done()}
        self._queued[conn] = self._writer.submit(self._logged, conn, write)

    def _logged(self, conn: ConnKey, write: Callable[[], None]) -> None:
        """Run ``write`` on the writer thread. A failure is logged, not raised: the
        answer still goes out (this process keeps the connection in memory); the
        connection's next write rewrites it whole, and until then a restart may find
        it older (the client then gets ``M_UNKNOWN_POS``, as after a crash)."""
        try:
            write()
        except Exception:
            self._failed.add(conn)
            log.exception("could not store sliding sync connection %s/%s/%s", *conn)

    def _save(
        self,
        conn: ConnKey,
        header: Header,
        changed: Mapping[str, SentRoom],
        removed: Iterable[str],
        *,
        fresh: bool,
    ) -> None:
        """One batch: the header, the rooms that changed since the stored position and
        the ones gone (``fresh``: the connection's old rows are dropped first)."""
        with self._db.batch(sync=False) as batch:
            if fresh:
                start = prefix(*conn)
                batch.delete_range(self._rooms, start, prefix_end(start) or start)
            batch.put(self._conns, key(*conn), _encode_header(header))
            for room_id, sent in changed.items():
                batch.put(self._rooms, key(*conn, room_id), _encode_room(sent))
            for room_id in removed:
                batch.delete(self._rooms, key(*conn, room_id))

    def _delete_key(self, conn_key: bytes) -> None:
        start = conn_key + SEP
        with self._db.batch(sync=False) as batch:
            batch.delete(self._conns, conn_key)
            batch.delete_range(self._rooms, start, prefix_end(start) or start)


#: Done entries of ``ConnectionStore._queued`` are dropped when it reaches this size.
_PRUNE_AT = 256


def _nothing() -> None:
    pass


def _differing(
    rooms: Mapping[str, SentRoom], base: Mapping[str, SentRoom]
) -> dict[str, SentRoom | None]:
    """What turns ``rooms`` into ``base``: base's entry (None: absent) for each room
    where the two differ."""
    out: dict[str, SentRoom | None] = {}
    for room_id, sent in rooms.items():
        old = base.get(room_id)
        if old is not sent and old != sent:
            out[room_id] = old
    for room_id, old in base.items():
        if room_id not in rooms:
            out[room_id] = old
    return out


def _encode_room(sent: SentRoom) -> bytes:
    return json.dumps(_room_json(sent), separators=(",", ":")).encode()


def _room_json(sent: SentRoom) -> list[Any]:
    return [
        sent.since,
        sent.membership,
        sorted(sent.required_state),
        sent.bump_stamp,
        sorted(sent.lazy_members),
        sent.timeline_limit,
    ]


def _decode_room(value: list[Any]) -> SentRoom:
    since, membership, required, bump, lazy, limit = value
    return SentRoom(
        int(since),
        str(membership),
        frozenset((str(t), str(k)) for t, k in required),
        int(bump),
        frozenset(str(u) for u in lazy),
        int(limit),
    )


def _encode_header(header: Header) -> bytes:
    body = {
        "v": VERSION,
        "pos": header.pos,
        "next": header.next_pos,
        "used": header.last_used,
        "lists": header.lists,
        "base": header.base,
        "base_lists": header.base_lists,
        "undo": {r: None if s is None else _room_json(s) for r, s in header.undo.items()},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _decode_header(raw: bytes) -> Header | None:
    try:
        body = json.loads(raw)
        if body.get("v") != VERSION:
            return None
        return Header(
            int(body["pos"]),
            int(body["next"]),
            float(body["used"]),
            {str(k): int(v) for k, v in body["lists"].items()},
            None if body["base"] is None else int(body["base"]),
            {str(k): int(v) for k, v in body["base_lists"].items()},
            {str(r): None if s is None else _decode_room(s) for r, s in body["undo"].items()},
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
