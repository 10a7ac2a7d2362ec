"""Tokens for positions of the one global stream (the counter that orders everything
a client can sync), in the shapes clients see them.

On the wire: /sync's ``next_batch`` (also taken by ``/keys/changes``) is ``s<N>``;
pagination tokens (``/messages`` ``start``/``end``, relations and threads, /sync's
``prev_batch``) are a bare ``<N>``, or ``-<N>`` for the positions of history
backfilled from other servers (below every stream position). ``<N>`` is ASCII
digits (``core.numbers``).
A bad token is a 400 ``M_INVALID_PARAM``. Offsets into a listing (the room
directory, /hierarchy, /search) are not stream positions and are not parsed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from conduwuit.core.errors import invalid_param
from conduwuit.core.numbers import parse_uint

SYNC_PREFIX = "s"
#: Prefixes a pagination token may carry: ``s`` (a /sync token used to paginate)
#: and ``t`` (the topological shape of other servers' tokens).
PAGINATION_PREFIXES = ("s", "t")


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
        """A pagination token: ``<N>``, optionally with an ``s`` or ``t`` prefix, and
        anything after a ``_`` ignored (the shape of Synapse's multi-part tokens);
        ``-<N>`` is a backfilled position (negative)."""
        if token.startswith("-"):
            position = parse_uint(token[1:])
            if position is None:
                raise invalid_param(f"Invalid pagination token {token!r}")
            return cls(-position)
        digits = token[1:] if token[:1] in PAGINATION_PREFIXES else token
        position = parse_uint(digits.split("_", 1)[0])
        if position is None:
            raise invalid_param(f"Invalid pagination token {token!r}")
        return cls(position)
