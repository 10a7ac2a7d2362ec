"""The storage services of rooms (timeline, state, membership index, short ids,
extremities, auth chains, transactions) and the one event pipeline over them.
"""

from __future__ import annotations

from collections.abc import Callable

from conduwuit.core.signing import Keypair
from conduwuit.db import Database
from conduwuit.service.notifier import Notifier
from conduwuit.service.rooms.auth_chain import AuthChains
from conduwuit.service.rooms.build import EventBuilder, Extremities
from conduwuit.service.rooms.locks import RoomLocks
from conduwuit.service.rooms.member_index import MemberIndex
from conduwuit.service.rooms.partial_state import PartialStateRooms
from conduwuit.service.rooms.persist import Persister
from conduwuit.service.rooms.pipeline import EventPipeline
from conduwuit.service.rooms.short import ShortIds
from conduwuit.service.rooms.state import RoomState
from conduwuit.service.rooms.state_store import StateStore
from conduwuit.service.rooms.timeline import Timeline
from conduwuit.service.rooms.transactions import Transactions
from conduwuit.service.rooms.unpartial import PartialStateCompletion


class RoomStorage:
    """The storage services of rooms and the pipeline over them."""

    def __init__(
        self,
        db: Database,
        server_name: str,
        keypair: Callable[[], Keypair],
        notifier: Notifier,
        clock: Callable[[], int],
    ) -> None:
        self.db = db
        self.server_name = server_name
        self.clock = clock
        self.notifier = notifier
        self.short = ShortIds(db)
        self.timeline = Timeline(db)
        self.state = RoomState(db, self.short, StateStore(db), self.timeline)
        self.member_index = MemberIndex(db)
        self.extremities = Extremities(db)
        self.auth_chains = AuthChains(db, self.short, self.timeline)
        self.locks = RoomLocks()
        builder = EventBuilder(server_name, keypair, self.state, self.extremities, clock)
        self.transactions = Transactions(db)
        persister = Persister(
            db, self.state, self.member_index, self.extremities, notifier, self.transactions
        )
        #: Rooms joined with partial state, until their resync completes.
        self.partial = PartialStateRooms(db)
        self.pipeline = EventPipeline(
            db, self.state, builder, persister, self.locks, partial=self.partial
        )
        self.completion = PartialStateCompletion(
            self.pipeline, self.extremities, self.member_index, server_name
        )
