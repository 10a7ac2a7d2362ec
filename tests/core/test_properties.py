"""Property tests (hypothesis) for redaction, hashing, signing and state resolution."""

import copy
import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conduwuit.core import room_versions as rv
from conduwuit.core import state_res
from conduwuit.core.auth_rules import AuthError, check
from conduwuit.core.event_hashing import (
    HashMismatchError,
    check_content_hash,
    compute_event_id,
    content_hash,
)
from conduwuit.core.event_signing import hash_and_sign_event, verify_event_signatures
from conduwuit.core.redaction import redact
from conduwuit.core.signing import Keypair, SignatureError

from .roomkit import CREATOR, Room

VERSIONS = st.sampled_from(list(rv.KNOWN_ROOM_VERSIONS.values()))
SAFE_INT = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
JSON = st.recursive(
    st.none() | st.booleans() | SAFE_INT | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
EVENT_TYPES = st.sampled_from(
    [
        "m.room.member",
        "m.room.create",
        "m.room.join_rules",
        "m.room.power_levels",
        "m.room.aliases",
        "m.room.history_visibility",
        "m.room.redaction",
        "m.room.message",
        "org.example.custom",
    ]
)
CONTENT_KEYS = st.sampled_from(
    [
        "membership",
        "creator",
        "join_rule",
        "allow",
        "ban",
        "users",
        "invite",
        "aliases",
        "history_visibility",
        "redacts",
        "body",
        "join_authorised_via_users_server",
        "third_party_invite",
        "x",
    ]
)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    content = draw(st.dictionaries(CONTENT_KEYS, JSON, max_size=5))
    if draw(st.booleans()):
        content["third_party_invite"] = {"signed": draw(JSON), "other": draw(JSON)}
    event: dict[str, Any] = {
        "type": draw(EVENT_TYPES),
        "room_id": "!r:x",
        "sender": "@a:x",
        "origin": "x",
        "origin_server_ts": draw(st.integers(0, 2**40)),
        "depth": draw(st.integers(0, 1000)),
        "prev_events": ["$p"],
        "auth_events": ["$a"],
        "content": content,
        "unsigned": {"age": 1},
    }
    if draw(st.booleans()):
        event["state_key"] = draw(st.text(max_size=5))
    extra = draw(st.dictionaries(st.sampled_from(["membership", "prev_state", "junk"]), JSON))
    event.update(extra)
    return event


def reorder(value: Any) -> Any:
    """The same JSON value with every object's keys in reverse insertion order."""
    if isinstance(value, dict):
        return {k: reorder(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reorder(v) for v in value]
    return value


RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@RELAXED
@given(events(), VERSIONS)
def test_redaction_is_idempotent(event: dict[str, Any], version: rv.RoomVersion) -> None:
    once = redact(event, version)
    assert redact(once, version) == once
    assert "unsigned" not in once


@RELAXED
@given(events(), VERSIONS)
def test_hashes_and_ids_stable_under_key_reordering(
    event: dict[str, Any], version: rv.RoomVersion
) -> None:
    event["event_id"] = "$e:x"
    shuffled = reorder(event)
    assert list(shuffled) != list(event) or len(event) < 2
    assert content_hash(shuffled, version) == content_hash(event, version)
    assert compute_event_id(shuffled, version) == compute_event_id(event, version)


KEY = Keypair.generate("prop")


def lookup(server: str, key_id: str) -> tuple[str, int | None] | None:
    return (KEY.public_key, None) if key_id == KEY.key_id else None


@RELAXED
@given(events(), VERSIONS, st.data())
def test_signed_event_verifies_and_any_change_breaks_it(
    event: dict[str, Any], version: rv.RoomVersion, data: st.DataObject
) -> None:
    signed = hash_and_sign_event(event, "x", KEY, version)
    verify_event_signatures(signed, version, lookup)
    check_content_hash(signed, version)

    # Change one field covered by the signature (a value in the redacted form).
    signed_part = redact(signed, version)
    signed_part.pop("signatures")
    candidates = sorted(k for k in signed_part if k != "content" or signed_part["content"])
    key = data.draw(st.sampled_from(candidates))
    tampered = copy.deepcopy(signed)
    if key == "content":
        inner = data.draw(st.sampled_from(sorted(signed_part["content"])))
        tampered["content"][inner] = ["changed", tampered["content"][inner]]
    else:
        tampered[key] = ["changed", tampered[key]]
    try:
        verify_event_signatures(tampered, version, lookup)
    except SignatureError:
        pass
    else:
        raise AssertionError(f"changing {key} did not break the signature")

    # Any content change breaks the signature or, for redactable keys, the hash.
    tampered = copy.deepcopy(signed)
    tampered["content"]["__new__"] = 1
    try:
        verify_event_signatures(tampered, version, lookup)
        check_content_hash(tampered, version)
    except (SignatureError, HashMismatchError):
        pass
    else:
        raise AssertionError("adding a content key went unnoticed")


# --- state resolution --------------------------------------------------------

USERS = ["@u0:a", "@u1:b", "@u2:c", "@u3:d"]
ACTIONS = st.tuples(
    st.sampled_from([CREATOR, *USERS]),
    st.sampled_from(["topic", "promote", "demote", "ban", "kick", "join", "leave", "name"]),
    st.sampled_from(USERS),
)


def build_forks(
    version: rv.RoomVersion, forks: list[list[tuple[str, str, str]]]
) -> tuple[Room, list[dict[tuple[str, str], str]]]:
    room = Room(version, users={USERS[0]: 50})
    for user in USERS:
        room.join(user)
    base_state = dict(room.state)
    base_last = room.last
    states = []
    for actions in forks:
        room.state = dict(base_state)
        room.last = base_last
        for sender, action, target in actions:
            event = _action(room, version, sender, action, target)
            try:
                check(event, room.auth_state())
            except AuthError:
                event.rejected = True
                room.events[event.event_id] = event
                continue
            room.apply(event)
        states.append({k: e.event_id for k, e in room.state.items()})
    return room, states


def _action(room: Room, version: rv.RoomVersion, sender: str, action: str, target: str) -> Any:
    if action in ("topic", "name"):
        return room.make(f"m.room.{action}", "", sender, {action: sender})
    if action in ("promote", "demote"):
        current = room.state[("m.room.power_levels", "")].content.get("users", {})
        users = dict(current)
        users[target] = 50 if action == "promote" else 0
        return room.make("m.room.power_levels", "", sender, {"users": users})
    membership = {"ban": "ban", "kick": "leave", "leave": "leave", "join": "join"}[action]
    state_key = sender if action in ("join", "leave") else target
    return room.make("m.room.member", state_key, sender, {"membership": membership})


FORKS = st.lists(st.lists(ACTIONS, min_size=1, max_size=5), min_size=2, max_size=3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([rv.V1, rv.V2, rv.V10, rv.V11, rv.V12]), FORKS)
def test_state_res_is_independent_of_input_order(
    version: rv.RoomVersion, forks: list[list[tuple[str, str, str]]]
) -> None:
    room, states = build_forks(version, forks)

    def fetch(event_id: str) -> Any:
        return room.events.get(event_id)

    results = [
        state_res.resolve(version, list(order), fetch) for order in itertools.permutations(states)
    ]
    assert all(r == results[0] for r in results)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([rv.V1, rv.V2, rv.V11, rv.V12]), FORKS, st.integers(1, 3))
def test_state_res_of_unconflicted_state_is_unchanged(
    version: rv.RoomVersion, forks: list[list[tuple[str, str, str]]], copies: int
) -> None:
    room, states = build_forks(version, forks[:1])

    def fetch(event_id: str) -> Any:
        return room.events.get(event_id)

    assert state_res.resolve(version, [states[0]] * copies, fetch) == states[0]
