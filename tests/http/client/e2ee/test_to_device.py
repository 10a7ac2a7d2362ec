"""HTTP: PUT /sendToDevice/{eventType}/{txnId}."""

from __future__ import annotations

from tests.service.e2ee.conftest import ALICE, BOB

from .conftest import Api

A1 = f"{ALICE}|A1"


async def test_send_is_idempotent_per_txn(api: Api) -> None:
    api.login(BOB, "B1")
    api.login(BOB, "B2")
    body = {"messages": {BOB: {"*": {"hello": "world"}}}}
    for _ in range(2):
        status, reply = await api.call("PUT", "/sendToDevice/m.test/txn1", A1, body)
        assert (status, reply) == (200, {})
    now = api.db.current_count()
    for device in ("B1", "B2"):
        events = api.e2ee.sync.to_device_events(BOB, device, 0, now).events
        assert events == [{"type": "m.test", "sender": ALICE, "content": {"hello": "world"}}]


async def test_unknown_user_is_accepted_and_stores_nothing(api: Api) -> None:
    before = api.db.current_count()
    body = {"messages": {"@nobody:example.org": {"X": {}}}}
    status, reply = await api.call("PUT", "/sendToDevice/m.test/t", A1, body)
    assert (status, reply) == (200, {})
    assert not api.e2ee.to_device.has_events("@nobody:example.org", "X", before)


async def test_bad_bodies_change_nothing(api: Api) -> None:
    api.login(BOB, "B1")
    before = api.db.current_count()
    for body in ({}, {"messages": {BOB: {"B1": "x"}}}, {"messages": {"bob": {"B1": {}}}}):
        status, reply = await api.call("PUT", "/sendToDevice/m.test/t", A1, body)
        assert status == 400, reply
    assert api.db.current_count() == before
    # the refused txn ID is still free to use
    status, _ = await api.call("PUT", "/sendToDevice/m.test/t", A1, {"messages": {BOB: {"B1": {}}}})
    assert status == 200
    assert api.e2ee.to_device.has_events(BOB, "B1", before)
