"""User IDs as the accounts code handles them: strings checked by the core grammar.

The grammar itself lives in ``conduwuit.core.ids`` (appendices "User Identifiers");
this module turns its verdicts into the errors registration and login answer with.
"""

from __future__ import annotations

from typing import NewType

from conduwuit.core import ids
from conduwuit.core.errors import ErrCode, MatrixError

#: The user ID of an account of this server, ``@localpart:server_name``, checked and in
#: the str form accounts store (the parsed form elsewhere is ``conduwuit.core.ids.UserId``).
AccountUserId = NewType("AccountUserId", str)

#: "The length of a user ID, including the @ sigil and the domain, MUST NOT exceed 255 bytes."
MAX_USER_ID_BYTES = 255


def make_user_id(localpart: str, server_name: str) -> AccountUserId:
    return AccountUserId(f"@{localpart}:{server_name}")


def parse_user_id(value: str) -> tuple[str, str] | None:
    """``(localpart, server_name)`` of a user ID in the historical grammar, else None."""
    try:
        parsed = ids.UserId.parse(value)
    except ValueError:
        return None
    return parsed.localpart, str(parsed.server_name)


def check_new_localpart(localpart: str, server_name: str) -> AccountUserId:
    """The user ID a new account with this localpart gets, or M_INVALID_USERNAME."""
    if not localpart:
        raise MatrixError(ErrCode.INVALID_USERNAME, "The username must not be empty.")
    if not ids.is_valid_localpart(localpart, strict=True):
        raise MatrixError(
            ErrCode.INVALID_USERNAME,
            "User ID can only contain characters a-z, 0-9, or '._=-/+'.",
        )
    user_id = make_user_id(localpart, server_name)
    if len(user_id.encode()) > MAX_USER_ID_BYTES:
        raise MatrixError(
            ErrCode.INVALID_USERNAME,
            f"User ID may not be longer than {MAX_USER_ID_BYTES} bytes.",
        )
    return user_id
