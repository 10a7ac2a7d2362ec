"""Shadow-banned users (Synapse's ``/_synapse/admin/v1/users/{userId}/shadow_ban``).

A shadow-banned user's requests that would reach other people are answered as if
they succeeded and do nothing, as Synapse does (docs/admin_api/user_admin_api.md,
"Controlling whether a user is shadow-banned"): the client API checks
:meth:`ShadowBans.is_banned` and answers with :func:`fake_event_id` (sends, state,
redactions) or ``{}`` (invites, typing), and ``/createRoom`` drops the invites.
"""

from __future__ import annotations

import secrets
import string

from conduwuit.db import Database
from conduwuit.db.codec import u64
from conduwuit.db.maps import MAPS
from conduwuit.service.clock import Clock

_EVENT_ID_CHARS = string.ascii_letters + string.digits + "-_"


def fake_event_id() -> str:
    """An event ID of the shape of a room v4+ one (``$`` and 43 URL-safe base64
    characters) that names no event, as Synapse's ``generate_fake_event_id``."""
    return "$" + "".join(secrets.choice(_EVENT_ID_CHARS) for _ in range(43))


class ShadowBans:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._banned = db.map(MAPS.userid_shadowbanned)
        self._clock = clock

    def is_banned(self, user_id: str) -> bool:
        return self._banned.contains(user_id.encode())

    def set_banned(self, user_id: str, banned: bool) -> None:
        if banned:
            self._banned.put(user_id.encode(), u64(self._clock()))
        else:
            self._banned.delete(user_id.encode())
