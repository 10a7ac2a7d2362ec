"""Third-party lookups with no application services: what Synapse answers then."""

from __future__ import annotations

from tests.kit.homeserver import Homeserver


async def test_thirdparty_without_protocols(hs: Homeserver) -> None:
    token = (await hs.register("alice"))["access_token"]
    answers = [
        ("/thirdparty/protocols", None, 200, {}),
        ("/thirdparty/location/irc", None, 200, []),
        ("/thirdparty/user/irc", {"nick": "x"}, 200, []),
        ("/thirdparty/location", {"alias": "#irc_x:test.example"}, 200, []),
        ("/thirdparty/user", {"userid": "@irc_x:test.example"}, 200, []),
    ]
    for path, params, status, body in answers:
        got = await hs.request("GET", path, token=token, params=params)
        assert got == (status, body), path


async def test_thirdparty_refusals(hs: Homeserver) -> None:
    token = (await hs.register("alice"))["access_token"]
    refusals = [
        ("/thirdparty/protocol/irc", token, 404, "M_NOT_FOUND"),
        ("/thirdparty/location", token, 400, "M_MISSING_PARAM"),
        ("/thirdparty/user", token, 400, "M_MISSING_PARAM"),
        ("/thirdparty/protocols", None, 401, "M_MISSING_TOKEN"),
    ]
    for path, who, status, errcode in refusals:
        got, reply = await hs.request("GET", path, token=who)
        assert (got, reply["errcode"]) == (status, errcode), path
