"""The checks and merging of application services' third-party answers."""

from __future__ import annotations

from typing import Any

from conduwuit.core.thirdparty import (
    ThirdPartyKind,
    checked_protocol,
    checked_results,
    merge_protocols,
)


def test_checked_protocol_sets_instance_ids_on_a_copy() -> None:
    answer: dict[str, Any] = {
        "user_fields": ["nick"],
        "instances": [{"network_id": "libera", "desc": "Libera"}, {"desc": "no network"}],
    }
    checked = checked_protocol("irc-bridge", answer)
    assert checked is not None
    assert [i.get("instance_id") for i in checked["instances"]] == ["irc-bridge|libera", None]
    assert "instance_id" not in answer["instances"][0]
    assert checked["user_fields"] == ["nick"]


def test_checked_protocol_refuses_unusable_answers() -> None:
    for answer in (None, [], "x", {}, {"instances": {}}, {"instances": ["x"]}):
        assert checked_protocol("a", answer) is None, answer


def test_merge_protocols_keeps_the_first_fields_and_all_instances() -> None:
    first = {"icon": "mxc://a/1", "instances": [{"network_id": "a"}]}
    second = {"icon": "mxc://b/2", "instances": [{"network_id": "b"}]}
    merged = merge_protocols([first, second])
    assert merged == {"icon": "mxc://a/1", "instances": [{"network_id": "a"}, {"network_id": "b"}]}
    assert first["instances"] == [{"network_id": "a"}]
    assert merge_protocols([]) is None


def test_checked_results_keep_only_valid_entries() -> None:
    good_location = {"alias": "#a:x", "protocol": "irc", "fields": {}}
    good_user = {"userid": "@a:x", "protocol": "irc", "fields": {"nick": "a"}}
    answer = [
        good_location,
        good_user,
        {"alias": "#a:x", "protocol": "irc"},
        {"alias": 1, "protocol": "irc", "fields": {}},
        {"alias": "#a:x", "fields": {}},
        "junk",
    ]
    assert checked_results(ThirdPartyKind.LOCATION, answer) == [good_location]
    assert checked_results(ThirdPartyKind.USER, answer) == [good_user]
    assert checked_results(ThirdPartyKind.USER, {"userid": "@a:x"}) == []
