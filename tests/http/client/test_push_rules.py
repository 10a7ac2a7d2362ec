"""/pushrules/: read, create, place, enable, change actions, delete; refusals change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kit.homeserver import Homeserver

ALICE = "@alice:test.example"
RULES = "/pushrules/global"


async def alice(hs: Homeserver) -> str:
    token: str = (await hs.register("alice"))["access_token"]
    return token


async def ids(hs: Homeserver, token: str, kind: str) -> list[str]:
    status, body = await hs.request("GET", f"{RULES}/", token=token)
    assert status == 200, body
    return [r["rule_id"] for r in body[kind]]


async def test_defaults_for_a_new_user(hs: Homeserver) -> None:
    token = await alice(hs)
    status, body = await hs.request("GET", "/pushrules/", token=token)
    assert status == 200
    assert set(body) == {"global"}
    assert set(body["global"]) == {"override", "content", "room", "sender", "underride"}
    assert body["global"]["override"][0]["rule_id"] == ".m.rule.master"
    invite = body["global"]["override"][2]
    assert invite["rule_id"] == ".m.rule.invite_for_me"
    assert invite["conditions"][2] == {"kind": "event_match", "key": "state_key", "pattern": ALICE}
    assert (await hs.request("GET", f"{RULES}/", token=token)) == (200, body["global"])
    # Registration stores nothing: the defaults come from the code.
    assert hs.services.users.account_data.get(ALICE, "m.push_rules") is None
    status, rule = await hs.request("GET", f"{RULES}/underride/.m.rule.message", token=token)
    assert (status, rule) == (
        200,
        {
            "rule_id": ".m.rule.message",
            "default": True,
            "enabled": True,
            "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.room.message"}],
            "actions": ["notify"],
        },
    )


@pytest.mark.parametrize(
    ("kind", "rule_id"),
    [
        ("override", ".org.matrix.msc3930.rule.poll_response"),
        ("underride", ".org.matrix.msc3930.rule.poll_start_one_to_one"),
        ("underride", ".org.matrix.msc3930.rule.poll_start"),
        ("underride", ".m.rule.poll_start"),
    ],
)
async def test_no_poll_rules_as_spec_and_default_synapse(
    hs: Homeserver, kind: str, rule_id: str
) -> None:
    """Spec v1.19 lists no poll rule; Synapse serves MSC3930's only with
    ``msc3381_polls_enabled`` (off by default), conduwuit never
    (docs/development/complement.md, "Tests that fail on purpose")."""
    token = await alice(hs)
    status, reply = await hs.request("GET", f"{RULES}/{kind}/{rule_id}", token=token)
    assert (status, reply["errcode"]) == (404, "M_NOT_FOUND")
    assert not any("poll" in r for r in await ids(hs, token, kind))


async def test_create_read_place_and_delete(hs: Homeserver) -> None:
    token = await alice(hs)
    cake = {"pattern": "cake", "actions": ["notify", {"set_tweak": "sound", "value": "cake.wav"}]}
    path = f"{RULES}/content/SSByZWFsbHkgbGlrZSBjYWtl"
    assert await hs.request("PUT", path, cake, token=token) == (200, {})
    assert await hs.request("GET", path, token=token) == (
        200,
        {"rule_id": "SSByZWFsbHkgbGlrZSBjYWtl", "default": False, "enabled": True, **cake},
    )
    # The spec's example: a rule placed before the first one.
    lie = {"pattern": "cake*lie", "actions": ["notify"]}
    status, _ = await hs.request(
        "PUT",
        f"{RULES}/content/nocake",
        lie,
        token=token,
        params={"before": "SSByZWFsbHkgbGlrZSBjYWtl"},
    )
    assert status == 200
    await hs.request("PUT", f"{RULES}/content/last", lie, token=token, params={"after": "nocake"})
    assert await ids(hs, token, "content") == ["nocake", "last", "SSByZWFsbHkgbGlrZSBjYWtl"]
    assert await hs.request("DELETE", f"{RULES}/content/last", token=token) == (200, {})
    assert await ids(hs, token, "content") == ["nocake", "SSByZWFsbHkgbGlrZSBjYWtl"]
    status, body = await hs.request("GET", f"{RULES}/content/last", token=token)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


async def test_room_and_sender_rules_with_encoded_ids(hs: Homeserver) -> None:
    token = await alice(hs)
    room_path = f"{RULES}/room/%21dj234r78wl45Gh4D%3Amatrix.org"
    assert (await hs.request("PUT", room_path, {"actions": []}, token=token))[0] == 200
    assert await hs.request("GET", room_path, token=token) == (
        200,
        {
            "rule_id": "!dj234r78wl45Gh4D:matrix.org",
            "default": False,
            "enabled": True,
            "actions": [],
        },
    )
    sender_path = f"{RULES}/sender/%40spambot%3Amatrix.org"
    assert (await hs.request("PUT", sender_path, {"actions": []}, token=token))[0] == 200
    assert await ids(hs, token, "sender") == ["@spambot:matrix.org"]


async def test_enabled_and_actions_of_user_and_default_rules(hs: Homeserver) -> None:
    token = await alice(hs)
    beer = {
        "conditions": [
            {"kind": "event_match", "key": "content.body", "pattern": "beer"},
            {"kind": "room_member_count", "is": "<=10"},
        ],
        "actions": ["notify", {"set_tweak": "sound", "value": "beeroclock.wav"}],
    }
    await hs.request("PUT", f"{RULES}/override/beer", beer, token=token)
    for rule in ("override/beer", "override/.m.rule.master", "underride/.m.rule.message"):
        enabled = f"{RULES}/{rule}/enabled"
        before = (await hs.request("GET", enabled, token=token))[1]["enabled"]
        assert await hs.request("PUT", enabled, {"enabled": not before}, token=token) == (200, {})
        assert await hs.request("GET", enabled, token=token) == (200, {"enabled": not before})
        actions = f"{RULES}/{rule}/actions"
        new = ["notify", {"set_tweak": "highlight"}]
        assert await hs.request("PUT", actions, {"actions": new}, token=token) == (200, {})
        assert await hs.request("GET", actions, token=token) == (200, {"actions": new})
    # The user's override rule sits between the master rule and the default overrides.
    assert (await ids(hs, token, "override"))[:3] == [
        ".m.rule.master",
        "beer",
        ".m.rule.suppress_notices",
    ]
    # Historical actions are kept as sent (Synapse; sytest SYN-390 reads them back).
    dont = {"actions": ["dont_notify"]}
    await hs.request("PUT", f"{RULES}/underride/.m.rule.encrypted/actions", dont, token=token)
    _, body = await hs.request("GET", f"{RULES}/underride/.m.rule.encrypted", token=token)
    assert body["actions"] == ["dont_notify"]


async def test_sync_delivers_the_rules_and_their_changes(hs: Homeserver) -> None:
    token = await alice(hs)
    await hs.request(
        "PUT", f"{RULES}/override/.m.rule.master/enabled", {"enabled": True}, token=token
    )
    status, first = await hs.request("GET", "/sync", token=token)
    assert status == 200
    events = {e["type"]: e["content"] for e in first["account_data"]["events"]}
    assert events["m.push_rules"]["global"]["override"][0]["enabled"] is True
    assert (
        events["m.push_rules"]["global"] == (await hs.request("GET", f"{RULES}/", token=token))[1]
    )
    await hs.request("PUT", f"{RULES}/sender/@x:y", {"actions": []}, token=token)
    status, second = await hs.request(
        "GET", "/sync", token=token, params={"since": first["next_batch"]}
    )
    changed = [e for e in second["account_data"]["events"] if e["type"] == "m.push_rules"]
    assert [r["rule_id"] for r in changed[0]["content"]["global"]["sender"]] == ["@x:y"]


REFUSALS: list[tuple[str, str, Any, dict[str, str] | None, int, str]] = [
    # A kind the server does not have holds no rules (Complement's thread tests probe
    # MSC4306's postcontent rules this way); changing one is refused.
    ("GET", f"{RULES}/nope/x", None, None, 404, "M_NOT_FOUND"),
    ("PUT", f"{RULES}/postcontent/x/enabled", {"enabled": False}, None, 400, "M_INVALID_PARAM"),
    ("PUT", f"{RULES}/nope/x", {"actions": []}, None, 400, "M_INVALID_PARAM"),
    ("PUT", f"{RULES}/override/.m.rule.mine", {"actions": []}, None, 400, "M_INVALID_PARAM"),
    ("PUT", f"{RULES}/override/.m.rule.master", {"actions": []}, None, 400, "M_INVALID_PARAM"),
    ("PUT", f"{RULES}/override/a%5Cb", {"actions": []}, None, 400, "M_INVALID_PARAM"),
    ("PUT", f"{RULES}/override/x", {"actions": []}, {"before": "nope"}, 400, "M_INVALID_PARAM"),
    (
        "PUT",
        f"{RULES}/override/x",
        {"actions": []},
        {"after": ".m.rule.master"},
        400,
        "M_INVALID_PARAM",
    ),
    ("PUT", f"{RULES}/override/x", {}, None, 400, "M_BAD_JSON"),
    ("PUT", f"{RULES}/override/x", {"actions": ["boom"]}, None, 400, "M_BAD_JSON"),
    ("PUT", f"{RULES}/override/x", {"actions": [], "conditions": [1]}, None, 400, "M_BAD_JSON"),
    ("PUT", f"{RULES}/override/x", [], None, 400, "M_BAD_JSON"),
    ("PUT", f"{RULES}/content/x", {"actions": []}, None, 400, "M_BAD_JSON"),
    ("DELETE", f"{RULES}/override/.m.rule.master", None, None, 400, "M_INVALID_PARAM"),
    ("DELETE", f"{RULES}/override/mine-not", None, None, 404, "M_NOT_FOUND"),
    ("GET", f"{RULES}/override/nope", None, None, 404, "M_NOT_FOUND"),
    ("GET", f"{RULES}/override/nope/enabled", None, None, 404, "M_NOT_FOUND"),
    ("PUT", f"{RULES}/override/nope/enabled", {"enabled": True}, None, 404, "M_NOT_FOUND"),
    ("PUT", f"{RULES}/override/.m.rule.master/enabled", {"enabled": 1}, None, 400, "M_BAD_JSON"),
    ("PUT", f"{RULES}/override/.m.rule.master/enabled", {}, None, 400, "M_BAD_JSON"),
    ("GET", f"{RULES}/override/nope/actions", None, None, 404, "M_NOT_FOUND"),
    ("PUT", f"{RULES}/override/nope/actions", {"actions": []}, None, 404, "M_NOT_FOUND"),
    ("PUT", f"{RULES}/override/.m.rule.master/actions", {"actions": 1}, None, 400, "M_BAD_JSON"),
    ("GET", "/pushrules/device/override/x", None, None, 404, "M_UNRECOGNIZED"),
]


@pytest.mark.parametrize(("method", "path", "body", "params", "status", "errcode"), REFUSALS)
async def test_refusals_change_nothing(
    hs: Homeserver,
    method: str,
    path: str,
    body: Any,
    params: dict[str, str] | None,
    status: int,
    errcode: str,
) -> None:
    token = await alice(hs)
    await hs.request("PUT", f"{RULES}/override/mine", {"actions": []}, token=token)
    before_rules = await hs.request("GET", "/pushrules/", token=token)
    before_count = hs.services.db.current_count()
    got, reply = await hs.request(method, path, body, token=token, params=params)
    assert (got, reply["errcode"]) == (status, errcode), reply
    assert hs.services.db.current_count() == before_count
    assert await hs.request("GET", "/pushrules/", token=token) == before_rules


async def test_needs_a_token_and_a_json_body(hs: Homeserver) -> None:
    token = await alice(hs)
    status, body = await hs.request("GET", "/pushrules/")
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")
    url = f"/_matrix/client/v3{RULES}/override/x"
    headers = {"Authorization": f"Bearer {token}"}
    async with hs.client.put(url, data=b"{nope", headers=headers) as response:
        assert response.status == 400
        assert (await response.json())["errcode"] == "M_NOT_JSON"
    assert hs.services.users.account_data.get(ALICE, "m.push_rules") is None


async def test_initial_sync_always_carries_the_current_rules(hs: Homeserver) -> None:
    token = await alice(hs)
    status, first = await hs.request("GET", "/sync", token=token)
    assert status == 200
    events = {e["type"]: e["content"] for e in first["account_data"]["events"]}
    rules = (await hs.request("GET", f"{RULES}/", token=token))[1]
    assert events["m.push_rules"]["global"] == rules  # nothing stored, defaults served
    # An incremental sync without a change does not repeat them.
    _, second = await hs.request(
        "GET", "/sync", token=token, params={"since": first["next_batch"], "timeout": "0"}
    )
    assert [e for e in second["account_data"]["events"] if e["type"] == "m.push_rules"] == []
    # A filter can leave them out.
    _, created = await hs.request(
        "POST",
        f"/user/{ALICE}/filter",
        {"account_data": {"not_types": ["m.push_rules"]}},
        token=token,
    )
    _, filtered = await hs.request(
        "GET", "/sync", token=token, params={"filter": created["filter_id"]}
    )
    assert filtered["account_data"]["events"] == []
