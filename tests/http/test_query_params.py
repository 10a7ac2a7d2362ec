"""Integer and boolean query parameters and pagination tokens (api/query.py,
core/numbers.py): ASCII digits within range, ``true``/``false`` only, else 400
M_INVALID_PARAM — never a 500 and never a silently different value."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.kit.homeserver import Homeserver

ALICE = "@alice:test.example"

#: Numbers that are not plain ASCII decimal non-negative integers within range.
BAD_NUMBERS = [
    "²",  # superscript two: str.isdigit() is true, int() raises
    "\u0663",  # Arabic-Indic three: int() gives 3
    "\uff11\uff10",  # fullwidth digits
    "-1",
    "+1",
    " 1",
    "1 ",
    "1_0",
    "1.5",
    "1e3",
    "0x10",
    "",
    "9007199254740992",  # 2**53
    "9" * 400,  # int() of this much is slow; refused before converting
]
BAD_BOOLEANS = ["True", "TRUE", "1", "0", "yes", "", "true ", "\uff54\uff52\uff55\uff45"]

#: (path, parameter) for every integer query parameter and token of the client API.
INT_PARAMS = [
    ("/rooms/{room}/messages", "limit"),
    ("/rooms/{room}/context/{event}", "limit"),
    ("/_matrix/client/v1/rooms/{room}/relations/{event}", "limit"),
    ("/_matrix/client/v1/rooms/{room}/threads", "limit"),
    ("/_matrix/client/v1/rooms/{room}/timestamp_to_event?dir=f", "ts"),
    ("/_matrix/client/v1/rooms/{room}/hierarchy", "limit"),
    ("/_matrix/client/v1/rooms/{room}/hierarchy", "max_depth"),
    ("/publicRooms", "limit"),
    ("/sync", "timeout"),
]
TOKEN_PARAMS = [
    ("/rooms/{room}/messages", "from"),
    ("/rooms/{room}/messages", "to"),
    ("/rooms/{room}/members", "at"),
    ("/_matrix/client/v1/rooms/{room}/relations/{event}", "from"),
    ("/_matrix/client/v1/rooms/{room}/relations/{event}", "to"),
    ("/_matrix/client/v1/rooms/{room}/hierarchy", "from"),
    ("/publicRooms", "since"),
    ("/sync", "since"),
    ("/keys/changes?to=s1", "from"),
    ("/keys/changes?from=s1", "to"),
]
BOOL_PARAMS = [
    ("/sync", "full_state"),
    ("/_matrix/client/v1/rooms/{room}/relations/{event}", "recurse"),
    ("/_matrix/client/v1/rooms/{room}/hierarchy", "suggested_only"),
]
BAD_TOKENS = ["s²", "²", "s-1", "t\u0661", "s99999999999999999999999", "s" + "9" * 400, "s 1"]


async def _room_and_event(hs: Homeserver) -> tuple[str, str, str]:
    token = (await hs.register("alice"))["access_token"]
    status, reply = await hs.request("POST", "/createRoom", {}, token=token)
    assert status == 200
    room = reply["room_id"]
    status, reply = await hs.request(
        "PUT", f"/rooms/{room}/send/m.room.message/t", {"body": "hi"}, token=token
    )
    assert status == 200
    return token, room, reply["event_id"]


async def _get(hs: Homeserver, token: str, path: str, name: str, value: str) -> tuple[int, Any]:
    url = path if path.startswith("/_") else f"/_matrix/client/v3{path}"
    sep = "&" if "?" in url else "?"
    url = f"{url}{sep}{name}={quote(value)}"
    async with hs.client.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status, await response.json()


async def _check(hs: Homeserver, cases: list[tuple[str, str]], values: list[str]) -> None:
    token, room, event = await _room_and_event(hs)
    for template, name in cases:
        path = template.format(room=room, event=event)
        for value in values:
            status, reply = await _get(hs, token, path, name, value)
            assert (status, reply.get("errcode")) == (400, "M_INVALID_PARAM"), (
                path,
                name,
                value,
                reply,
            )


async def test_integer_params_are_ascii_digits_in_range(hs: Homeserver) -> None:
    await _check(hs, INT_PARAMS, BAD_NUMBERS)


async def test_tokens_are_ascii_digits_in_range(hs: Homeserver) -> None:
    await _check(hs, TOKEN_PARAMS, BAD_TOKENS)


async def test_boolean_params_are_true_or_false(hs: Homeserver) -> None:
    await _check(hs, BOOL_PARAMS, BAD_BOOLEANS)


@pytest.mark.parametrize("value", ["0", "10", "007", "9007199254740991"])
async def test_good_integers_still_accepted(hs: Homeserver, value: str) -> None:
    token, room, _ = await _room_and_event(hs)
    status, reply = await _get(hs, token, f"/rooms/{room}/messages", "limit", value)
    assert status == 200, reply
    status, reply = await _get(hs, token, "/sync", "timeout", "0")
    assert status == 200, reply
    for flag in ("true", "false"):
        status, reply = await _get(hs, token, "/sync", "full_state", flag)
        assert status == 200, reply
