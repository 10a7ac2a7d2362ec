"""Room-creation bodies several tests share."""

from __future__ import annotations

from typing import Any


def restricted_to(*room_ids: str) -> list[dict[str, Any]]:
    """``initial_state`` for a room only members of ``room_ids`` may join."""
    allow = [{"type": "m.room_membership", "room_id": r} for r in room_ids]
    return [
        {
            "type": "m.room.join_rules",
            "state_key": "",
            "content": {"join_rule": "restricted", "allow": allow},
        }
    ]
