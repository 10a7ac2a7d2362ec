"""One admit and one reject test per authorisation rule, across room versions."""

from typing import Any

import pytest

from conduwuit.core import room_versions as rv
from conduwuit.core.auth_rules import AuthError, auth_types_for_event, check, check_auth_events
from conduwuit.core.events import Event
from conduwuit.core.signing import Keypair, sign_json

from .roomkit import CREATOR, Room

ALICE, BOB, MOD, EVE = "@alice:a", "@bob:b", "@mod:b", "@eve:e"


def allowed(room: Room, event: Event) -> None:
    check(event, room.auth_state())


def rejected(room: Room, event: Event, match: str = "") -> None:
    with pytest.raises(AuthError, match=match):
        check(event, room.auth_state())


def member(room: Room, target: str, sender: str, membership: str, **content: Any) -> Event:
    return room.make("m.room.member", target, sender, {"membership": membership, **content})


# --- m.room.create -------------------------------------------------------------


@pytest.mark.parametrize("version", [rv.V1, rv.V10, rv.V11, rv.V12])
def test_create_allowed(version: rv.RoomVersion) -> None:
    room = Room(version)
    check(room.create, {})


def test_create_with_prev_events_rejected() -> None:
    room = Room(rv.V11)
    bad = room.make("m.room.create", "", CREATOR, {}, prev=["$x"])
    with pytest.raises(AuthError, match="prev_events"):
        check(bad, {})


def test_create_room_id_server_must_match_sender() -> None:
    room = Room(rv.V11)
    bad = room.make("m.room.create", "", "@x:other", {}, prev=[])
    with pytest.raises(AuthError, match="different servers"):
        check(bad, {})


def test_create_v12_must_not_have_room_id() -> None:
    room = Room(rv.V12)
    bad = room.make("m.room.create", "", CREATOR, {}, prev=[], room_id="!x")
    with pytest.raises(AuthError, match="room_id"):
        check(bad, {})


def test_create_unknown_room_version_rejected() -> None:
    room = Room(rv.V11)
    bad = room.make("m.room.create", "", CREATOR, {"room_version": "99"}, prev=[])
    with pytest.raises(AuthError, match="room_version"):
        check(bad, {})


def test_create_needs_creator_before_v11() -> None:
    room = Room(rv.V10)
    with pytest.raises(AuthError, match="creator"):
        check(room.make("m.room.create", "", CREATOR, {}, prev=[]), {})
    check(Room(rv.V11).make("m.room.create", "", CREATOR, {}, prev=[]), {})


def test_create_v12_additional_creators_validated() -> None:
    room = Room(rv.V12)
    ok = room.make("m.room.create", "", CREATOR, {"additional_creators": [BOB]}, prev=[])
    check(ok, {})
    bad = room.make("m.room.create", "", CREATOR, {"additional_creators": ["bob"]}, prev=[])
    with pytest.raises(AuthError, match="additional_creators"):
        check(bad, {})


# --- auth_events list ----------------------------------------------------------


def auth_list(room: Room, event: Event) -> list[Event]:
    return [room.events[i] for i in event.auth_event_ids]


def test_auth_events_valid_list_admitted() -> None:
    room = Room(rv.V11)
    event = room.make("m.room.message", None, CREATOR, {})
    check_auth_events(event, auth_list(room, event))


def test_auth_events_duplicates_rejected() -> None:
    room = Room(rv.V11)
    event = room.make("m.room.message", None, CREATOR, {})
    with pytest.raises(AuthError, match="duplicate"):
        check_auth_events(event, [*auth_list(room, event), room.create])


def test_auth_events_unselected_entry_rejected() -> None:
    room = Room(rv.V11)
    event = room.make("m.room.message", None, CREATOR, {})
    join_rules = room.state[("m.room.join_rules", "")]
    with pytest.raises(AuthError, match="not selected"):
        check_auth_events(event, [*auth_list(room, event), join_rules])


def test_auth_events_rejected_entry_rejected() -> None:
    room = Room(rv.V11)
    event = room.make("m.room.message", None, CREATOR, {})
    events = auth_list(room, event)
    events[-1] = Event(dict(events[-1].pdu), rv.V11, events[-1].event_id, rejected=True)
    with pytest.raises(AuthError, match="rejected"):
        check_auth_events(event, events)


def test_auth_events_missing_create_rejected_before_v12() -> None:
    room = Room(rv.V11)
    event = room.make("m.room.message", None, CREATOR, {})
    with pytest.raises(AuthError, match=r"no m.room.create"):
        check_auth_events(event, auth_list(room, event)[1:])


def test_auth_events_v12_must_not_cite_create() -> None:
    room = Room(rv.V12)
    event = room.make("m.room.message", None, CREATOR, {})
    check_auth_events(event, auth_list(room, event))
    with pytest.raises(AuthError, match="not selected"):
        check_auth_events(event, [room.create, *auth_list(room, event)])


def test_auth_events_from_other_room_rejected() -> None:
    room, other = Room(rv.V11), Room(rv.V11)
    other.room_id = "!other:a"
    event = room.make("m.room.message", None, CREATOR, {})
    foreign = other.make("m.room.member", CREATOR, CREATOR, {"membership": "join"})
    with pytest.raises(AuthError, match="another room"):
        check_auth_events(event, [*auth_list(room, event)[:-1], foreign])


def test_v12_room_id_must_be_create_event() -> None:
    room = Room(rv.V12)
    allowed(room, room.make("m.room.message", None, CREATOR, {}))
    rejected(room, room.make("m.room.message", None, CREATOR, {}, room_id="!other"), "room_id")


def test_missing_create_in_state_rejected() -> None:
    room = Room(rv.V11)
    event = room.make("m.room.message", None, CREATOR, {})
    with pytest.raises(AuthError, match="create"):
        check(event, {k: v for k, v in room.state.items() if k[0] != "m.room.create"})


# --- m.federate ---------------------------------------------------------------


def test_unfederated_room() -> None:
    room = Room(rv.V11, create_content={"m.federate": False})
    allowed(room, member(room, "@local:a", "@local:a", "join"))
    rejected(room, member(room, BOB, BOB, "join"), "federate")


# --- m.room.aliases (v1-5) -----------------------------------------------------


def test_aliases_v5_rules() -> None:
    room = Room(rv.V5)
    allowed(room, room.make("m.room.aliases", "b", BOB, {"aliases": ["#x:b"]}))
    rejected(room, room.make("m.room.aliases", "a", BOB, {"aliases": []}), "sender's server")
    rejected(room, room.make("m.room.aliases", None, BOB, {"aliases": []}), "state_key")


def test_aliases_v6_is_an_ordinary_state_event() -> None:
    room = Room(rv.V6)
    rejected(room, room.make("m.room.aliases", "b", BOB, {"aliases": []}), "not joined")


# --- m.room.member: shape and restricted-join signature -------------------------


def test_member_needs_membership() -> None:
    room = Room(rv.V11)
    rejected(room, room.make("m.room.member", ALICE, ALICE, {}), "membership")
    allowed(room, member(room, ALICE, ALICE, "join"))


def test_member_unknown_membership_rejected() -> None:
    room = Room(rv.V11)
    rejected(room, member(room, ALICE, ALICE, "dance"), "unknown membership")


def test_join_authorised_via_needs_authoriser_signature() -> None:
    room = Room(rv.V9, join_rule="restricted")
    room.join(MOD)
    signed = {"a": {"ed25519:1": "s"}, "b": {"ed25519:1": "s"}}
    event = member(room, ALICE, ALICE, "join", join_authorised_via_users_server=MOD)
    rejected(room, event, "authorising")
    event = room.make(
        "m.room.member",
        ALICE,
        ALICE,
        {"membership": "join", "join_authorised_via_users_server": CREATOR},
        signatures=signed,
    )
    allowed(room, event)


# --- joins ---------------------------------------------------------------------


@pytest.mark.parametrize("version", [rv.V1, rv.V11, rv.V12])
def test_creator_first_join(version: rv.RoomVersion) -> None:
    room = Room(version)
    state = {("m.room.create", ""): room.create}
    first = room.make("m.room.member", CREATOR, CREATOR, {"membership": "join"}, prev=["$create"])
    check(first, state)
    other = room.make("m.room.member", ALICE, ALICE, {"membership": "join"}, prev=["$create"])
    with pytest.raises(AuthError):
        check(other, state)


def test_join_for_someone_else_rejected() -> None:
    room = Room(rv.V11)
    rejected(room, member(room, ALICE, BOB, "join"), "behalf")


def test_banned_user_cannot_join() -> None:
    room = Room(rv.V11)
    room.send("m.room.member", ALICE, CREATOR, {"membership": "ban"})
    rejected(room, member(room, ALICE, ALICE, "join"), "banned")


@pytest.mark.parametrize("rule", ["invite", "knock"])
def test_invite_only_join(rule: str) -> None:
    room = Room(rv.V7, join_rule=rule)
    rejected(room, member(room, ALICE, ALICE, "join"), "not invited")
    room.send("m.room.member", ALICE, CREATOR, {"membership": "invite"})
    allowed(room, member(room, ALICE, ALICE, "join"))


def test_knock_join_rule_unknown_before_v7() -> None:
    room = Room(rv.V6, join_rule="knock")
    room.send("m.room.member", ALICE, CREATOR, {"membership": "invite"})
    rejected(room, member(room, ALICE, ALICE, "join"), "does not allow")


def signed_by(room: Room, *servers: str) -> dict[str, Any]:
    return {s: {"ed25519:1": "s"} for s in servers}


@pytest.mark.parametrize(("version", "rule"), [(rv.V8, "restricted"), (rv.V10, "knock_restricted")])
def test_restricted_join(version: rv.RoomVersion, rule: str) -> None:
    room = Room(version, join_rule=rule, users={MOD: 50})
    room.join(MOD) if False else room.send("m.room.member", MOD, CREATOR, {"membership": "invite"})
    room.join(MOD)

    def join_via(user: str) -> Event:
        return room.make(
            "m.room.member",
            ALICE,
            ALICE,
            {"membership": "join", "join_authorised_via_users_server": user},
            signatures=signed_by(room, "a", "b"),
        )

    allowed(room, join_via(MOD))
    rejected(room, join_via("@nobody:b"), "not joined")
    rejected(room, member(room, ALICE, ALICE, "join"), "join_authorised")


def test_restricted_join_needs_invite_power() -> None:
    room = Room(rv.V8, join_rule="restricted")
    room.send("m.room.power_levels", "", CREATOR, {"users": {CREATOR: 100}, "invite": 50})
    room.join(BOB)
    event = room.make(
        "m.room.member",
        ALICE,
        ALICE,
        {"membership": "join", "join_authorised_via_users_server": BOB},
        signatures=signed_by(room, "a", "b"),
    )
    rejected(room, event, "may not invite")


def test_restricted_unknown_before_v8() -> None:
    room = Room(rv.V7, join_rule="restricted")
    rejected(room, member(room, ALICE, ALICE, "join"), "does not allow")


def test_public_and_private_join_rules() -> None:
    allowed(room := Room(rv.V11, join_rule="public"), member(room, ALICE, ALICE, "join"))
    room = Room(rv.V11, join_rule="private")
    rejected(room, member(room, ALICE, ALICE, "join"), "does not allow")


# --- invites -------------------------------------------------------------------


def test_invite_rules() -> None:
    room = Room(rv.V11, users={BOB: 0})
    room.join(BOB)
    allowed(room, member(room, ALICE, CREATOR, "invite"))
    rejected(room, member(room, ALICE, EVE, "invite"), "not joined")
    rejected(room, member(room, BOB, CREATOR, "invite"), "already joined")
    room.send("m.room.power_levels", "", CREATOR, {"users": {CREATOR: 100}, "invite": 50})
    rejected(room, member(room, ALICE, BOB, "invite"), "invite level")


IDENTITY_KEY = Keypair.generate("0")


def third_party_room(version: rv.RoomVersion = rv.V11) -> Room:
    room = Room(version)
    room.send(
        "m.room.third_party_invite",
        "tok",
        CREATOR,
        {"display_name": "a...", "public_key": IDENTITY_KEY.public_key},
    )
    return room


def tpi(mxid: str = ALICE, token: str = "tok", key: Keypair = IDENTITY_KEY) -> dict[str, Any]:
    return {"signed": sign_json({"mxid": mxid, "token": token}, "id.example", key)}


def test_third_party_invite_valid_signature_allowed() -> None:
    room = third_party_room()
    allowed(room, member(room, ALICE, CREATOR, "invite", third_party_invite=tpi()))


@pytest.mark.parametrize(
    ("third_party_invite", "match"),
    [
        ({}, "signed"),
        ({"signed": {"mxid": ALICE}}, "mxid and token"),
        (tpi(mxid=BOB), "does not match"),
        (tpi(token="other"), "no m.room.third_party_invite"),
        (tpi(key=Keypair.generate("1")), "no signature"),
    ],
)
def test_third_party_invite_rejections(third_party_invite: dict[str, Any], match: str) -> None:
    room = third_party_room()
    rejected(
        room, member(room, ALICE, CREATOR, "invite", third_party_invite=third_party_invite), match
    )


def test_third_party_invite_banned_target_and_wrong_sender() -> None:
    room = third_party_room()
    room.join(BOB)
    rejected(room, member(room, ALICE, BOB, "invite", third_party_invite=tpi()), "did not send")
    room.send("m.room.member", ALICE, CREATOR, {"membership": "ban"})
    rejected(room, member(room, ALICE, CREATOR, "invite", third_party_invite=tpi()), "banned")


# --- leave / kick / ban / knock ----------------------------------------------------


def test_self_leave() -> None:
    room = Room(rv.V11)
    room.join(ALICE)
    allowed(room, member(room, ALICE, ALICE, "leave"))
    rejected(room, member(room, BOB, BOB, "leave"), "cannot leave")


def test_knocker_can_leave_from_v7() -> None:
    room = Room(rv.V7, join_rule="knock")
    room.send("m.room.member", ALICE, ALICE, {"membership": "knock"})
    allowed(room, member(room, ALICE, ALICE, "leave"))


def test_kick_rules() -> None:
    room = Room(rv.V11, users={MOD: 50, BOB: 50})
    for user in (MOD, BOB, ALICE):
        room.join(user)
    allowed(room, member(room, ALICE, MOD, "leave"))
    rejected(room, member(room, BOB, MOD, "leave"), "may not kick")
    rejected(room, member(room, MOD, EVE, "leave"), "not joined")


def test_unban_needs_ban_level() -> None:
    room = Room(rv.V11, users={MOD: 50})
    room.join(MOD)
    room.send("m.room.member", ALICE, CREATOR, {"membership": "ban"})
    allowed(room, member(room, ALICE, MOD, "leave"))
    room.send("m.room.power_levels", "", CREATOR, {"users": {CREATOR: 100, MOD: 50}, "ban": 60})
    rejected(room, member(room, ALICE, MOD, "leave"), "unban")


def test_ban_rules() -> None:
    room = Room(rv.V11, users={MOD: 50, BOB: 50})
    for user in (MOD, BOB):
        room.join(user)
    allowed(room, member(room, ALICE, MOD, "ban"))
    rejected(room, member(room, BOB, MOD, "ban"), "may not ban")
    rejected(room, member(room, ALICE, EVE, "ban"), "not joined")


@pytest.mark.parametrize(("version", "rule"), [(rv.V7, "knock"), (rv.V10, "knock_restricted")])
def test_knock_rules(version: rv.RoomVersion, rule: str) -> None:
    room = Room(version, join_rule=rule)
    allowed(room, member(room, ALICE, ALICE, "knock"))
    rejected(room, member(room, ALICE, BOB, "knock"), "behalf")
    room.join(BOB)
    rejected(room, member(room, BOB, BOB, "knock"), "cannot knock")


def test_knock_rejected_on_public_room_and_before_v7() -> None:
    room = Room(rv.V7, join_rule="public")
    rejected(room, member(room, ALICE, ALICE, "knock"), "does not allow knocking")
    room = Room(rv.V6, join_rule="knock")
    rejected(room, member(room, ALICE, ALICE, "knock"), "unknown membership")


# --- other events -----------------------------------------------------------


def test_sender_must_be_joined() -> None:
    room = Room(rv.V11)
    room.join(ALICE)
    allowed(room, room.make("m.room.message", None, ALICE, {"body": "hi"}))
    rejected(room, room.make("m.room.message", None, BOB, {"body": "hi"}), "not joined")


def test_third_party_invite_event_needs_invite_level() -> None:
    room = Room(rv.V11)
    room.join(ALICE)
    allowed(room, room.make("m.room.third_party_invite", "t", ALICE, {}))
    room.send("m.room.power_levels", "", CREATOR, {"users": {CREATOR: 100}, "invite": 50})
    rejected(room, room.make("m.room.third_party_invite", "t", ALICE, {}), "invite level")


def test_required_power_level() -> None:
    room = Room(rv.V11, users={MOD: 50})
    room.join(MOD)
    room.join(ALICE)
    allowed(room, room.make("m.room.name", "", MOD, {"name": "x"}))
    rejected(room, room.make("m.room.name", "", ALICE, {"name": "x"}), "below 50")


def test_user_state_key_must_be_sender() -> None:
    room = Room(rv.V11, users={MOD: 50})
    room.join(MOD)
    allowed(room, room.make("org.example.state", MOD, MOD, {}))
    rejected(room, room.make("org.example.state", ALICE, MOD, {}), "must be the sender")


@pytest.mark.parametrize("version", [rv.MSC3757_V10, rv.MSC3757_V11])
def test_msc3757_owned_state(version: rv.RoomVersion) -> None:
    """Complement's TestMSC3757OwnedState, rule by rule."""
    state = "org.example.state"
    room = Room(version)
    levels = {"users": {CREATOR: 100, MOD: 50}, "events": {state: 0}}
    room.send("m.room.power_levels", "", CREATOR, levels)
    for user in (MOD, ALICE):
        room.join(user)
    # Own key, own suffixed key.
    allowed(room, room.make(state, ALICE, ALICE, {}))
    allowed(room, room.make(state, f"{ALICE}_device", ALICE, {}))
    # Another user's key, suffixed or not, or run together with a suffix: more power only.
    allowed(room, room.make(state, ALICE, MOD, {}))
    allowed(room, room.make(state, f"{ALICE}_device", MOD, {}))
    allowed(room, room.make(state, "@notinroom:elsewhere", MOD, {}))
    for key in (MOD, f"{MOD}_device", f"{ALICE}device_x", f"@prefix_{ALICE}_device"):
        rejected(room, room.make(state, key, ALICE, {}), "more power")
    # Not a user ID: 400 M_BAD_JSON.
    for key in ("@oops", f"{MOD}@device_x"):
        with pytest.raises(AuthError) as caught:
            check(room.make(state, key, MOD, {}), room.auth_state())
        assert (caught.value.status, caught.value.errcode) == (400, "M_BAD_JSON")
    # Stable versions keep "must be the sender" for any other key.
    plain = Room(rv.V11, users={MOD: 50})
    plain.join(MOD)
    rejected(plain, plain.make(state, f"{MOD}_device", MOD, {}), "must be the sender")


def test_redaction_v1_special_rule_and_v3_none() -> None:
    room = Room(rv.V1)
    room.join(ALICE)
    own = room.make("m.room.redaction", None, ALICE, {}, event_id="$r:a", redacts="$t:a")
    allowed(room, own)
    foreign = room.make("m.room.redaction", None, ALICE, {}, event_id="$r:a", redacts="$t:b")
    rejected(room, foreign, "may not redact")
    mod = room.make("m.room.redaction", None, CREATOR, {}, event_id="$r:a", redacts="$t:b")
    allowed(room, mod)
    room = Room(rv.V3)
    room.join(ALICE)
    allowed(room, room.make("m.room.redaction", None, ALICE, {}, redacts="$t:b"))


# --- m.room.power_levels ---------------------------------------------------------


def pl(room: Room, sender: str, **content: Any) -> Event:
    return room.make("m.room.power_levels", "", sender, content)


def test_power_levels_integer_checks_v10() -> None:
    room = Room(rv.V10)
    allowed(room, pl(room, CREATOR, users={CREATOR: 100}, ban=50))
    rejected(room, pl(room, CREATOR, users={CREATOR: 100}, ban="50"), "integer")
    rejected(room, pl(room, CREATOR, users={CREATOR: 100}, events={"x": "1"}), "integers")
    rejected(room, pl(room, CREATOR, users={CREATOR: "100"}), "not an integer")
    room = Room(rv.V9)
    allowed(room, pl(room, CREATOR, users={CREATOR: " +100 "}, ban="50", events={"x": 1.5}))


def test_power_levels_users_keys_must_be_user_ids() -> None:
    room = Room(rv.V11)
    rejected(room, pl(room, CREATOR, users={CREATOR: 100, "bob": 1}), "invalid user ID")
    rejected(room, pl(room, CREATOR, users=[]), "object")


def test_power_levels_v12_creators_not_listed() -> None:
    room = Room(rv.V12, create_content={"additional_creators": [BOB]})
    allowed(room, pl(room, CREATOR, users={ALICE: 50}))
    rejected(room, pl(room, CREATOR, users={CREATOR: 100}), "creators")
    rejected(room, pl(room, CREATOR, users={BOB: 100}), "creators")
    room = Room(rv.V11)
    allowed(room, pl(room, CREATOR, users={CREATOR: 100}))


@pytest.mark.parametrize(
    ("version", "content"),
    [
        (rv.V12, {"users": {CREATOR: 100}}),
        (rv.V11, {"users": {"bob": 1}}),
        (rv.V11, {"users": []}),
        (rv.V11, {"users": {ALICE: "1"}}),
        (rv.V11, {"ban": "50"}),
        (rv.V11, {"events": {"m.x": "1"}}),
    ],
)
def test_power_levels_format_rules_answer_400_bad_json(
    version: rv.RoomVersion, content: dict[str, Any]
) -> None:
    """Rules 10.1-10.4 are about the content's shape: a client sending such an event
    gets 400 M_BAD_JSON (Synapse's status), not 403."""
    room = Room(version)
    with pytest.raises(AuthError) as info:
        check(pl(room, CREATOR, **content), room.auth_state())
    assert (info.value.status, info.value.errcode) == (400, "M_BAD_JSON")


def test_power_levels_permission_rules_answer_403() -> None:
    room = Room(rv.V11, users={MOD: 50})
    room.join(MOD)
    with pytest.raises(AuthError) as info:
        check(pl(room, MOD, users={CREATOR: 100, MOD: 50}, kick=60), room.auth_state())
    assert (info.value.status, info.value.errcode) == (403, "M_FORBIDDEN")


def test_power_levels_first_event_allowed() -> None:
    room = Room(rv.V11)
    del room.state[("m.room.power_levels", "")]
    allowed(room, pl(room, CREATOR, users={CREATOR: 100, ALICE: 100}, ban=0))


def test_power_levels_named_levels() -> None:
    room = Room(rv.V11, users={MOD: 50})
    room.join(MOD)
    room.send(
        "m.room.power_levels",
        "",
        CREATOR,
        {"users": {CREATOR: 100, MOD: 50}, "events": {"m.room.power_levels": 50}},
    )
    base = {"users": {CREATOR: 100, MOD: 50}, "events": {"m.room.power_levels": 50}}
    allowed(room, pl(room, MOD, **base, kick=40))
    rejected(room, pl(room, MOD, **base, kick=60), "raise kick")
    room.send("m.room.power_levels", "", CREATOR, {**base, "kick": 60})
    rejected(room, pl(room, MOD, **base, kick=40), "change kick")


def test_power_levels_events_and_notifications() -> None:
    room = Room(rv.V11, users={MOD: 50})
    room.join(MOD)
    base = {"users": {CREATOR: 100, MOD: 50}}
    allowed(room, pl(room, MOD, **base, events={"m.x": 50}))
    rejected(room, pl(room, MOD, **base, events={"m.x": 51}), "events.m.x")
    rejected(room, pl(room, MOD, **base, notifications={"room": 60}), "notifications")
    room = Room(rv.V5, users={MOD: 50})
    room.join(MOD)
    allowed(room, pl(room, MOD, **base, notifications={"room": 60}))


def test_power_levels_users_changes() -> None:
    room = Room(rv.V11, users={MOD: 50, BOB: 50, ALICE: 10})
    base = {CREATOR: 100, MOD: 50, BOB: 50}
    room.join(MOD)
    allowed(room, pl(room, MOD, users={**base, ALICE: 40}))
    allowed(room, pl(room, MOD, users={**base, MOD: 10}))
    rejected(room, pl(room, MOD, users={**base, ALICE: 60}), "raise")
    rejected(room, pl(room, MOD, users={**base, BOB: 0}), "at or above")


def test_v12_creators_have_infinite_power() -> None:
    room = Room(rv.V12, create_content={"additional_creators": [BOB]}, users={MOD: 100})
    room.join(MOD)
    room.join(BOB)
    allowed(room, member(room, MOD, BOB, "ban"))
    rejected(room, member(room, BOB, MOD, "ban"), "may not ban")


# --- auth event selection --------------------------------------------------------


def test_auth_types_for_event() -> None:
    join = {
        "type": "m.room.member",
        "sender": ALICE,
        "state_key": ALICE,
        "content": {"membership": "join", "join_authorised_via_users_server": MOD},
    }
    assert auth_types_for_event(join, rv.V8) == [
        ("m.room.create", ""),
        ("m.room.power_levels", ""),
        ("m.room.member", ALICE),
        ("m.room.join_rules", ""),
        ("m.room.member", MOD),
    ]
    assert ("m.room.member", MOD) not in auth_types_for_event(join, rv.V7)
    assert ("m.room.create", "") not in auth_types_for_event(join, rv.V12)
    invite = {
        "type": "m.room.member",
        "sender": ALICE,
        "state_key": BOB,
        "content": {"membership": "invite", "third_party_invite": {"signed": {"token": "t"}}},
    }
    assert auth_types_for_event(invite, rv.V11)[-1] == ("m.room.third_party_invite", "t")
    assert auth_types_for_event({"type": "m.room.create"}, rv.V11) == []
    message = {"type": "m.room.message", "sender": ALICE}
    assert len(auth_types_for_event(message, rv.V11)) == 3
