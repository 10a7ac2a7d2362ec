"""Tokens for positions of the one global stream (the counter that orders everything
a client can sync), in the shapes clients see them.

On the wire: /sync's ``next_batch`` (also taken by ``/keys/changes``) is ``s<N>``;
pagination tokens (``/messages`` ``start``/``end``, relations and threads, /sync's
``prev_batch``) are a bare ``<N>``, or ``-<N>`` for the positions of history
backfilled from other servers (below every stream position), or ``<N>.<S>`` for a
sub-position of history fetched into a gap (``core.timeline_pos``). ``<N>`` is ASCII
digits (``core.numbers``).
A bad token is a 400 ``M_INVALID_PARAM``. Offsets into a listing (the room
directory, /hierarchy, /search) are not stream positions and are not parsed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from conduwuit.core.errors import invalid_param
from conduwuit.core.numbers import parse_uint
from conduwuit.core.timeline_pos import parse_token

SYNC_PREFIX = "s"


@dataclass(frozen=True, slots=True, order=True)
class StreamToken:
    """A position in the global stream; ``str()`` gives the /sync form ``s<N>``."""

    position: int

    def __str__(self) -> str:
        return f"{SYNC_PREFIX}{self.position}"

    @classmethod
    def parse(cls, token: str, what: str = "stream token") -> StreamToken:
        """A /sync token: ``s<N>`` or a bare ``<N>`` (as conduwuit hands out)."""
        position = parse_uint(token[1:] if token.startswith(SYNC_PREFIX) else token)
        if position is None:
            raise invalid_param(f"Invalid {what} {token!r}")
        return cls(position)

    @classmethod
    def parse_pagination(cls, token: str) -> StreamToken:
        """The stream count of a pagination token (``core.timeline_pos.parse_token``;
        a sub-position counts as its count)."""
        return cls(parse_token(token).count)
