"""Another server's ``/hierarchy`` answer as ``RemoteHierarchies`` takes it: a lying
or broken answer is refused (the next server of the ``via`` is asked) or cleaned."""

from __future__ import annotations

from typing import Any

import pytest

from conduwuit.service.federation.hierarchy import InvalidAnswer, parse_answer

CHILD = {
    "type": "m.space.child",
    "state_key": "!child:b",
    "sender": "@bob:b",
    "content": {"via": ["b"]},
    "origin_server_ts": 1,
}


def test_a_good_answer_is_taken_and_cleaned() -> None:
    answer = {
        "room": {
            "room_id": "!space:b",
            "room_type": "m.space",
            "children_state": [CHILD, {"type": "m.room.name", "state_key": ""}, "junk"],
        },
        "children": [{"room_id": "!child:b", "join_rule": "public"}, {"name": "no id"}, 5],
        "inaccessible_children": ["!hidden:b", 7],
    }
    found = parse_answer("!space:b", answer)
    assert found.room["children_state"] == [CHILD]
    assert set(found.children) == {"!child:b"}
    assert found.children["!child:b"]["children_state"] == []
    assert found.inaccessible == frozenset({"!hidden:b"})


@pytest.mark.parametrize(
    "answer",
    [
        None,
        [],
        {"room": None},
        {"room": {"room_id": "!other:b"}},  # another room than the one asked for
        {"room": {"room_id": "!space:b", "children_state": "many"}},
    ],
)
def test_a_broken_answer_is_refused(answer: Any) -> None:
    with pytest.raises(InvalidAnswer):
        parse_answer("!space:b", answer)
