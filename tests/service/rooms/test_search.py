"""Search through the word index: only joined rooms, visible events, both orders."""

from __future__ import annotations

from conduwuit.core.ids import RoomId
from conduwuit.service.rooms.actions import CreateRoom
from conduwuit.service.rooms.search import Search
from conduwuit.service.rooms.search_index import SearchIndex, words

from .conftest import ALICE, BOB, Stack


def test_words_are_lowercased_unicode_tokens() -> None:
    assert words("Hello, wörld! hello") == {"hello", "wörld"}


async def test_search_ranks_filters_and_hides(stack: Stack) -> None:
    room = RoomId.parse(await stack.actions.create_room(ALICE, CreateRoom(preset="public_chat")))
    other = RoomId.parse(await stack.actions.create_room(ALICE, CreateRoom(name="cake club")))
    await stack.membership.join(BOB, str(room))
    once = await stack.actions.send(ALICE, room, "m.room.message", {"body": "I like cake"})
    twice = await stack.actions.send(BOB, room, "m.room.message", {"body": "cake cake everywhere"})
    await stack.actions.send(ALICE, room, "m.room.message", {"body": "nothing here"})
    await stack.actions.send(ALICE, other, "m.room.message", {"body": "secret cake"})
    search = Search(stack.history, SearchIndex(stack.db))

    found = search.search(BOB, {"search_term": "CAKE"})["search_categories"]["room_events"]
    assert [r["result"]["event_id"] for r in found["results"]] == [twice, once]
    assert found["count"] == 2 and found["highlights"] == ["cake"]

    recent = search.search(BOB, {"search_term": "cake", "order_by": "recent"})
    results = recent["search_categories"]["room_events"]["results"]
    assert [r["result"]["event_id"] for r in results] == [twice, once]

    both = search.search(BOB, {"search_term": "like cake"})["search_categories"]["room_events"]
    assert [r["result"]["event_id"] for r in both["results"]] == [once]

    paged = search.search(BOB, {"search_term": "cake", "filter": {"limit": 1}})
    body = paged["search_categories"]["room_events"]
    assert len(body["results"]) == 1 and body["next_batch"] == "1"
    rest = search.search(BOB, {"search_term": "cake", "filter": {"limit": 1}}, "1")
    assert rest["search_categories"]["room_events"]["results"][0]["result"]["event_id"] == once

    with_context = search.search(
        BOB,
        {
            "search_term": "everywhere",
            "include_state": True,
            "event_context": {"before_limit": 1, "after_limit": 1, "include_profile": True},
        },
    )["search_categories"]["room_events"]
    result = with_context["results"][0]
    assert len(result["context"]["events_before"]) == 1
    assert str(room) in with_context["state"]

    # Alice sees her other room's message; redacted events drop out of the index.
    mine = search.search(ALICE, {"search_term": "cake", "keys": ["content.body"]})
    assert mine["search_categories"]["room_events"]["count"] == 3
    await stack.actions.redact(BOB, room, twice, {})
    after = search.search(BOB, {"search_term": "cake"})["search_categories"]["room_events"]
    assert [r["result"]["event_id"] for r in after["results"]] == [once]
