"""User ID grammar (appendices "User Identifiers"), for the accounts code.

Temporary home: ``conduwuit/core/ids.py`` (typed IDs for every kind) is coming from
another branch; these checks move there once it lands.
"""

from __future__ import annotations

import re
from typing import NewType

from conduwuit.core.errors import ErrCode, MatrixError

#: A syntactically valid user ID, ``@localpart:server_name``.
UserId = NewType("UserId", str)

#: The localpart grammar for new IDs: lowercase letters, digits and ``._=-/+``.
LOCALPART = re.compile(r"[a-z0-9._=\-/+]+")
#: Historical user IDs (still accepted where they already exist): printable ASCII but ':'.
HISTORICAL_LOCALPART = re.compile(r"[\x21-\x39\x3b-\x7e]+")
#: "The length of a user ID, including the @ sigil and the domain, MUST NOT exceed 255 bytes."
MAX_USER_ID_BYTES = 255


def make_user_id(localpart: str, server_name: str) -> UserId:
    return UserId(f"@{localpart}:{server_name}")


def parse_user_id(value: str) -> tuple[str, str] | None:
    """``(localpart, server_name)`` of a user ID in the historical grammar, else None."""
    if not value.startswith("@") or ":" not in value:
        return None
    if len(value.encode()) > MAX_USER_ID_BYTES:
        return None
    localpart, _, server_name = value[1:].partition(":")
    if not HISTORICAL_LOCALPART.fullmatch(localpart) or not server_name:
        return None
    return localpart, server_name


def check_new_localpart(localpart: str, server_name: str) -> UserId:
    """The user ID a new account with this localpart gets, or M_INVALID_USERNAME."""
    if not localpart:
        raise MatrixError(ErrCode.INVALID_USERNAME, "The username must not be empty.")
    if not LOCALPART.fullmatch(localpart):
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
