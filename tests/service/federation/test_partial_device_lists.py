"""The notes of device list updates sent while a room was partial-state: a note's
stream position is read back whatever bytes it holds (0xFF is the key separator)."""

from __future__ import annotations

import pytest

from conduwuit.service.federation.partial_device_lists import note_key, note_position


@pytest.mark.parametrize("at", [1, 255, 1023, 0xFF00, 0xFFFF_FFFF_FFFF])
def test_a_notes_position_survives_separator_bytes(at: int) -> None:
    room = "!room:example.org"
    assert note_position(note_key(room, at, "@alice:example.org"), room) == at
