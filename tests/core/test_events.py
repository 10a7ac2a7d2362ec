from typing import Any

import pytest

from conduwuit.core import room_versions as rv
from conduwuit.core.events import Event, EventFormatError, OversizedKeyError, validate_pdu


def pdu(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "m.room.message",
        "room_id": "!r:x",
        "sender": "@a:x",
        "content": {"body": "hi"},
        "origin_server_ts": 1,
        "depth": 2,
        "prev_events": ["$p"],
        "auth_events": ["$a"],
        "hashes": {"sha256": "x"},
        "signatures": {},
    }
    base.update(overrides)
    return base


def test_valid_pdu_passes_and_event_view() -> None:
    validate_pdu(pdu(), rv.V11)
    event = Event(pdu(type="m.room.redaction", redacts="$t"), rv.V10)
    assert event.event_id.startswith("$")
    assert event.prev_event_ids == ("$p",)
    assert event.auth_event_ids == ("$a",)
    assert event.redacts == "$t"
    assert not event.is_state


def test_v1_references_are_pairs() -> None:
    old = pdu(event_id="$e:x", prev_events=[["$p:x", {"sha256": "h"}]], auth_events=[])
    validate_pdu(old, rv.V1)
    assert Event(old, rv.V1).prev_event_ids == ("$p:x",)
    with pytest.raises(EventFormatError, match="pairs"):
        validate_pdu(pdu(event_id="$e:x"), rv.V1)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"content": {"body": "x" * 70000}}, "larger"),
        ({"type": "t" * 256}, "type"),
        ({"state_key": "s" * 256}, "state_key"),
        ({"state_key": 1}, "state_key"),
        ({"sender": "nobody"}, "sender"),
        ({"room_id": "r"}, "room_id"),
        ({"content": []}, "content"),
        ({"depth": -1}, "depth"),
        ({"depth": 2**53}, "canonical|depth"),
        ({"origin_server_ts": 1.5}, "canonical|origin_server_ts"),
        ({"prev_events": ["$p"] * 21}, "prev_events"),
        ({"auth_events": ["$a"] * 11}, "auth_events"),
        ({"auth_events": ["nope"]}, "auth_events"),
    ],
)
def test_invalid_pdus(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(EventFormatError, match=message):
        validate_pdu(pdu(**overrides), rv.V11)


BOOM = "\U0001f4a5"  # four bytes in UTF-8


@pytest.mark.parametrize("field", ["type", "state_key"])
def test_keys_over_255_bytes_within_255_codepoints(field: str) -> None:
    """The Complement case: 70 codepoints, 280 bytes. v11+ refuse it as malformed;
    v10 and older flag it (after every other check) to be kept as rejected."""
    big = pdu(**{field: BOOM * 70})
    with pytest.raises(EventFormatError, match=f"{field} is longer than 255 bytes") as strict:
        validate_pdu(big, rv.V11)
    assert not isinstance(strict.value, OversizedKeyError)
    for version in (rv.V4, rv.V10, rv.MSC3757_V10):
        with pytest.raises(OversizedKeyError, match=field):
            validate_pdu(big, version)
    # Exactly 255 bytes is within the limit everywhere.
    validate_pdu(pdu(**{field: BOOM * 63 + "abc"}), rv.V11)
    validate_pdu(pdu(**{field: BOOM * 63 + "abc"}), rv.V10)


@pytest.mark.parametrize("field", ["type", "state_key"])
def test_keys_over_255_codepoints_are_malformed_in_every_version(field: str) -> None:
    for version in (rv.V10, rv.V11):
        with pytest.raises(EventFormatError, match="255 codepoints") as caught:
            validate_pdu(pdu(**{field: BOOM * 256}), version)
        assert not isinstance(caught.value, OversizedKeyError)


def test_oversized_key_does_not_hide_other_faults() -> None:
    """A lenient oversize is only reported when nothing else is wrong: an event also
    malformed elsewhere is refused, not kept."""
    bad = pdu(state_key=BOOM * 70, depth=-1)
    with pytest.raises(EventFormatError, match="depth") as caught:
        validate_pdu(bad, rv.V10)
    assert not isinstance(caught.value, OversizedKeyError)


def test_big_integers_allowed_before_v6() -> None:
    validate_pdu(pdu(content={"n": 2**60}), rv.V5)
    with pytest.raises(EventFormatError):
        validate_pdu(pdu(content={"n": 2**60}), rv.V6)


def test_v12_create_has_no_room_id() -> None:
    create = pdu(type="m.room.create", state_key="", prev_events=[], auth_events=[])
    with pytest.raises(EventFormatError, match="room_id"):
        validate_pdu(create, rv.V12)
    del create["room_id"]
    validate_pdu(create, rv.V12)
    with pytest.raises(EventFormatError, match="server name"):
        validate_pdu(pdu(), rv.V12)
