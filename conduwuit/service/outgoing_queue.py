"""A persistent, bounded, per-destination queue of what is to be sent, with one
delivery task per destination: the part the federation sender (servers) and the
appservice sender (application services) share.

**Persistence.** An entry is written in the queue's map *in the batch of what it
stands for* (:meth:`OutgoingQueue.stage`), so whatever is committed is queued, and
stays until its destination acknowledged it — also across a restart. Keys are
``destination, 0xFF, u64 stream count``: oldest first per destination. A value's
first byte is its *kind* (the sender's business, e.g. PDU or EDU); the rest is the
sender's payload.

**Batches.** One transaction carries the oldest entries, at most ``batch_limits[kind]``
of each kind; the batch ends at the first entry whose kind is full, so order is kept.
Its transaction ID derives from the keys it carries (:func:`txn_id_for`): a retry, in
this process or after a restart, sends the same ID and the receiver de-duplicates.

**Delivery.** One task per destination sends its batches one at a time, waiting out
the :class:`Transport`'s backoff before each attempt. The transport says what came of
an attempt (:class:`Outcome`): acknowledged or refused for good (the batch is
dropped), failed (the same batch is tried again), or the destination is gone (its
whole queue is dropped).

**Bounds.** A destination keeps at most ``limit`` entries; beyond, the oldest are
dropped and logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from conduwuit.core.base64 import encode_urlsafe
from conduwuit.db import Batch, Database, MapSpec
from conduwuit.db.codec import from_u64, key, prefix, u64
from conduwuit.service.tasks import BackgroundTasks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueItem:
    key: bytes
    #: The value's first byte: what kind of entry it is (the sender's codes).
    kind: bytes
    payload: bytes


class Outcome(Enum):
    #: The destination acknowledged the batch: drop it.
    SENT = "sent"
    #: The destination refused the batch for good (sending it again cannot help):
    #: drop it (the transport logs why).
    REFUSED = "refused"
    #: The attempt failed: send the same batch again after the backoff.
    RETRY = "retry"
    #: The destination may no longer be sent to: drop its whole queue.
    ABANDON = "abandon"


class Transport(Protocol):
    """How a sender turns a batch into a transaction and delivers it."""

    def build(self, destination: str, items: Sequence[QueueItem]) -> Any:
        """The body of the transaction carrying ``items`` (built once per batch)."""
        ...

    async def deliver(self, destination: str, txn_id: str, body: Any) -> Outcome: ...

    def retry_in_s(self, destination: str) -> float:
        """Seconds to wait before the next attempt to ``destination`` (0.0: now)."""
        ...


def txn_id_for(keys: Sequence[bytes]) -> str:
    """The ID of the transaction carrying these queue entries: the same entries give the
    same ID (a retry), different ones another (entries are never queued twice)."""
    digest = hashlib.sha256(b"".join(k[-8:] for k in keys)).digest()[:12]
    return f"{from_u64(keys[0][-8:])}-{encode_urlsafe(digest)}"


class OutgoingQueue:
    def __init__(
        self,
        db: Database,
        spec: MapSpec,
        name: str,
        transport: Transport,
        batch_limits: Mapping[bytes, int],
        limit: int,
    ) -> None:
        """``name`` names the tasks and log lines; ``batch_limits`` gives the most
        entries of each kind one transaction carries (a kind not listed: 1)."""
        self._db = db
        self._map = db.map(spec)
        self._name = name
        self._transport = transport
        self._batch_limits = dict(batch_limits)
        self.limit = limit
        self._sizes: dict[str, int] = {}
        self._busy: set[str] = set()
        #: Set by ``wake`` to end a busy destination's backoff sleep early.
        self._nudges: dict[str, asyncio.Event] = {}
        self._tasks = BackgroundTasks()
        self._running = False

    # -- staging (in the batch of what is sent) ----------------------------------------
    def stage(self, b: Batch, destinations: Iterable[str], value: bytes, n: int) -> None:
        """Queue ``value`` (its first byte is its kind) at stream count ``n`` for each
        destination, in ``b``; the destinations are woken once it is committed."""
        wanted = set(destinations)
        if not wanted:
            return
        for destination in wanted:
            b.put(self._map, key(destination, u64(n)), value)
        b.after_commit(lambda: self._queued(wanted))

    def _queued(self, destinations: Iterable[str]) -> None:
        for destination in destinations:
            self._sizes[destination] = self._sizes.get(destination, 0) + 1
            if self._sizes[destination] > self.limit:
                self.trim(destination, self.limit)
            self.wake(destination)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> list[str]:
        """Count each destination's entries (what a previous run left) and accept
        wake-ups; the destinations with entries, for the sender to trim or wake."""
        self._running = True
        sizes: dict[str, int] = {}
        for k, _ in self._map.iter_prefix(b""):
            destination = k[:-9].decode()
            sizes[destination] = sizes.get(destination, 0) + 1
        self._sizes = sizes
        return list(sizes)

    async def stop(self) -> None:
        self._running = False
        await self._tasks.stop()
        self._busy.clear()

    def depths(self) -> dict[str, int]:
        """Entries queued per destination with anything queued."""
        return {destination: n for destination, n in self._sizes.items() if n}

    def pending(self, destination: str) -> int:
        """Entries queued for ``destination`` (not yet acknowledged)."""
        return self._sizes.get(destination, 0)

    # -- the entries -------------------------------------------------------------------
    def trim(self, destination: str, keep: int) -> None:
        """Drop the oldest entries of ``destination`` beyond the newest ``keep``."""
        entries = [k for k, _ in self._map.iter_prefix(prefix(destination))]
        drop = entries[: max(0, len(entries) - keep)]
        if drop:
            with self._db.batch() as b:
                for k in drop:
                    b.delete(self._map, k)
            log.warning(
                "%s queue of %s over its bound: %d oldest dropped",
                self._name,
                destination,
                len(drop),
            )
        if keep == 0:
            self._sizes.pop(destination, None)
        elif drop:
            self._sizes[destination] = len(entries) - len(drop)

    def next_batch(self, destination: str) -> list[QueueItem]:
        """The oldest entries, up to the first whose kind is already full."""
        items: list[QueueItem] = []
        counts: dict[bytes, int] = {}
        for k, v in self._map.iter_prefix(prefix(destination)):
            kind = v[:1]
            if counts.get(kind, 0) >= self._batch_limits.get(kind, 1):
                break
            counts[kind] = counts.get(kind, 0) + 1
            items.append(QueueItem(k, kind, v[1:]))
        return items

    def _acknowledged(self, destination: str, items: Sequence[QueueItem]) -> None:
        with self._db.batch() as b:
            for item in items:
                b.delete(self._map, item.key)
        self._sizes[destination] = max(0, self._sizes.get(destination, 0) - len(items))

    # -- delivery ----------------------------------------------------------------------
    def wake(self, destination: str) -> None:
        """Start sending ``destination``'s entries; if they are being sent already, end
        a backoff sleep early so that the backoff is checked again (it may have been
        reset: the destination showed it is back)."""
        if not self._running or not self._sizes.get(destination):
            return
        if destination in self._busy:
            nudge = self._nudges.get(destination)
            if nudge is not None:
                nudge.set()
            return
        self._busy.add(destination)
        _ = self._tasks.spawn(f"{self._name}-sender {destination}", self._drain(destination))

    async def _drain(self, destination: str) -> None:
        try:
            await self._send_all(destination)
        finally:
            self._busy.discard(destination)

    async def _sleep(self, destination: str, seconds: float) -> None:
        """Wait ``seconds`` or until ``wake`` nudges ``destination``."""
        nudge = self._nudges[destination] = asyncio.Event()
        try:
            await asyncio.wait_for(nudge.wait(), seconds)
        except TimeoutError:
            pass
        finally:
            del self._nudges[destination]

    async def _send_all(self, destination: str) -> None:
        items: list[QueueItem] = []
        body: Any = None
        txn_id = ""
        while self._running:
            if not items:
                items = self.next_batch(destination)
                if not items:
                    return
                txn_id = txn_id_for([i.key for i in items])
                body = self._transport.build(destination, items)
            wait = self._transport.retry_in_s(destination)
            if wait > 0:
                await self._sleep(destination, wait)
                continue
            outcome = await self._transport.deliver(destination, txn_id, body)
            if outcome is Outcome.ABANDON:
                self.trim(destination, 0)
                return
            if outcome is not Outcome.RETRY:
                self._acknowledged(destination, items)
                items = []
