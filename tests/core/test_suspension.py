"""What a suspended account may send (core/suspension.py, Synapse's line)."""

from __future__ import annotations

import pytest

from conduwuit.core import room_versions as rv
from conduwuit.core.events import Event
from conduwuit.core.suspension import event_refusal
from tests.core.test_events import pdu

ME = "@a:x"


def event(event_type: str, content: dict[str, object], state_key: str | None = None) -> Event:
    extra = {} if state_key is None else {"state_key": state_key}
    return Event(pdu(type=event_type, sender=ME, content=content, **extra), rv.V11)


@pytest.mark.parametrize(
    ("event_type", "content", "state_key"),
    [
        ("m.room.message", {"body": "hi"}, None),
        ("m.room.topic", {"topic": "t"}, ""),
        ("m.room.create", {}, ""),
        ("m.room.member", {"membership": "join"}, ME),
        ("m.room.member", {"membership": "invite"}, "@b:x"),
        ("m.room.member", {"membership": "ban"}, "@b:x"),
        ("m.room.member", {"membership": "knock"}, ME),
        ("m.reaction", {}, None),
    ],
)
def test_refused(event_type: str, content: dict[str, object], state_key: str | None) -> None:
    assert event_refusal(event(event_type, content, state_key), None) is not None


@pytest.mark.parametrize("target", [ME, "@b:x"])
def test_leaves_and_kicks_allowed(target: str) -> None:
    assert event_refusal(event("m.room.member", {"membership": "leave"}, target), None) is None


def test_redactions_only_of_own_or_unknown_events() -> None:
    redaction = event("m.room.redaction", {"redacts": "$t"})
    assert event_refusal(redaction, ME) is None
    assert event_refusal(redaction, None) is None
    refusal = event_refusal(redaction, "@b:x")
    assert refusal is not None and "own events" in refusal
