"""The shared persistent queue (conduwuit.service.outgoing_queue) over a real RocksDB:
order, batch limits per kind, bounds, persistence across a reopen (the same
transaction IDs after it), backoff between retries, and what each outcome drops.

The transport is the queue's port to a sender; here it records what it is given and
answers from a script (the senders' own tests cover the real transports)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conduwuit.db import MAPS, Database, DatabaseOptions
from conduwuit.service.backoff import Backoff
from conduwuit.service.clock import monotonic_clock
from conduwuit.service.outgoing_queue import Outcome, OutgoingQueue, QueueItem, txn_id_for

A, B = b"a", b"b"
LIMITS = {A: 2, B: 1}


@dataclass
class Attempt:
    destination: str
    txn_id: str
    body: list[bytes]
    at: float


@dataclass
class ScriptedTransport:
    #: Answers in order; SENT once they run out.
    answers: list[Outcome] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    backoff: Backoff = field(default_factory=lambda: Backoff(monotonic_clock, 20, 80))
    builds: int = 0

    def build(self, destination: str, items: Sequence[QueueItem]) -> Any:
        self.builds += 1
        return [i.kind + i.payload for i in items]

    async def deliver(self, destination: str, txn_id: str, body: Any) -> Outcome:
        self.attempts.append(Attempt(destination, txn_id, body, time.monotonic()))
        outcome = self.answers.pop(0) if self.answers else Outcome.SENT
        if outcome is Outcome.RETRY:
            self.backoff.failed(destination)
        else:
            self.backoff.succeeded(destination)
        return outcome

    def retry_in_s(self, destination: str) -> float:
        return self.backoff.retry_in_s(destination)

    def sent(self, destination: str = "dest") -> list[list[bytes]]:
        return [a.body for a in self.attempts if a.destination == destination]


@pytest.fixture
def options(tmp_path: Path) -> DatabaseOptions:
    return DatabaseOptions(path=tmp_path / "db", backup_path=tmp_path / "backups")


@pytest.fixture
def db(options: DatabaseOptions) -> Iterator[Database]:
    database = Database.open(options)
    yield database
    database.close()


def queue_over(db: Database, transport: ScriptedTransport, limit: int = 100) -> OutgoingQueue:
    return OutgoingQueue(db, MAPS.appserviceid_outgoing, "test", transport, LIMITS, limit)


def stage(db: Database, queue: OutgoingQueue, values: list[bytes], dest: str = "dest") -> None:
    for value in values:
        with db.batch() as b:
            queue.stage(b, [dest], value, b.next_count())


async def until(condition: Any, what: str, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def test_batches_keep_order_and_end_at_the_first_full_kind(db: Database) -> None:
    transport = ScriptedTransport()
    queue = queue_over(db, transport)
    values = [b"a1", b"a2", b"a3", b"b1", b"b2", b"a4"]
    stage(db, queue, values)  # not started: everything waits in the map
    assert queue.pending("dest") == len(values) and transport.attempts == []
    queue.start()  # counts the map again, and sends
    assert queue.pending("dest") == len(values)
    queue.wake("dest")
    await until(lambda: queue.pending("dest") == 0, "the queue to drain")
    # At most 2 of kind a and 1 of kind b per transaction, never reordered.
    assert transport.sent() == [[b"a1", b"a2"], [b"a3", b"b1"], [b"b2", b"a4"]]
    assert [x for batch in transport.sent() for x in batch] == values
    assert len({a.txn_id for a in transport.attempts}) == 3
    await queue.stop()


async def test_entries_staged_while_running_are_sent_per_destination(db: Database) -> None:
    transport = ScriptedTransport()
    queue = queue_over(db, transport)
    queue.start()
    with db.batch() as b:
        queue.stage(b, ["one", "two"], b"a1", b.next_count())
    with db.batch() as b:
        queue.stage(b, [], b"a2", b.next_count())  # nobody: nothing written
    await until(lambda: len(transport.attempts) == 2, "both destinations")
    assert transport.sent("one") == transport.sent("two") == [[b"a1"]]
    assert queue.pending("one") == queue.pending("two") == 0
    assert list(db.map(MAPS.appserviceid_outgoing).iter_prefix(b"")) == []
    await queue.stop()


async def test_a_discarded_batch_queues_nothing(db: Database) -> None:
    transport = ScriptedTransport()
    queue = queue_over(db, transport)
    queue.start()
    with pytest.raises(RuntimeError), db.batch() as b:
        queue.stage(b, ["dest"], b"a1", b.next_count())
        raise RuntimeError("the change failed")
    await asyncio.sleep(0.05)
    assert queue.pending("dest") == 0 and transport.attempts == []
    await queue.stop()


async def test_unacknowledged_entries_survive_a_reopen_with_the_same_txn_ids(
    options: DatabaseOptions,
) -> None:
    transport = ScriptedTransport(answers=[Outcome.RETRY])
    transport.backoff = Backoff(monotonic_clock, base_ms=60_000)  # no second try here
    with Database.open(options) as db:
        queue = queue_over(db, transport)
        queue.start()
        stage(db, queue, [b"a1", b"a2", b"a3"])
        await until(lambda: len(transport.attempts) == 1, "the failing attempt")
        await queue.stop()
        assert queue.pending("dest") == 3
    first = transport.attempts[0]
    assert first.body == [b"a1", b"a2"]
    with Database.open(options) as db:
        again = ScriptedTransport()
        queue = queue_over(db, again)
        assert queue.start() == ["dest"]
        assert queue.pending("dest") == 3
        queue.wake("dest")
        await until(lambda: queue.pending("dest") == 0, "the queue to drain after reopen")
        await queue.stop()
    # The retry after the reopen is the same transaction: same entries, same ID.
    assert again.attempts[0].txn_id == first.txn_id
    assert again.sent() == [[b"a1", b"a2"], [b"a3"]]


async def test_failures_back_off_exponentially_and_retry_the_same_transaction(
    db: Database,
) -> None:
    transport = ScriptedTransport(answers=[Outcome.RETRY, Outcome.RETRY, Outcome.RETRY])
    queue = queue_over(db, transport)
    queue.start()
    stage(db, queue, [b"a1"])
    await until(lambda: queue.pending("dest") == 0, "the fourth attempt", within=10)
    assert len(transport.attempts) == 4
    assert len({a.txn_id for a in transport.attempts}) == 1
    assert transport.builds == 1  # the body is built once per batch, not per attempt
    gaps = [b.at - a.at for a, b in zip(transport.attempts, transport.attempts[1:], strict=False)]
    # 20 ms, 40 ms, 80 ms (the cap): each wait at least the backoff's.
    for gap, wanted in zip(gaps, (0.02, 0.04, 0.08), strict=True):
        assert gap >= wanted - 0.002, gaps
    await queue.stop()


async def test_wake_ends_a_backoff_sleep_once_the_backoff_is_reset(db: Database) -> None:
    """A destination that shows it is up (FederationSender.origin_alive) is sent to at
    once, not when its backoff (up to a day) would have run out."""
    transport = ScriptedTransport(answers=[Outcome.RETRY])
    transport.backoff = Backoff(monotonic_clock, base_ms=60_000)
    queue = queue_over(db, transport)
    queue.start()
    stage(db, queue, [b"a1"])
    await until(lambda: len(transport.attempts) == 1, "the failing attempt")
    await asyncio.sleep(0.05)
    queue.wake("dest")  # still backing off: the sleep goes on
    await asyncio.sleep(0.05)
    assert len(transport.attempts) == 1
    transport.backoff.succeeded("dest")
    queue.wake("dest")
    await until(lambda: queue.pending("dest") == 0, "the retry after the reset", within=2)
    assert [a.txn_id for a in transport.attempts][1:] == [transport.attempts[0].txn_id]
    await queue.stop()


async def test_refused_drops_the_batch_and_abandon_drops_the_queue(db: Database) -> None:
    transport = ScriptedTransport(answers=[Outcome.REFUSED])
    queue = queue_over(db, transport)
    queue.start()
    stage(db, queue, [b"a1", b"a2", b"a3"])
    await until(lambda: queue.pending("dest") == 0, "the queue to drain")
    # The refused batch is not sent again; the next one goes.
    assert transport.sent() == [[b"a1", b"a2"], [b"a3"]]

    await queue.stop()
    transport = ScriptedTransport(answers=[Outcome.ABANDON])
    queue = queue_over(db, transport)
    stage(db, queue, [b"a3", b"a4", b"a5", b"a6"])
    queue.start()
    queue.wake("dest")
    await until(lambda: len(transport.attempts) == 1, "the abandoned attempt")
    await until(lambda: queue.pending("dest") == 0, "the queue to be dropped")
    await asyncio.sleep(0.05)
    assert len(transport.attempts) == 1
    assert list(db.map(MAPS.appserviceid_outgoing).iter_prefix(b"")) == []
    await queue.stop()


async def test_a_destination_keeps_at_most_limit_entries_the_newest(db: Database) -> None:
    transport = ScriptedTransport(answers=[Outcome.RETRY])
    transport.backoff = Backoff(monotonic_clock, base_ms=60_000)
    queue = queue_over(db, transport, limit=3)
    queue.start()
    stage(db, queue, [b"b1"])
    await until(lambda: len(transport.attempts) == 1, "the failing attempt")
    stage(db, queue, [b"a1", b"a2", b"a3", b"a4"])
    assert queue.pending("dest") == 3
    kept = [v for _, v in db.map(MAPS.appserviceid_outgoing).iter_prefix(b"")]
    assert kept == [b"a2", b"a3", b"a4"]
    await queue.stop()
    # trim(destination, keep) is also what a sender uses at start.
    queue.trim("dest", 1)
    assert queue.pending("dest") == 1
    assert [v for _, v in db.map(MAPS.appserviceid_outgoing).iter_prefix(b"")] == [b"a4"]


def test_txn_ids_are_stable_per_batch() -> None:
    keys = [b"dest\xff" + n.to_bytes(8, "big") for n in (5, 6, 9)]
    assert txn_id_for(keys) == txn_id_for(list(keys))
    assert txn_id_for(keys) != txn_id_for(keys[:2])
    assert txn_id_for(keys).startswith("5-")
