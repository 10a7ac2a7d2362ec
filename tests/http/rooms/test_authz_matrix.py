"""The authorization matrix (issue #13): every read endpoint that returns events or
room data x the requester's membership situation x the room's history visibility.
The expected outcome of each cell comes from a small oracle of the spec's rules
("History visibility", the endpoints' own rules, "Guest access"), not from a list;
the rooms are built once and every cell is checked against the server.

Situations, relative to three messages M1 (before anyone but the creator was in
the room), M2 (after the others' invites and joins) and M3 (after the leave and
ban): never joined, invited, left, banned, joined after history (joined after M1)
and a guest who never joined. In the world_readable room the never-joined user
and the guest are the world-readable peekers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.kit.homeserver import Homeserver, StartHomeserver

VISIBILITIES = ("world_readable", "shared", "invited", "joined")
SITUATIONS = ("never", "invited", "left", "banned", "joined", "guest")
PROBES = ("M1", "M2", "M3")
# Each situation's membership at each probe (absent: none).
MEMBERSHIP_AT: dict[str, dict[str, str]] = {
    "M1": {},
    "M2": {"invited": "invite", "left": "join", "banned": "join", "joined": "join"},
    "M3": {"invited": "invite", "left": "leave", "banned": "ban", "joined": "join"},
}
CURRENT = MEMBERSHIP_AT["M3"]
# Spec "Guest access": the read endpoints a guest may call.
GUEST_ENDPOINTS = {
    "state",
    "state_event",
    "members",
    "members_at",
    "messages",
    "initial_sync",
    "context",
    "event",
}
# Endpoints of the matrix the server does not implement: each cell expects M_UNRECOGNIZED.
NOT_IMPLEMENTED: set[str] = set()


# -- the oracle ------------------------------------------------------------------------
def sees(vis: str, who: str, probe: str) -> bool:
    """Whether ``who`` may see the probe event (spec "History visibility"; a user who
    left or was banned reads up to that point, as Synapse paginates)."""
    if who in ("left", "banned") and probe == "M3":
        return False
    membership = MEMBERSHIP_AT[probe].get(who)
    if vis == "world_readable" or membership == "join":
        return True
    if vis == "joined":
        return False
    if vis == "invited":
        return membership == "invite"
    return who == "joined"  # shared: everything, for users in the room now


def reads_room(vis: str, who: str) -> bool:
    """Room-level reads: members, those who left (up to then) and world-readable peeks."""
    return who in ("joined", "left", "banned") or vis == "world_readable"


def reads_state_at_now(vis: str, who: str) -> bool:
    """``/members?at=`` a token after M3 (Synapse's ``_user_can_see_state_at_event``):
    members at that point, and an invitee unless history is for joined members only;
    those who left read the state at their leave; others only world-readable rooms."""
    membership = CURRENT.get(who)
    if who in ("left", "banned") or membership == "join":
        return True
    if vis == "joined":
        return False
    return membership == "invite" or vis == "world_readable"


def visible(vis: str, who: str) -> set[str]:
    return {p for p in PROBES if sees(vis, who, p)}


@dataclass(frozen=True)
class Expect:
    status: int
    errcode: str | None = None
    secrets: set[str] | None = None  # the probe messages the reply must hold, exactly


def room_level(vis: str, who: str) -> Expect:
    return Expect(200) if reads_room(vis, who) else Expect(403, "M_FORBIDDEN")


def event_level(vis: str, who: str, probe: str) -> Expect:
    if not reads_room(vis, who):
        return Expect(403, "M_FORBIDDEN")
    return Expect(200) if sees(vis, who, probe) else Expect(404, "M_NOT_FOUND")


ORACLE: dict[str, Callable[[str, str, str], Expect]] = {
    "state": lambda vis, who, _: room_level(vis, who),
    "state_event": lambda vis, who, _: room_level(vis, who),
    "members": lambda vis, who, _: room_level(vis, who),
    "members_at": lambda vis, who, _: (
        Expect(200) if reads_state_at_now(vis, who) else Expect(403, "M_FORBIDDEN")
    ),
    "messages": lambda vis, who, _: (
        Expect(200, secrets=visible(vis, who)) if reads_room(vis, who) else room_level(vis, who)
    ),
    "initial_sync": lambda vis, who, _: (
        Expect(200, secrets=visible(vis, who)) if reads_room(vis, who) else room_level(vis, who)
    ),
    "context": event_level,
    # GET /event answers 404 for any event the user may not see, room or not: Synapse
    # filters it like any other (sytest "/event/ on non world readable room does not
    # work", Complement TestFetchEventNonWorldReadable).
    "event": lambda vis, who, probe: (
        event_level(vis, who, probe) if reads_room(vis, who) else Expect(404, "M_NOT_FOUND")
    ),
    "relations": event_level,
    "threads": lambda vis, who, _: room_level(vis, who),
    "timestamp_to_event": lambda vis, who, _: room_level(vis, who),
    # The spec: "The current user must be in the room for it to work".
    "joined_members": lambda vis, who, _: (
        Expect(200) if who == "joined" else Expect(403, "M_FORBIDDEN")
    ),
    # Search covers the rooms the user is joined to (as Synapse), filtered by visibility.
    "search": lambda vis, who, _: Expect(
        200, secrets=visible(vis, who) if who == "joined" else set()
    ),
    # Spaces: rooms the user is in or invited to, or that are world-readable (these
    # rooms are invite-only, so not joinable).
    "hierarchy": lambda vis, who, _: (
        Expect(200)
        if CURRENT.get(who) in ("join", "invite") or vis == "world_readable"
        else Expect(403, "M_FORBIDDEN")
    ),
    # MSC3266: a room that cannot be previewed is "not found".
    "summary": lambda vis, who, _: (
        Expect(200)
        if CURRENT.get(who) in ("join", "invite") or vis == "world_readable"
        else Expect(404, "M_NOT_FOUND")
    ),
    # The caller's own notifications, whatever the room (not a guest endpoint, as in
    # Synapse); which events notified whom is tests/http/client/test_notifications.py's.
    "notifications": lambda vis, who, _: Expect(200),
}
PER_PROBE = {"context", "event", "relations"}


def expected(endpoint: str, vis: str, who: str, probe: str) -> Expect:
    if endpoint in NOT_IMPLEMENTED:
        return Expect(404, "M_UNRECOGNIZED")
    if who == "guest" and endpoint not in GUEST_ENDPOINTS:
        return Expect(403, "M_GUEST_ACCESS_FORBIDDEN")
    return ORACLE[endpoint](vis, "never" if who == "guest" else who, probe)


# -- the server ------------------------------------------------------------------------
@dataclass
class Room:
    room_id: str
    events: dict[str, str]  # probe -> event ID
    at: str  # a sync token after M3


def request_for(endpoint: str, room: Room, probe: str) -> tuple[str, str, Any, dict[str, str]]:
    r, e = room.room_id, room.events[probe]
    v1 = "/_matrix/client/v1"
    search = {"search_categories": {"room_events": {"search_term": "secret"}}}
    table: dict[str, tuple[str, str, Any, dict[str, str]]] = {
        "state": ("GET", f"/rooms/{r}/state", None, {}),
        "state_event": ("GET", f"/rooms/{r}/state/m.room.name/", None, {}),
        "members": ("GET", f"/rooms/{r}/members", None, {}),
        "members_at": ("GET", f"/rooms/{r}/members", None, {"at": room.at}),
        "joined_members": ("GET", f"/rooms/{r}/joined_members", None, {}),
        "messages": ("GET", f"/rooms/{r}/messages", None, {"limit": "100"}),
        "initial_sync": ("GET", f"/rooms/{r}/initialSync", None, {"limit": "100"}),
        "context": ("GET", f"/rooms/{r}/context/{e}", None, {}),
        "event": ("GET", f"/rooms/{r}/event/{e}", None, {}),
        "relations": ("GET", f"{v1}/rooms/{r}/relations/{e}", None, {}),
        "threads": ("GET", f"{v1}/rooms/{r}/threads", None, {}),
        "search": ("POST", "/search", search, {}),
        "hierarchy": ("GET", f"{v1}/rooms/{r}/hierarchy", None, {}),
        "summary": ("GET", f"{v1}/room_summary/{r}", None, {}),
        "timestamp_to_event": (
            "GET",
            f"{v1}/rooms/{r}/timestamp_to_event",
            None,
            {"ts": "0", "dir": "f"},
        ),
        "notifications": ("GET", "/notifications", None, {}),
    }
    return table[endpoint]


def secrets_in(endpoint: str, reply: Any, room: Room) -> set[str]:
    by_id = {event_id: probe for probe, event_id in room.events.items()}
    if endpoint == "messages":
        ids = [e["event_id"] for e in reply["chunk"]]
    elif endpoint == "initial_sync":
        ids = [e["event_id"] for e in reply["messages"]["chunk"]]
    else:  # search
        results = reply["search_categories"]["room_events"]["results"]
        ids = [x["result"]["event_id"] for x in results if x["result"]["room_id"] == room.room_id]
    return {by_id[i] for i in ids if i in by_id}


async def build(hs: Homeserver) -> tuple[dict[str, str], dict[str, Room]]:
    tokens: dict[str, str] = {}
    for who in ("alice", *SITUATIONS[:-1]):
        tokens[who] = (await hs.register(f"m{who}"))["access_token"]
    status, guest = await hs.request("POST", "/register", {}, params={"kind": "guest"})
    assert status == 200, guest
    tokens["guest"] = guest["access_token"]
    ids = {who: f"@m{who}:test.example" for who in tokens if who != "guest"}

    async def ok(who: str, method: str, path: str, body: Any = None) -> Any:
        status, reply = await hs.request(method, path, body, token=tokens[who])
        assert status == 200, (who, path, reply)
        return reply

    rooms: dict[str, Room] = {}
    for vis in VISIBILITIES:
        body = {
            "preset": "private_chat",
            "name": f"room {vis}",
            "initial_state": [
                {"type": "m.room.history_visibility", "content": {"history_visibility": vis}}
            ],
        }
        room_id = (await ok("alice", "POST", "/createRoom", body))["room_id"]
        events: dict[str, str] = {}

        async def say(room_id: str, probe: str) -> str:
            content = {"msgtype": "m.text", "body": f"secret {probe}"}
            path = f"/rooms/{room_id}/send/m.room.message/{room_id}-{probe}"
            event_id: str = (await ok("alice", "PUT", path, content))["event_id"]
            return event_id

        events["M1"] = await say(room_id, "M1")
        for who in ("invited", "left", "banned", "joined"):
            await ok("alice", "POST", f"/rooms/{room_id}/invite", {"user_id": ids[who]})
        for who in ("left", "banned", "joined"):
            await ok(who, "POST", f"/rooms/{room_id}/join", {})
        events["M2"] = await say(room_id, "M2")
        await ok("left", "POST", f"/rooms/{room_id}/leave", {})
        await ok("alice", "POST", f"/rooms/{room_id}/ban", {"user_id": ids["banned"]})
        events["M3"] = await say(room_id, "M3")
        at = (await ok("alice", "GET", "/sync"))["next_batch"]
        rooms[vis] = Room(room_id, events, at)
    return tokens, rooms


async def test_authorization_matrix(start: StartHomeserver) -> None:
    hs = await start(allow_guest_registration=True)
    tokens, rooms = await build(hs)
    wrong: list[str] = []
    checked = 0
    for endpoint, vis, who in itertools.product(ORACLE, VISIBILITIES, SITUATIONS):
        for probe in PROBES if endpoint in PER_PROBE else ("M1",):
            want = expected(endpoint, vis, who, probe)
            method, path, body, params = request_for(endpoint, rooms[vis], probe)
            status, reply = await hs.request(
                method, path, body, token=tokens[who], params=params or None
            )
            got = Expect(
                status,
                reply.get("errcode") if status != 200 else None,
                secrets_in(endpoint, reply, rooms[vis]) if want.secrets is not None else None,
            )
            checked += 1
            if got != want:
                wrong.append(f"{endpoint} {vis} {who} {probe}: want {want}, got {got}")
    assert wrong == [], "\n".join(wrong)
    assert checked == len(SITUATIONS) * len(VISIBILITIES) * (len(ORACLE) + 2 * len(PER_PROBE))
