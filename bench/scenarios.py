"""The named load scenarios, each an async function of a :class:`Context`.

Each returns its figures (a flat dict of numbers) and checks that what it measured
really happened (every message arrived, every room is in the sync, pagination
reached the history): a figure from a server that answered wrongly is no figure.
Every loop is bounded in count, and the runner bounds each scenario in time.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import aiohttp

from bench import family, media_scenarios, sliding_scenarios
from bench.client import Client, Unsupported, timeline_events
from bench.servers import Server

T = TypeVar("T")
PASSWORD = "bench-password-123"


@dataclass
class Sizes:
    """Every size a scenario uses; the runner's flags set them."""

    idle_s: float = 2.0  # seconds idle after start-up before measuring RSS
    startup_runs: int = 3  # start-ups per server per round (the first one also plays load)
    logins: int = 20
    login_concurrency: int = 4
    senders: int = 8  # C concurrent senders
    messages: int = 25  # M messages per sender, per phase (shared room, own rooms)
    e2e_messages: int = 40  # K messages one at a time
    rooms: int = 10  # R rooms for the sync scenarios
    room_events: int = 20  # H events in each
    syncs: int = 10  # measured (initial or incremental) syncs
    stall_rooms: int = 200  # sync-stall: rooms of the syncing user
    stall_room_events: int = 50  # sync-stall: messages in each
    stall_sends: int = 2000  # sync-stall: most sends by the other client during the sync
    history: int = 500  # events in the /messages room
    passes: int = 3  # backward paginations over it
    setup_concurrency: int = 4
    state_res_members: int = 10_000  # state-res: joined members of the forked room
    state_res_fork_events: int = 200  # events on each of the two forks
    sign_seconds: float = 2.0  # sign: how long to hash + sign + derive event IDs
    media_files: int = 8  # media-transfer: files uploaded, then downloaded
    media_file_mib: int = 8  # media-transfer: size of each
    media_large_mib: int = 100  # media-large: the one large upload
    thumb_photo_width: int = 4000  # media-thumbnail: the JPEG's width (4:3)
    thumb_requests: int = 20  # media-thumbnail: requests after the first of each size
    sliding_rooms: int = 200  # sliding-initial: rooms of the user (lists of 20)
    family_users: int = 25  # family: users (bench/family.py)
    family_devices: int = 3  # family: devices of every other user (the rest one fewer)
    family_rooms: int = 150  # family: rooms (2 with everyone, a few groups, direct chats)
    family_history: int = 100_000  # family: messages of history over the rooms
    family_sends: int = 1500  # family: messages in the replayed hour
    family_replay_s: float = 180.0  # family: the hour compressed into this
    family_settle_s: float = 10.0  # family: idle after the replay before "after" RSS
    family_timeout_s: float = 7200.0  # family: its bound in time (set-up included)
    scenario_timeout_s: float = 180.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, Sizes] = {
    "default": Sizes(),
    "smoke": Sizes(
        idle_s=0.2,
        startup_runs=1,
        logins=2,
        login_concurrency=2,
        senders=2,
        messages=2,
        e2e_messages=2,
        rooms=2,
        room_events=2,
        syncs=2,
        stall_rooms=3,
        stall_room_events=2,
        stall_sends=50,
        history=60,
        passes=1,
        state_res_members=200,
        state_res_fork_events=20,
        sign_seconds=0.2,
        media_files=2,
        media_file_mib=1,
        media_large_mib=4,
        thumb_photo_width=800,
        thumb_requests=2,
        sliding_rooms=25,
        family_users=5,
        family_devices=3,
        family_rooms=12,
        family_history=120,
        family_sends=40,
        family_replay_s=4.0,
        family_settle_s=0.5,
        family_timeout_s=120.0,
        scenario_timeout_s=60.0,
    ),
}


@dataclass
class Context:
    server: Server
    session: aiohttp.ClientSession
    sizes: Sizes
    prefix: str = field(default_factory=lambda: "b" + secrets.token_hex(3))
    _names: Iterator[int] = field(default_factory=itertools.count)
    cache: dict[str, Any] = field(default_factory=dict)

    def client(self) -> Client:
        return Client(self.session, self.server.base_url)

    async def new_user(self) -> tuple[Client, str]:
        name = f"{self.prefix}u{next(self._names)}"
        client = self.client()
        await client.register(self.server.shared_secret, name, PASSWORD)
        return client, name

    async def new_users(self, count: int) -> list[Client]:
        pairs = await bounded([self.new_user() for _ in range(count)], self.sizes.setup_concurrency)
        return [client for client, _ in pairs]


async def bounded(awaitables: list[Awaitable[T]], limit: int) -> list[T]:
    """Await all with at most ``limit`` running at once; results in order."""
    semaphore = asyncio.Semaphore(max(1, limit))

    async def one(awaitable: Awaitable[T]) -> T:
        async with semaphore:
            return await awaitable

    return list(await asyncio.gather(*(one(a) for a in awaitables)))


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: honest for small samples)."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


def latency_figures(prefix: str, samples: list[float]) -> dict[str, float]:
    return {
        f"{prefix}p50_ms": ms(statistics.median(samples)),
        f"{prefix}p95_ms": ms(percentile(samples, 95)),
        f"{prefix}p99_ms": ms(percentile(samples, 99)),
    }


async def timed(awaitable: Awaitable[T], into: list[float]) -> T:
    started = time.perf_counter()
    result = await awaitable
    into.append(time.perf_counter() - started)
    return result


# -- scenarios -------------------------------------------------------------------------


async def login(ctx: Context) -> dict[str, float]:
    """Logins per second for one account, a few at a time (password hashing dominates)."""
    _, name = await ctx.new_user()
    latencies: list[float] = []
    clients = [ctx.client() for _ in range(ctx.sizes.logins)]
    started = time.perf_counter()
    tokens = await bounded(
        [timed(c.login(name, PASSWORD), latencies) for c in clients],
        ctx.sizes.login_concurrency,
    )
    elapsed = time.perf_counter() - started
    assert len(set(tokens)) == len(tokens), "logins returned the same access token"
    assert await clients[-1].whoami() == clients[-1].user_id
    return {
        "logins_per_s": round(len(tokens) / elapsed, 2),
        "p50_ms": ms(statistics.median(latencies)),
    }


async def _send_phase(pairs: list[tuple[Client, str]], messages: int) -> tuple[float, list[float]]:
    latencies: list[float] = []

    async def sender(client: Client, room_id: str, n: int) -> None:
        for i in range(messages):
            event_id = await timed(client.send_text(room_id, f"load {n}.{i}"), latencies)
            assert event_id.startswith("$")

    started = time.perf_counter()
    await asyncio.gather(*(sender(c, r, n) for n, (c, r) in enumerate(pairs)))
    return time.perf_counter() - started, latencies


async def send(ctx: Context) -> dict[str, float]:
    """C concurrent senders x M messages, into one shared room, then each into its own."""
    senders = await ctx.new_users(ctx.sizes.senders)
    shared = await senders[0].create_room(public=True)
    await bounded([c.join(shared) for c in senders[1:]], ctx.sizes.setup_concurrency)
    own = await bounded([c.create_room(public=False) for c in senders], ctx.sizes.setup_concurrency)
    m = ctx.sizes.messages
    shared_s, shared_lat = await _send_phase([(c, shared) for c in senders], m)
    own_s, own_lat = await _send_phase(list(zip(senders, own, strict=True)), m)
    total = len(shared_lat) + len(own_lat)
    return {
        "events_per_s": round(total / (shared_s + own_s), 2),
        "shared_events_per_s": round(len(shared_lat) / shared_s, 2),
        **latency_figures("shared_", shared_lat),
        "own_events_per_s": round(len(own_lat) / own_s, 2),
        **latency_figures("own_", own_lat),
        **latency_figures("", shared_lat + own_lat),
    }


async def e2e_latency(ctx: Context) -> dict[str, float]:
    """One sender, one receiver long-polling /sync: K messages one at a time."""
    sender, receiver = await ctx.new_users(2)
    room_id = await sender.create_room(public=True)
    await receiver.join(room_id)
    since = (await receiver.sync())["next_batch"]
    k = ctx.sizes.e2e_messages
    arrived = [asyncio.Event() for _ in range(k)]
    arrival: dict[int, float] = {}
    done = asyncio.Event()
    polling = asyncio.Event()

    async def receive() -> None:
        nonlocal since
        deadline = time.monotonic() + ctx.sizes.scenario_timeout_s
        for _ in range(20 * k + 100):  # wake-ups for other reasons are allowed, not endless
            if done.is_set() or time.monotonic() > deadline:
                return
            polling.set()
            reply = await receiver.sync(since, timeout_ms=10_000, request_timeout=30)
            now = time.perf_counter()
            since = reply["next_batch"]
            for event_room, event in timeline_events(reply):
                body = event.get("content", {}).get("body", "")
                if event_room == room_id and body.startswith("e2e "):
                    index = int(body.split()[1])
                    arrival.setdefault(index, now)
                    arrived[index].set()

    task = asyncio.create_task(receive())
    latencies: list[float] = []
    try:
        for i in range(k):
            await asyncio.wait_for(polling.wait(), 30)
            await asyncio.sleep(0.02)  # let the receiver's long-poll reach the server
            polling.clear()
            sent = time.perf_counter()
            await sender.send_text(room_id, f"e2e {i}")
            await asyncio.wait_for(arrived[i].wait(), 30)
            latencies.append(arrival[i] - sent)
    finally:
        done.set()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    return {
        "p50_ms": ms(statistics.median(latencies)),
        "p95_ms": ms(percentile(latencies, 95)),
        "max_ms": ms(max(latencies)),
    }


async def _populated_user(ctx: Context) -> tuple[Client, list[str]]:
    """A user in R rooms of H events each (made once per server, shared by the syncs)."""
    if "populated" not in ctx.cache:
        user, _ = await ctx.new_user()
        rooms = await bounded(
            [user.create_room(public=False) for _ in range(ctx.sizes.rooms)],
            ctx.sizes.setup_concurrency,
        )
        await bounded(
            [
                user.send_text(room, f"history {n}")
                for room in rooms
                for n in range(ctx.sizes.room_events)
            ],
            ctx.sizes.setup_concurrency,
        )
        ctx.cache["populated"] = (user, rooms)
    populated: tuple[Client, list[str]] = ctx.cache["populated"]
    return populated


async def initial_sync(ctx: Context) -> dict[str, float]:
    """Full /sync (no since) of a user in R rooms of H events each; the first is cold."""
    user, rooms = await _populated_user(ctx)
    latencies: list[float] = []
    for _ in range(ctx.sizes.syncs):
        reply = await timed(user.sync(), latencies)
        joined = reply.get("rooms", {}).get("join", {})
        missing = set(rooms) - set(joined)
        assert not missing, f"initial sync lacks {len(missing)} of {len(rooms)} rooms"
    return {
        "cold_ms": ms(latencies[0]),
        "p50_ms": ms(statistics.median(latencies)),
        "p95_ms": ms(percentile(latencies, 95)),
    }


async def incremental_sync(ctx: Context) -> dict[str, float]:
    """/sync since the last batch after one new event in one of R rooms; and with none."""
    user, rooms = await _populated_user(ctx)
    since = (await user.sync())["next_batch"]
    with_event: list[float] = []
    empty: list[float] = []
    for i in range(ctx.sizes.syncs):
        room_id = rooms[i % len(rooms)]
        event_id = await user.send_text(room_id, f"incremental {i}")
        reply = await timed(user.sync(since), with_event)
        got = {event.get("event_id") for _, event in timeline_events(reply)}
        assert event_id in got, "incremental sync lacks the event just sent"
        since = reply["next_batch"]
        reply = await timed(user.sync(since), empty)
        since = reply["next_batch"]
    return {
        **{k: v for k, v in latency_figures("", with_event).items() if k != "p99_ms"},
        "empty_p50_ms": ms(statistics.median(empty)),
    }


async def messages(ctx: Context) -> dict[str, float]:
    """``/messages`` backwards, limit 50, from the end of a room of many events."""
    user, _ = await ctx.new_user()
    room_id = await user.create_room(public=False)
    history = ctx.sizes.history
    await bounded(
        [user.send_text(room_id, f"page {n}") for n in range(history)],
        ctx.sizes.setup_concurrency,
    )
    page_latencies: list[float] = []
    events = 0
    started = time.perf_counter()
    for _ in range(ctx.sizes.passes):
        token: str | None = None
        seen = 0
        for _ in range(history // 50 + 10):  # the room also holds its creation events
            reply = await timed(user.messages(room_id, token), page_latencies)
            chunk = reply.get("chunk", [])
            seen += sum(1 for e in chunk if e.get("type") == "m.room.message")
            events += len(chunk)
            token = reply.get("end")
            if not chunk or token is None:
                break
        assert seen >= history, f"paginated {seen} of {history} messages"
    elapsed = time.perf_counter() - started
    return {
        "events_per_s": round(events / elapsed, 1),
        "page_p50_ms": ms(statistics.median(page_latencies)),
        "page_p95_ms": ms(percentile(page_latencies, 95)),
    }


LOOP_LAG = "/_conduwuit/admin/v1/loop_lag"
#: How long sync-stall watches the idle server's loop before the sync.
IDLE_WINDOW_S = 2.0


async def _loop_lag(admin: Client) -> dict[str, Any] | None:
    """The server's event-loop lag since the last read, which starts a new window; None
    where the server does not measure it (Synapse, or the monitor off)."""
    try:
        reply: dict[str, Any] = await admin.request(
            "GET", LOOP_LAG, "loop lag", params={"reset": "true"}
        )
    except Unsupported:
        return None
    return reply


async def sync_stall(ctx: Context) -> dict[str, float]:
    """A cold initial /sync of R rooms x H messages while another client sends one message
    at a time: how long the sync takes, how long the sends wait meanwhile, and (where the
    server measures it) the longest event-loop stall inside the server during the sync."""
    sizes = ctx.sizes
    admin = ctx.client()
    await admin.register_shared_secret(
        ctx.server.shared_secret, f"{ctx.prefix}stalladmin", PASSWORD, admin=True
    )
    user, _ = await ctx.new_user()
    sender, _ = await ctx.new_user()
    rooms = await bounded(
        [user.create_room(public=False) for _ in range(sizes.stall_rooms)],
        sizes.setup_concurrency,
    )
    await bounded(
        [
            user.send_text(room, f"history {n}")
            for room in rooms
            for n in range(sizes.stall_room_events)
        ],
        sizes.setup_concurrency * 2,
    )
    own_room = await sender.create_room(public=False)
    await sender.send_text(own_room, "warm-up")
    syncing = asyncio.Event()
    done = asyncio.Event()
    sends: list[float] = []

    async def send_meanwhile() -> None:
        for i in range(sizes.stall_sends):
            if done.is_set():
                return
            await timed(sender.send_text(own_room, f"during sync {i}"), sends)
            syncing.set()

    # the same server idle for a while first: the lag the machine alone causes (a
    # process waiting for a CPU on a shared machine), to set the sync's figures against
    await _loop_lag(admin)
    await asyncio.sleep(IDLE_WINDOW_S)
    idle = await _loop_lag(admin)  # the sync's window starts here
    task = asyncio.create_task(send_meanwhile())
    try:
        await asyncio.wait_for(syncing.wait(), 30)  # the sender is going
        sync_s: list[float] = []
        reply = await timed(user.sync(request_timeout=sizes.scenario_timeout_s), sync_s)
    finally:
        done.set()
        await task
    lag = await _loop_lag(admin)
    joined = reply.get("rooms", {}).get("join", {})
    missing = set(rooms) - set(joined)
    assert not missing, f"initial sync lacks {len(missing)} of {len(rooms)} rooms"
    for room in rooms:
        bodies = [e.get("content", {}).get("body") for e in joined[room]["timeline"]["events"]]
        assert f"history {sizes.stall_room_events - 1}" in bodies, f"{room} lacks its last message"
    figures = {
        "sync_ms": ms(sync_s[0]),
        "sends": float(len(sends)),
        "send_p50_ms": ms(statistics.median(sends)),
        "send_max_ms": ms(max(sends)),
    }
    if idle is not None:
        figures["idle_loop_max_ms"] = float(idle["max_ms"])
    if lag is not None:
        figures["loop_max_ms"] = float(lag["max_ms"])
        # the longest stall with the loop's thread on the CPU: ours, not the machine's
        if lag.get("cpu_max_ms") is not None:
            figures["loop_cpu_max_ms"] = float(lag["cpu_max_ms"])
        if lag.get("p99_ms") is not None:  # None under 100 wake-ups: it would be the max
            figures["loop_p99_ms"] = float(lag["p99_ms"])
        if lag.get("over_budget") is not None:
            figures["loop_over_20ms"] = float(lag["over_budget"])
    return figures


Scenario = Callable[[Context], Awaitable[dict[str, float]]]

# In the order the runner plays them. "startup" is measured by the runner itself as
# it starts each server; "state-res" and "sign" belong to bench/core_bench.py.
LOAD_SCENARIOS: dict[str, Scenario] = {
    "login": login,
    "send": send,
    "e2e-latency": e2e_latency,
    "initial-sync": initial_sync,
    "incremental-sync": incremental_sync,
    "messages": messages,
    "sync-stall": sync_stall,
    "media-transfer": media_scenarios.media_transfer,
    "media-large": media_scenarios.media_large,
    "media-thumbnail": media_scenarios.media_thumbnail,
    "sliding-initial": sliding_scenarios.sliding_initial,
    "sliding-latency": sliding_scenarios.sliding_latency,
    "family": family.family,
}
CORE_SCENARIOS = ("state-res", "sign")
ALL_SCENARIOS = ("startup", *LOAD_SCENARIOS, *CORE_SCENARIOS)


def timeout_s(scenario: str, sizes: Sizes) -> float:
    """The bound in time of one load scenario."""
    return sizes.family_timeout_s if scenario == "family" else sizes.scenario_timeout_s


#: Played only when named in ``--scenarios``: minutes long at its default sizes.
OPT_IN_SCENARIOS = ("family",)
DEFAULT_SCENARIOS = tuple(s for s in ALL_SCENARIOS if s not in OPT_IN_SCENARIOS)
