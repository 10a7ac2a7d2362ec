"""The sliding sync connection store: positions, retries, expiry and its bounds."""

from __future__ import annotations

import pytest

from conduwuit.core.errors import MatrixError
from conduwuit.service.sliding_sync import connections as module
from conduwuit.service.sliding_sync.connections import (
    Connections,
    ConnState,
    SentRoom,
    make_pos,
    parse_pos,
)


def _state(*rooms: str, since: int = 1) -> ConnState:
    return ConnState({r: SentRoom(since, "join", frozenset(), since) for r in rooms})


def test_pos_round_trip_and_garbage() -> None:
    assert parse_pos(make_pos(3, 42)) == (3, 42)
    for bad in ("", "3", "a_1", "1_", "_1", "1_2_3", "-1_2"):
        with pytest.raises(MatrixError) as caught:
            parse_pos(bad)
        assert caught.value.errcode == "M_UNKNOWN_POS"


def test_a_user_keeps_a_bounded_number_of_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(module, "MAX_PER_USER", 2)
    store = Connections(lambda: 0.0)
    for conn_id in ("a", "b", "c"):
        store.commit(("@u:x", "D", conn_id), None, _state("!r:x"))
    store.commit(("@v:x", "D", "a"), None, _state("!r:x"))
    assert store.stats()["connections"] == 3
    with pytest.raises(MatrixError):
        store.state_at(("@u:x", "D", "a"), 1)  # the least recently used went first
    assert store.state_at(("@u:x", "D", "c"), 1) == _state("!r:x")


def test_a_connection_remembers_a_bounded_number_of_rooms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(module, "MAX_ROOMS", 2)
    store = Connections(lambda: 0.0)
    state = ConnState(
        {
            "!old:x": SentRoom(1, "join", frozenset(), 1),
            "!mid:x": SentRoom(5, "join", frozenset(), 5),
            "!new:x": SentRoom(9, "join", frozenset(), 9),
        }
    )
    pos = store.commit(("@u:x", "D", ""), None, state)
    kept = store.state_at(("@u:x", "D", ""), pos)
    assert set(kept.rooms) == {"!mid:x", "!new:x"}
    assert store.stats() == {
        "connections": 1,
        "on_disk_only": 0,
        "positions": 1,
        "rooms": 2,
        "lazy_members": 0,
    }


def test_an_unchanged_state_keeps_its_position_and_a_changed_one_replaces_the_others() -> None:
    store = Connections(lambda: 0.0)
    key = ("@u:x", "D", "")
    first = store.commit(key, None, _state("!a:x"))
    assert store.commit(key, first, _state("!a:x")) == first
    second = store.commit(key, first, _state("!a:x", "!b:x"))
    third = store.commit(key, second, _state("!a:x", "!b:x", "!c:x"))
    assert store.stats()["positions"] == 2
    with pytest.raises(MatrixError):
        store.state_at(key, first)
    assert set(store.state_at(key, third).rooms) == {"!a:x", "!b:x", "!c:x"}


def test_a_request_from_an_older_position_forgets_nothing() -> None:
    store = Connections(lambda: 0.0)
    key = ("@u:x", "D", "")
    first = store.commit(key, None, _state("!a:x"))
    second = store.commit(key, first, _state("!a:x", "!b:x"))
    # A late answer from the first position (an abandoned long-poll, a retry).
    late = store.commit(key, first, _state("!a:x", "!c:x"))
    assert set(store.state_at(key, second).rooms) == {"!a:x", "!b:x"}
    assert set(store.state_at(key, late).rooms) == {"!a:x", "!c:x"}
    # Going on from the newest forgets the others; at most MAX_POSITIONS are kept.
    for _ in range(10):
        store.commit(key, first, _state("!a:x", f"!{_}:x"))
    assert store.stats()["positions"] <= module.MAX_POSITIONS
