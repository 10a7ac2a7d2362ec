"""The *family server* scenario (issue 21): memory where it matters, a small home server.

25 users with 2-3 devices each, 150 rooms (direct chats, a few groups of 5-20, two
big public rooms with every user), a history of ``--family-history`` messages
spread over them, an avatar per user (media metadata); then an hour of use
compressed into ``--family-replay-s`` seconds: every device long-polls ``/sync``,
every user now and then types, sends, and reads (a receipt), and devices top up
their one-time keys. RSS is sampled throughout the replay:

* ``steady_rss_mib``: the median over the replay's second half;
* ``replay_peak_rss_mib``: the highest sample during the replay;
* ``after_rss_mib``: after the load stops and ``--family-settle-s`` seconds pass.

The runner's ``peak_rss_mib`` covers the whole scenario, set-up (logins, the
history) included. Every loop is bounded in count and by the replay's deadline;
the scenario checks that every message sent during the replay reached another
member's device.
"""

from __future__ import annotations

import asyncio
import base64
import random
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from bench.client import CS, Client, q, timeline_events
from bench.servers import PeakRss

if TYPE_CHECKING:
    from bench.scenarios import Context

#: Long-poll timeout of the replay's syncs, as a real client's (30 s) compressed.
SYNC_TIMEOUT_MS = 5_000
#: The steady state: the replay from this fraction of it on.
STEADY_FROM = 0.5
#: ``ctx.cache[ON_STEADY]``, if set, is awaited once this far into the replay (where
#: ``bench/memory_trace.py`` takes its snapshot).
ON_STEADY = "family.on_steady"
STEADY_HOOK_AT = 0.75


@dataclass
class Device:
    user: int
    client: Client
    since: str | None = None
    otk_serial: int = 0


@dataclass
class Family:
    devices: list[Device]
    #: per user, the rooms they are in
    rooms_of: list[list[str]]
    #: per room, its members (user indexes)
    members: dict[str, list[int]]
    sent: dict[str, str] = field(default_factory=dict)  # body -> room of replay messages
    seen: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


def room_plan(users: int, rooms: int, rng: random.Random) -> list[list[int]]:
    """Members of each room: two big rooms with everyone, a few groups of 5-20 (at
    most the number of users), the rest direct chats between distinct pairs."""
    plan: list[list[int]] = [list(range(users)) for _ in range(min(2, rooms))]
    groups = min(max(0, rooms - len(plan)), max(1, rooms // 20))
    for _ in range(groups):
        size = min(users, rng.randint(5, 20))
        plan.append(sorted(rng.sample(range(users), size)))
    pairs = [(a, b) for a in range(users) for b in range(a + 1, users)]
    rng.shuffle(pairs)
    for n in range(rooms - len(plan)):
        plan.append(list(pairs[n % len(pairs)]))
    return plan


def _b64(size: int = 32) -> str:
    return base64.b64encode(secrets.token_bytes(size)).decode().rstrip("=")


async def upload_keys(device: Device, count: int, with_device_keys: bool) -> None:
    """One-time keys (and the device's identity keys, the first time), unsigned as
    Complement's placeholders: neither server verifies a signature that is absent."""
    body: dict[str, Any] = {}
    client = device.client
    if with_device_keys:
        body["device_keys"] = {
            "user_id": client.user_id,
            "device_id": client.device_id,
            "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
            "keys": {
                f"curve25519:{client.device_id}": _b64(),
                f"ed25519:{client.device_id}": _b64(),
            },
            "signatures": {},
        }
    keys = {}
    for _ in range(count):
        device.otk_serial += 1
        keys[f"curve25519:K{device.otk_serial:06d}"] = _b64()
    body["one_time_keys"] = keys
    await client.request("POST", f"{CS}/keys/upload", "keys/upload", body=body)


async def _typing(client: Client, room_id: str, typing: bool) -> None:
    await client.request(
        "PUT",
        f"{CS}/rooms/{q(room_id)}/typing/{q(str(client.user_id))}",
        "typing",
        body={"typing": typing, "timeout": 10_000} if typing else {"typing": False},
    )


async def _receipt(client: Client, room_id: str, event_id: str) -> None:
    await client.request(
        "POST",
        f"{CS}/rooms/{q(room_id)}/receipt/m.read/{q(event_id)}",
        "receipt",
        body={},
    )


async def _avatar(ctx: Context, client: Client) -> None:
    """A small avatar uploaded and set: a media record and a profile change per user."""
    from bench.media_scenarios import upload

    size = 2048
    media_id = await upload(ctx, client.access_token, secrets.token_bytes(size), "image/png", size)
    server_name = str(client.user_id).split(":", 1)[1]
    await client.request(
        "PUT",
        f"{CS}/profile/{q(str(client.user_id))}/avatar_url",
        "profile avatar_url",
        body={"avatar_url": f"mxc://{server_name}/{media_id}"},
    )


async def _create(owner: Client, members: list[Client], public: bool) -> str:
    body: dict[str, Any] = {"preset": "public_chat" if public else "private_chat"}
    if not public:
        body["invite"] = [m.user_id for m in members]
        body["is_direct"] = len(members) == 1
    reply = await owner.request("POST", f"{CS}/createRoom", "createRoom", body=body)
    room_id = str(reply["room_id"])
    for member in members:
        await member.join(room_id)
    return room_id


async def set_up(ctx: Context, session: aiohttp.ClientSession) -> Family:
    """Users, their devices (one registration, then password logins), keys, avatars,
    rooms and the history."""
    from bench.scenarios import PASSWORD, bounded

    sizes = ctx.sizes
    rng = random.Random(21)
    concurrency = sizes.setup_concurrency
    names = [f"{ctx.prefix}f{n}" for n in range(sizes.family_users)]
    first = [Client(session, ctx.server.base_url) for _ in names]
    await bounded(
        [
            c.register(ctx.server.shared_secret, n, PASSWORD)
            for c, n in zip(first, names, strict=True)
        ],
        concurrency,
    )
    devices = [Device(n, c) for n, c in enumerate(first)]
    extra = []
    for n in range(len(names)):  # 2 or 3 devices each (with --family-devices 3)
        for _ in range(max(0, sizes.family_devices - 1 - n % 2)):
            extra.append(Device(n, Client(session, ctx.server.base_url)))
    # every login checks a password hash: these run concurrently, as after a restart
    # of a family's phones, and are part of the set-up peak
    await bounded([d.client.login(names[d.user], PASSWORD) for d in extra], concurrency)
    devices += extra
    await bounded([upload_keys(d, 20, True) for d in devices], concurrency)
    await bounded([_avatar(ctx, c) for c in first], concurrency)

    plan = room_plan(sizes.family_users, sizes.family_rooms, rng)
    room_ids = await bounded(
        [
            _create(first[m[0]], [first[x] for x in m[1:]], len(m) == sizes.family_users)
            for m in plan
        ],
        concurrency,
    )
    family = Family(
        devices=devices,
        rooms_of=[[] for _ in names],
        members=dict(zip(room_ids, plan, strict=True)),
    )
    for room_id, members in family.members.items():
        for m in members:
            family.rooms_of[m].append(room_id)

    # the history: rooms in turn, each message from one of the room's members
    per_room = sizes.family_history // max(1, len(room_ids))
    rest = sizes.family_history - per_room * len(room_ids)
    jobs = []
    for i, room_id in enumerate(room_ids):
        members = family.members[room_id]
        for n in range(per_room + (1 if i < rest else 0)):
            jobs.append((first[members[n % len(members)]], room_id, f"history {i}.{n}"))
    rng.shuffle(jobs)  # interleaved over the rooms, as a history is made
    await bounded([c.send_text(r, text) for c, r, text in jobs], concurrency * 2)
    family.count("history_events", len(jobs))
    return family


async def _sync_loop(family: Family, device: Device, deadline: float, stop: asyncio.Event) -> None:
    """Long-polls until ``deadline`` (bounded in count too); the first sync is full."""
    for _ in range(10_000):
        if time.monotonic() > deadline or stop.is_set():
            return
        timeout = 0 if device.since is None else SYNC_TIMEOUT_MS
        reply = await device.client.sync(device.since, timeout_ms=timeout, request_timeout=60)
        device.since = reply["next_batch"]
        family.count("syncs")
        for _, event in timeline_events(reply):
            if event.get("sender") != device.client.user_id:
                family.seen.add(event.get("content", {}).get("body", ""))


async def _user_loop(
    family: Family, user: int, pause_s: float, deadline: float, rng: random.Random
) -> None:
    """Now and then: type, send into one of the user's rooms, read (a receipt); with
    the first message and every fifth after it, the first device tops up its one-time
    keys. Every user acts at least once, even on a machine too slow for the pace (so
    every kind of request is made); bounded in count and by the deadline after that."""
    device = next(d for d in family.devices if d.user == user)
    client = device.client
    rooms = family.rooms_of[user]
    for n in range(10_000):
        await asyncio.sleep(rng.uniform(0.5, 1.5) * pause_s)
        if n > 0 and time.monotonic() > deadline:  # everyone acts once, however slow
            return
        room_id = rng.choice(rooms)
        await _typing(client, room_id, True)
        family.count("typing")
        body = f"replay {user}.{n}"
        event_id = await client.send_text(room_id, body)
        family.sent[body] = room_id
        family.count("sends")
        await _typing(client, room_id, False)
        await _receipt(client, room_id, event_id)
        family.count("receipts")
        if n % 5 == 0:
            await upload_keys(device, 5, False)
            family.count("key_uploads")


async def _later(delay_s: float, hook: Callable[[], Awaitable[None]]) -> None:
    await asyncio.sleep(delay_s)
    await hook()


def _mib(kib: float) -> float:
    return round(kib / 1024, 1)


async def family(ctx: Context) -> dict[str, float]:
    """Set up the family server, replay the compressed hour, report RSS."""
    sizes = ctx.sizes
    devices_max = sizes.family_users * max(1, sizes.family_devices)
    # every device long-polls: a pool of its own, with room for the users' requests
    connector = aiohttp.TCPConnector(limit=devices_max + sizes.family_users + 8)
    async with aiohttp.ClientSession(connector=connector) as session:
        home = await set_up(ctx, session)
        replay_s = sizes.family_replay_s
        # an hour of a family's messages (family_sends) spread over the replay
        pause_s = replay_s * sizes.family_users / max(1, sizes.family_sends)
        rng = random.Random(2121)
        stop = asyncio.Event()
        started = time.monotonic()
        deadline = started + replay_s
        with PeakRss(ctx.server.pid, interval=0.25, keep_samples=True) as rss:
            syncs = [
                asyncio.create_task(_sync_loop(home, d, deadline + 30, stop)) for d in home.devices
            ]
            hook = ctx.cache.get(ON_STEADY)
            if hook is not None:
                syncs.append(asyncio.create_task(_later(STEADY_HOOK_AT * replay_s, hook)))
            try:
                await asyncio.gather(
                    *(
                        _user_loop(home, u, pause_s, deadline, random.Random(rng.random()))
                        for u in range(sizes.family_users)
                    )
                )
                # the syncs go on until every message sent has reached another device
                for _ in range(600):
                    if set(home.sent) <= home.seen or time.monotonic() > deadline + 30:
                        break
                    await asyncio.sleep(0.05)
            finally:
                stop.set()
                await asyncio.gather(*syncs, return_exceptions=True)
        replay_wall = time.monotonic() - started
        missing = set(home.sent) - home.seen
        assert not missing, f"{len(missing)} of {len(home.sent)} replay messages never synced"
        assert home.sent, "the replay sent nothing"
        samples = [kib for t, kib in rss.samples if t - started >= STEADY_FROM * replay_s]
        await asyncio.sleep(sizes.family_settle_s)
        after = ctx.server.rss_kib()
    counts = home.counts
    return {
        "users": float(sizes.family_users),
        "devices": float(len(home.devices)),
        "rooms": float(len(home.members)),
        "history_events": float(counts.get("history_events", 0)),
        "replay_s": round(replay_wall, 1),
        "sends": float(counts.get("sends", 0)),
        "syncs": float(counts.get("syncs", 0)),
        "receipts": float(counts.get("receipts", 0)),
        "key_uploads": float(counts.get("key_uploads", 0)),
        "steady_rss_mib": _mib(statistics.median(samples or [rss.peak_kib])),
        "replay_peak_rss_mib": rss.peak_mib,
        "after_rss_mib": _mib(after),
    }
