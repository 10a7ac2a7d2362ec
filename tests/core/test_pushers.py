"""The pure half of pushers: request checks, tweaks, priority, notification bodies."""

from __future__ import annotations

import pytest

from conduwuit.core.errors import MatrixError
from conduwuit.core.push.pushers import (
    EventInfo,
    check_set_request,
    check_url,
    notification,
    priority,
    tweaks_for_actions,
)


def test_check_url() -> None:
    assert check_url("https://push.example.org/_matrix/push/v1/notify") == (
        "push.example.org",
        443,
    )
    assert check_url("http://[::1]:8080/_matrix/push/v1/notify") == ("::1", 8080)
    # Only the path is checked, as Synapse does: a query string is the gateway's.
    assert check_url("https://h/_matrix/push/v1/notify?x=1")[0] == "h"
    for bad in (
        "https://push.example.org/_matrix/push/v1/notify/x",
        "https:///_matrix/push/v1/notify",
        "gopher://h/_matrix/push/v1/notify",
    ):
        with pytest.raises(MatrixError) as refused:
            check_url(bad)
        assert refused.value.errcode == "M_INVALID_PARAM"


def test_missing_parameters_are_all_named() -> None:
    with pytest.raises(MatrixError) as refused:
        check_set_request({"kind": "http", "app_id": "a", "pushkey": "k"})
    assert refused.value.errcode == "M_MISSING_PARAM"
    assert refused.value.message == (
        "Missing parameters: app_display_name, device_display_name, lang, data"
    )


def test_delete_request() -> None:
    request = check_set_request({"kind": None, "app_id": "a", "pushkey": "k"})
    assert request.kind is None and request.key.pushkey == "k"


def test_tweaks_and_priority() -> None:
    actions = ["notify", {"set_tweak": "highlight"}, {"set_tweak": "sound", "value": "x"}]
    assert tweaks_for_actions(actions) == {"highlight": True, "sound": "x"}
    assert priority("m.room.message", {"highlight": True}) == "high"
    assert priority("m.room.message", {"highlight": False}) == "low"
    assert priority("m.room.encrypted", {}) == "high"
    assert priority("m.room.message", {}) == "low"


def test_member_event_notification() -> None:
    event = EventInfo(
        event_id="$e",
        room_id="!r:x",
        type="m.room.member",
        sender="@a:x",
        content={"membership": "invite"},
        state_key="@b:x",
    )
    device = {"app_id": "a", "pushkey": "k", "pushkey_ts": 1, "data": {}}
    body = notification(event, "@b:x", ["notify"], {"unread": 0}, device, event_id_only=False)
    note = body["notification"]
    assert note["membership"] == "invite" and note["user_is_target"] is True
    assert note["counts"] == {}
    assert "sender_display_name" not in note and "room_name" not in note
