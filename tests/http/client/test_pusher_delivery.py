"""Delivery to a push gateway: a real gateway (aiohttp, on loopback, following the
Push Gateway API) and a real homeserver. Events are sent through the homeserver;
the notification-count service's listener call is made here directly
(``on_notification``) for most tests; the first goes through the real notification counts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from conduwuit.config.model import DEFAULT_IP_RANGE_DENYLIST
from conduwuit.core.push.pushers import PusherKey
from conduwuit.service.ip_denylist import IpDenylist
from conduwuit.service.push.gateway import GatewayClient, GatewayError
from conduwuit.service.push.pushers import QUEUE_SIZE, Pushers, RetryPolicy
from tests.kit.homeserver import Homeserver, StartHomeserver

NOTIFY = "/_matrix/push/v1/notify"
APP_ID = "org.example.app"
BOB = "@bob:test.example"
ALICE = "@alice:test.example"
QUIET = ["notify"]
#: An event type no default push rule matches: it notifies nobody by itself.
PING = "org.example.ping"


@dataclass
class Gateway:
    """A push gateway: records each request; answers 500 ``fail`` more times, takes
    ``delay`` seconds, and rejects the pushkeys in ``rejected``."""

    server: TestServer | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[float] = field(default_factory=list)
    fail: int = 0
    always_fail: bool = False
    delay: float = 0.0
    rejected: list[str] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url(NOTIFY))

    async def notify(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.attempts.append(time.monotonic())
        async with self.arrived:
            self.arrived.notify_all()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.always_fail or self.fail > 0:
            self.fail -= 1
            return web.json_response({"error": "down"}, status=500)
        self.requests.append(body)
        async with self.arrived:
            self.arrived.notify_all()
        pushkeys = [d["pushkey"] for d in body["notification"]["devices"]]
        return web.json_response({"rejected": [k for k in pushkeys if k in self.rejected]})

    async def wait(self, *, requests: int = 0, attempts: int = 0) -> None:
        """Until the gateway has had that many requests (answered 200) and attempts."""
        async with asyncio.timeout(5), self.arrived:
            await self.arrived.wait_for(
                lambda: len(self.requests) >= requests and len(self.attempts) >= attempts
            )


async def until(condition: Callable[[], bool]) -> None:
    """Until ``condition`` holds (what the server does after the gateway answered)."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached within 5 s")


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = Gateway()
    app = web.Application()
    app.router.add_post(NOTIFY, gw.notify)
    gw.server = TestServer(app, host="127.0.0.1")
    await gw.server.start_server()
    yield gw
    await gw.server.close()


@dataclass
class Setup:
    hs: Homeserver
    pushers: Pushers
    alice: str
    bob: str
    room: str

    async def send(self, token: str, body: str, txn: str, event_type: str = PING) -> str:
        """Send an event; by default of a type no default push rule notifies for, so
        only the test's own ``notify`` calls reach the pushers."""
        path = f"/rooms/{self.room}/send/{event_type}/{txn}"
        status, reply = await self.hs.request(
            "PUT", path, {"msgtype": "m.text", "body": body}, token=token
        )
        assert status == 200, reply
        event_id: str = reply["event_id"]
        return event_id

    async def add_pusher(self, pushkey: str, url: str, **data: Any) -> None:
        body = {
            "kind": "http",
            "app_id": APP_ID,
            "pushkey": pushkey,
            "app_display_name": "App",
            "device_display_name": "Phone",
            "lang": "en",
            "data": {"url": url, **data},
        }
        assert await self.hs.request("POST", "/pushers/set", body, token=self.bob) == (200, {})

    def notify(self, event_id: str, actions: list[Any], unread: int = 1) -> None:
        counts = {"unread": unread, "missed_calls": 0}
        self.pushers.on_notification(BOB, self.room, event_id, actions, counts)


@pytest.fixture
async def setup(start: StartHomeserver) -> AsyncIterator[Setup]:
    hs = await start(ip_range_denylist="[]")
    alice = (await hs.register("alice"))["access_token"]
    bob = (await hs.register("bob"))["access_token"]
    create = {"name": "Mission Control", "invite": [BOB], "is_direct": True}
    status, reply = await hs.request("POST", "/createRoom", create, token=alice)
    assert status == 200, reply
    room = reply["room_id"]
    assert (await hs.request("POST", f"/rooms/{room}/join", {}, token=bob))[0] == 200
    pushers = hs.services.push.pushers
    pushers.retry = RetryPolicy(initial_s=0.01, max_s=0.04, give_up_s=0.3)
    yield Setup(hs, pushers, alice, bob, room)
    await pushers.stop()


async def test_the_gateway_receives_the_notification(setup: Setup, gateway: Gateway) -> None:
    await setup.add_pusher("full", gateway.url, custom={"a": 1})
    await setup.add_pusher("ids", gateway.url, format="event_id_only")
    setup.pushers.start()
    # A message in a 1:1 room notifies bob through the notification counts, which
    # hand it to his pushers (.m.rule.room_one_to_one: notify with a sound).
    event_id = await setup.send(setup.alice, "I'm floating", "t1", "m.room.message")
    await gateway.wait(requests=2)
    by_key = {r["notification"]["devices"][0]["pushkey"]: r for r in gateway.requests}
    name = setup.hs.services.users.profiles.get(ALICE)["displayname"]
    pushkey_ts = setup.hs.clock.now // 1000
    assert by_key["full"] == {
        "notification": {
            "event_id": event_id,
            "room_id": setup.room,
            "type": "m.room.message",
            "sender": ALICE,
            "sender_display_name": name,
            "room_name": "Mission Control",
            "content": {"msgtype": "m.text", "body": "I'm floating"},
            "prio": "high",
            "counts": {"unread": 1},
            "devices": [
                {
                    "app_id": APP_ID,
                    "pushkey": "full",
                    "pushkey_ts": pushkey_ts,
                    "data": {"custom": {"a": 1}},
                    "tweaks": {"sound": "default"},
                }
            ],
        }
    }
    assert by_key["ids"] == {
        "notification": {
            "event_id": event_id,
            "room_id": setup.room,
            "prio": "high",
            "counts": {"unread": 1},
            "devices": [
                {
                    "app_id": APP_ID,
                    "pushkey": "ids",
                    "pushkey_ts": pushkey_ts,
                    "data": {"format": "event_id_only"},
                }
            ],
        }
    }


async def test_a_read_receipt_sends_a_badge_update(setup: Setup, gateway: Gateway) -> None:
    """A receipt that lowers bob's unread count pushes the new count without an event
    (Synapse's badge update); one that reads nothing new pushes nothing."""
    await setup.add_pusher("full", gateway.url)
    await setup.add_pusher("ids", gateway.url, format="event_id_only")
    setup.pushers.start()
    first = await setup.send(setup.alice, "one", "t1", "m.room.message")
    second = await setup.send(setup.alice, "two", "t2", "m.room.message")
    await gateway.wait(requests=4)
    receipt = f"/rooms/{setup.room}/receipt/m.read/{first}"
    assert (await setup.hs.request("POST", receipt, {}, token=setup.bob))[0] == 200
    await gateway.wait(requests=6)
    pushkey_ts = setup.hs.clock.now // 1000
    badges = {r["notification"]["devices"][0]["pushkey"]: r for r in gateway.requests[4:]}
    assert badges["full"] == {
        "notification": {
            "prio": "high",
            "counts": {"unread": 1},
            "devices": [
                {"app_id": APP_ID, "pushkey": "full", "pushkey_ts": pushkey_ts, "data": {}}
            ],
        }
    }
    assert badges["ids"]["notification"]["counts"] == {"unread": 1}
    # The same receipt again reads nothing: no update. The last one clears the badge
    # (unread 0 is sent: clearing it is the point).
    assert (await setup.hs.request("POST", receipt, {}, token=setup.bob))[0] == 200
    receipt = f"/rooms/{setup.room}/receipt/m.read/{second}"
    assert (await setup.hs.request("POST", receipt, {}, token=setup.bob))[0] == 200
    await gateway.wait(requests=8)
    await asyncio.sleep(0.05)
    assert len(gateway.requests) == 8
    assert [r["notification"]["counts"] for r in gateway.requests[6:]] == [{"unread": 0}] * 2
    assert all("event_id" not in r["notification"] for r in gateway.requests[4:])


async def test_own_events_and_non_notifying_actions_are_not_pushed(
    setup: Setup, gateway: Gateway
) -> None:
    await setup.add_pusher("k", gateway.url)
    setup.pushers.start()
    own = await setup.send(setup.bob, "mine", "o1")
    setup.notify(own, QUIET)
    other = await setup.send(setup.alice, "quiet", "a1")
    setup.notify(other, ["dont_notify"])
    last = await setup.send(setup.alice, "last", "a2")
    setup.notify(last, QUIET)
    await gateway.wait(requests=1)
    await asyncio.sleep(0.05)
    assert [r["notification"]["event_id"] for r in gateway.requests] == [last]
    # No sound, no highlight: low priority (Synapse).
    assert gateway.requests[0]["notification"]["prio"] == "low"


async def test_retry_after_500_then_success(setup: Setup, gateway: Gateway) -> None:
    await setup.add_pusher("k", gateway.url)
    gateway.fail = 2
    setup.pushers.start()
    first = await setup.send(setup.alice, "one", "a1")
    setup.notify(first, QUIET)
    second = await setup.send(setup.alice, "two", "a2")
    setup.notify(second, QUIET)
    await gateway.wait(requests=2)
    assert len(gateway.attempts) == 4
    # In order: the failing notification is retried before the next one.
    assert [r["notification"]["event_id"] for r in gateway.requests] == [first, second]
    await until(lambda: setup.pushers.pending(BOB, PusherKey(APP_ID, "k")) == 0)


async def test_a_rejected_pushkey_loses_its_pusher(setup: Setup, gateway: Gateway) -> None:
    await setup.add_pusher("gone", gateway.url)
    await setup.add_pusher("kept", gateway.url)
    gateway.rejected = ["gone"]
    setup.pushers.start()
    event_id = await setup.send(setup.alice, "hi", "a1")
    setup.notify(event_id, QUIET)
    await gateway.wait(requests=2)
    await until(lambda: len(setup.pushers.of_user(BOB)) == 1)
    _, reply = await setup.hs.request("GET", "/pushers", token=setup.bob)
    assert [p["pushkey"] for p in reply["pushers"]] == ["kept"]
    setup.notify(await setup.send(setup.alice, "again", "a2"), QUIET)
    await gateway.wait(requests=3)
    await asyncio.sleep(0.05)
    assert [r["notification"]["devices"][0]["pushkey"] for r in gateway.requests[2:]] == ["kept"]


async def test_backoff_is_bounded_and_gives_up(setup: Setup, gateway: Gateway) -> None:
    await setup.add_pusher("k", gateway.url)
    gateway.always_fail = True
    setup.pushers.start()
    lost = await setup.send(setup.alice, "lost", "a1")
    setup.notify(lost, QUIET)
    # Given up after give_up_s (0.3 s).
    await until(lambda: setup.pushers.pending(BOB, PusherKey(APP_ID, "k")) == 0)
    tries = len(gateway.attempts)
    # 0.01, 0.02, 0.04, 0.04, ... until 0.3 s: about ten tries, never a long wait.
    assert 5 <= tries <= 30
    gaps = [b - a for a, b in zip(gateway.attempts, gateway.attempts[1:], strict=False)]
    assert max(gaps) < 0.04 + 0.2
    await asyncio.sleep(0.1)
    assert len(gateway.attempts) == tries, "no retries after giving up"
    # The pusher stays; once the gateway is back, new notifications go (the lost one not).
    gateway.always_fail = False
    fresh = await setup.send(setup.alice, "fresh", "a2")
    setup.notify(fresh, QUIET)
    await gateway.wait(requests=1)
    assert [r["notification"]["event_id"] for r in gateway.requests] == [fresh]


async def test_the_queue_is_bounded_oldest_dropped(setup: Setup, gateway: Gateway) -> None:
    await setup.add_pusher("k", gateway.url)
    event_id = await setup.send(setup.alice, "hi", "a1")
    for unread in range(QUEUE_SIZE + 20):
        setup.notify(event_id, QUIET, unread=unread + 1)
    assert setup.pushers.pending(BOB, PusherKey(APP_ID, "k")) == QUEUE_SIZE
    setup.pushers.start()
    await gateway.wait(requests=QUEUE_SIZE)
    unread = [r["notification"]["counts"]["unread"] for r in gateway.requests]
    assert unread == list(range(21, QUEUE_SIZE + 21))


async def test_stop_does_not_hang_on_a_slow_gateway(setup: Setup, gateway: Gateway) -> None:
    await setup.add_pusher("k", gateway.url)
    gateway.delay = 30
    setup.pushers.start()
    setup.notify(await setup.send(setup.alice, "hi", "a1"), QUIET)
    setup.notify(await setup.send(setup.alice, "hi", "a2"), QUIET)
    await gateway.wait(attempts=1)
    started = time.monotonic()
    await asyncio.wait_for(setup.pushers.stop(), 5)
    assert time.monotonic() - started < 2


async def test_deleting_a_pusher_drops_its_queue(setup: Setup, gateway: Gateway) -> None:
    await setup.add_pusher("k", gateway.url)
    setup.notify(await setup.send(setup.alice, "hi", "a1"), QUIET)
    assert setup.pushers.pending(BOB, PusherKey(APP_ID, "k")) == 1
    assert (await setup.hs.request("POST", "/logout", {}, token=setup.bob))[0] == 200
    assert setup.pushers.pending(BOB, PusherKey(APP_ID, "k")) == 0
    setup.pushers.start()
    await asyncio.sleep(0.05)
    assert gateway.attempts == []


async def test_delivery_checks_the_denylist_on_every_connection(gateway: Gateway) -> None:
    """A gateway accepted once may resolve elsewhere later: the client refuses to
    connect to a denied address, for names and IP literals alike."""
    client = GatewayClient(IpDenylist(DEFAULT_IP_RANGE_DENYLIST), timeout_s=5)
    assert gateway.server is not None
    port = gateway.server.port
    try:
        for host in ("127.0.0.1", "localhost"):
            url = f"http://{host}:{port}{NOTIFY}"
            with pytest.raises(GatewayError):
                await client.notify(url, {"notification": {"devices": []}})
        assert gateway.attempts == []
        open_client = GatewayClient(IpDenylist([]), timeout_s=5)
        try:
            body = {"notification": {"devices": [{"app_id": "a", "pushkey": "p"}]}}
            assert await open_client.notify(gateway.url, body) == []
        finally:
            await open_client.close()
    finally:
        await client.close()
