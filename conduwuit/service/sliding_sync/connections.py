"""Sliding sync connections: what each one has sent, per position.

A connection is a (user, device, ``conn_id``). Each response gets a new ``pos``,
``<connection position>_<stream position>``; the state kept for a position says which
rooms the client has, up to which stream position, with which ``required_state``.
A request with ``pos`` N reads N's state; when it answers from the newest position,
every other position but N is forgotten and the new one is kept beside N, so a
client that lost a response and retries N gets the same answer again (as Synapse
does); see ``commit`` for requests from older positions. An unknown, expired or
forgotten ``pos`` is ``M_UNKNOWN_POS``: the client starts over without ``pos``.

Every answer is written through to a ``ConnectionStore`` (RocksDB; the newest
position and the one it was answered from; queued in order and written off the event
loop), so connections survive a restart and idle ones need no memory: their states
are read back on their next request.

Memory and disk are bounded: connections idle for ``IDLE_S`` expire (and leave
memory after ``UNLOAD_S``), a user keeps at most ``MAX_PER_USER`` connections and the
server ``MAX_CONNECTIONS`` (least recently used go first), and a connection
remembers at most ``MAX_ROOMS`` rooms (forgetting the ones sent longest ago, which
are then sent again as ``initial``)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conduwuit.core.errors import ErrCode, MatrixError

if TYPE_CHECKING:
    from conduwuit.service.sliding_sync.stored import ConnectionStore, Loaded

#: A connection not used for this long is forgotten (Synapse's ``CONNECTION_EXPIRY``).
IDLE_S = 7 * 24 * 3600.0
#: A connection not used for this long leaves memory (the store keeps it; without a
#: store it is forgotten).
UNLOAD_S = 3600.0
#: How often at most idle connections are looked for.
SWEEP_S = 60.0
MAX_PER_USER = 16
MAX_CONNECTIONS = 4096
MAX_ROOMS = 20000
#: Positions kept per connection at most (older ones go first).
MAX_POSITIONS = 4
#: Lazy-loaded members remembered per room; past it the room's set starts over.
MAX_LAZY_MEMBERS = 1000

ConnKey = tuple[str, str, str]  # (user_id, device_id, conn_id)


@dataclass(frozen=True)
class SentRoom:
    """What the client has of a room: the room up to stream position ``since``."""

    since: int
    membership: str
    required_state: frozenset[tuple[str, str]]
    bump_stamp: int
    lazy_members: frozenset[str] = frozenset()
    #: The ``timeline_limit`` the room was last sent with (a larger one expands it).
    timeline_limit: int = 0


@dataclass(frozen=True)
class ConnState:
    """A connection's state at one position (never changed once stored)."""

    rooms: dict[str, SentRoom] = field(default_factory=dict)
    list_counts: dict[str, int] = field(default_factory=dict)


def unknown_pos(why: str) -> MatrixError:
    return MatrixError(ErrCode.UNKNOWN_POS, f"Unknown position: {why}; start without pos")


def parse_pos(pos: str) -> tuple[int, int]:
    """``pos`` → (connection position, stream position)."""
    conn, sep, stream = pos.partition("_")
    if not sep or not conn.isdigit() or not stream.isdigit():
        raise unknown_pos(f"{pos!r} is not a position of this server")
    return int(conn), int(stream)


def make_pos(conn_pos: int, stream: int) -> str:
    return f"{conn_pos}_{stream}"


@dataclass
class Connection:
    states: dict[int, ConnState] = field(default_factory=dict)
    next_pos: int = 1
    last_used: float = 0.0
    #: False while the states are on disk only (after a restart, or idle).
    loaded: bool = True
    #: The state on disk (None: nothing stored yet).
    stored: ConnState | None = None


class Connections:
    """The connections, in least recently used order; with a ``store`` each answer
    is written through to disk and a connection not in memory is read back from it."""

    def __init__(
        self, clock: Callable[[], float] = time.time, store: ConnectionStore | None = None
    ) -> None:
        self._clock = clock
        self._store = store
        self._connections: OrderedDict[ConnKey, Connection] = OrderedDict()
        self._swept = float("-inf")
        if store is not None:
            stored = sorted(store.headers(), key=lambda item: item[1].last_used)
            for key, header in stored:
                self._connections[key] = Connection(
                    next_pos=header.next_pos, last_used=header.last_used, loaded=False
                )
            self._bound_total()
            for user_id in {key[0] for key in self._connections}:
                self._bound_user(user_id)
            self.expire()

    def __len__(self) -> int:
        return len(self._connections)

    def state_at(self, key: ConnKey, pos: int | None) -> ConnState:
        """The state a request starts from: empty without ``pos`` (a new connection,
        replacing one of the same ``conn_id``), else the state stored for ``pos``."""
        self.expire()
        if pos is None:
            if key in self._connections:
                self._drop(key)
            return ConnState()
        conn = self._loaded(key)
        if conn is None or pos not in conn.states:
            raise unknown_pos("the connection expired or the position was replaced")
        conn.last_used = self._clock()
        self._connections.move_to_end(key)
        return conn.states[pos]

    def commit(self, key: ConnKey, pos: int | None, state: ConnState) -> int:
        """Store ``state`` as the position after ``pos``; returns its number.

        A request from the newest position means the client has moved on from the
        older ones, which are forgotten. A request from an older one (a retry, or a
        long-poll the client abandoned when it changed its lists, which aiohttp lets
        finish) forgets nothing, so it cannot invalidate the position the client uses
        now; at most ``MAX_POSITIONS`` are kept."""
        conn = self._loaded(key)
        if conn is None:
            conn = Connection()
            self._connections[key] = conn
            self._bound_user(key[0])
        base = conn.states.get(pos) if pos is not None else None
        newest = max(conn.states, default=None)
        if pos is not None and base == state:
            new = pos
        else:
            new = conn.next_pos
            conn.next_pos += 1
            conn.states[new] = _bounded(state)
        if pos is not None and pos == newest:
            conn.states = {p: s for p, s in conn.states.items() if p in (pos, new)}
        while len(conn.states) > MAX_POSITIONS:
            del conn.states[min(conn.states)]
        conn.last_used = self._clock()
        self._connections.move_to_end(key)
        if self._store is not None:
            answered_from = (pos, base) if pos is not None and base is not None else None
            self._store.record(
                key,
                new,
                conn.states[new],
                answered_from,
                conn.next_pos,
                conn.last_used,
                conn.stored,
            )
            conn.stored = conn.states[new]
        self._bound_total()
        return new

    def expire(self) -> None:
        """Forget connections idle for ``IDLE_S``, and (at most once a minute) drop
        the states of those idle for ``UNLOAD_S`` from memory: a store keeps them."""
        now = self._clock()
        if 0 <= now - self._swept < SWEEP_S:
            return
        self._swept = now
        for key, conn in list(self._connections.items()):
            if conn.last_used >= now - UNLOAD_S:
                break
            if conn.last_used < now - IDLE_S or self._store is None:
                self._drop(key)
            elif conn.loaded:
                conn.states, conn.stored, conn.loaded = {}, None, False

    async def read_back(self, key: ConnKey) -> None:
        """Read a connection that is on disk only back into memory off the event loop
        (a 20,000-room connection takes most of a second to read), before its request
        looks at it with ``state_at``."""
        self.expire()
        conn = self._connections.get(key)
        if conn is None or conn.loaded or self._store is None:
            return
        found = await self._store.load_off_loop(key)
        if self._connections.get(key) is not conn or conn.loaded:
            return  # dropped, replaced or read back while it was read
        if self._read_into(key, conn, found) is not None:
            # Used now: the next sweep must not send it back to disk before state_at.
            conn.last_used = self._clock()
            self._connections.move_to_end(key)

    def _loaded(self, key: ConnKey) -> Connection | None:
        """The connection, its states read from the store if they are not in memory
        (on the loop: ``read_back`` first does it off the loop)."""
        conn = self._connections.get(key)
        if conn is None or conn.loaded:
            return conn
        return self._read_into(key, conn, self._store.load(key) if self._store else None)

    def _read_into(self, key: ConnKey, conn: Connection, found: Loaded | None) -> Connection | None:
        if found is None:
            del self._connections[key]
            return None
        stored_pos, conn.states = found
        conn.stored, conn.loaded = conn.states[stored_pos], True
        return conn

    def _drop(self, key: ConnKey) -> None:
        del self._connections[key]
        if self._store is not None:
            self._store.delete(key)

    def _bound_total(self) -> None:
        while len(self._connections) > MAX_CONNECTIONS:
            self._drop(next(iter(self._connections)))

    def _bound_user(self, user_id: str) -> None:
        mine = [k for k in self._connections if k[0] == user_id]
        for key in mine[: max(0, len(mine) - MAX_PER_USER)]:
            self._drop(key)

    async def written(self, key: ConnKey) -> None:
        """Wait until what ``commit`` stored for the connection is on disk (off the
        loop): an answer goes out after its position is stored, as it did when the
        write ran inline."""
        if self._store is not None:
            await self._store.written(key)

    def close(self) -> None:
        """Finish the store's queued writes (before the database closes)."""
        if self._store is not None:
            self._store.close()

    def stats(self) -> dict[str, int]:
        """How much is kept: connections (and how many of them are on disk only),
        positions and rooms remembered in memory."""
        states = [s for c in self._connections.values() for s in c.states.values()]
        return {
            "connections": len(self._connections),
            "on_disk_only": sum(1 for c in self._connections.values() if not c.loaded),
            "positions": len(states),
            "rooms": sum(len(s.rooms) for s in states),
            "lazy_members": sum(len(r.lazy_members) for s in states for r in s.rooms.values()),
        }


def _bounded(state: ConnState) -> ConnState:
    if len(state.rooms) <= MAX_ROOMS:
        return state
    newest = sorted(state.rooms.items(), key=lambda item: item[1].since)[-MAX_ROOMS:]
    return ConnState(dict(newest), state.list_counts)
