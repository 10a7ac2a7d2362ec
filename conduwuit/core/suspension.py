"""What a suspended account may not do (client-server API "Account suspension", v1.13).

The spec leaves the exact list to the server and recommends forbidding joins and
knocks, sending or accepting invites, sending messages, changing the profile and
redacting other users' events, while reading, syncing, leaving, redacting one's own
events, logging out and key management go on. This server draws the line where
Synapse does (``EventCreationHandler.create_event``, ``RoomMemberHandler``, the
profile servlets): of the events a suspended user sends, only leaves (their own, or
kicks, which are leaves too) and redactions of their own events are allowed; joins
and knocks are refused before anyone is asked (remote rooms too); profile changes
are refused.
"""

from __future__ import annotations

from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.core.event_types import EventType
from conduwuit.core.events import Event
from conduwuit.core.membership import MembershipState


def suspended_error(message: str) -> MatrixError:
    """403 M_USER_SUSPENDED (the spec's answer to any refused action)."""
    return MatrixError(ErrCode.USER_SUSPENDED, message)


def event_refusal(event: Event, redacted_sender: str | None) -> str | None:
    """Why a suspended user may not send ``event``, or None if they may.

    ``redacted_sender``: the sender of the event a redaction targets, None if that
    event is unknown here (Synapse lets such a redaction through: it hides nothing).
    """
    if event.type == EventType.REDACTION:
        if redacted_sender is not None and redacted_sender != event.sender:
            return "You can only redact your own events while account is suspended."
        return None
    if event.type == EventType.MEMBER:
        if event.membership != MembershipState.LEAVE:
            return "Changing membership while account is suspended is not allowed."
        return None
    return "Sending messages while account is suspended is not allowed."


#: Joins and knocks, refused before the room is looked up (Synapse's wording).
JOIN_REFUSAL = "Joining or knocking on rooms while account is suspended is not allowed."
#: Profile changes (display name, avatar, custom fields).
PROFILE_REFUSAL = "Updating profile while account is suspended is not allowed."
