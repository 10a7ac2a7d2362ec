"""Partial-state ``send_join`` answers (server-server API, ``PUT /v2/send_join``
with ``omit_members=true``, spec v1.6+, MSC3706): which state events a resident
server still returns when the joining server lets it leave out members, and which
servers the answer names as in the room.

The state keeps every event that is not an ``m.room.member`` and, of the member
events, only:

- the joining user's own current membership (an auth event of the join, e.g. an
  invite). The spec lets every member event go; Synapse keeps this one
  (``_get_event_ids_for_partial_state_join``) so the joining server has its user's
  prior membership as state, and so do we;
- when the room has neither an ``m.room.name`` nor an ``m.room.canonical_alias``
  event, the members that would be the ``m.heroes`` of the room summary (spec:
  "the resident server should include these members' membership events"), so the
  joining server can name the room. The spec's test is whether the events exist,
  not whether their content is empty; we follow its words, as Synapse does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from conduwuit.core.event_types import EventType
from conduwuit.core.ids import server_of
from conduwuit.core.membership import MembershipState

StateKey = tuple[str, str]


def partial_state_ids(
    state: Mapping[StateKey, str], joiner: str, heroes: Callable[[], Iterable[str]]
) -> set[str]:
    """The event IDs of ``state`` (the state before the join) a partial answer
    returns. ``heroes`` is asked only when the room has no name and no alias."""
    out = {event_id for (kind, _), event_id in state.items() if kind != EventType.MEMBER}
    wanted = [joiner]
    if (EventType.NAME, "") not in state and (EventType.CANONICAL_ALIAS, "") not in state:
        wanted.extend(heroes())
    for user in wanted:
        event_id = state.get((EventType.MEMBER, user))
        if event_id is not None:
            out.add(event_id)
    return out


def joined_servers(memberships: Iterable[tuple[str, str | None]]) -> list[str]:
    """``servers_in_room``: the servers of the joined members among
    ``(user_id, membership)`` pairs, sorted (the order is not meaningful)."""
    return sorted(
        {server_of(user) for user, membership in memberships if membership == MembershipState.JOIN}
        - {""}
    )
