"""Matrix errors: the errcodes, their default HTTP statuses, and one exception type.

Every failure a client or a federating server sees is a ``MatrixError`` rendered
as ``{"errcode": ..., "error": ...}`` by the HTTP error middleware.
Spec: client-server-api "Standard error response" and "Common error codes".

One spelling for raising them:

- the common errcodes have a helper, which gives the errcode's default status:
  ``raise forbidden(msg)``, ``not_found(msg)``, ``bad_json(msg)``,
  ``invalid_param(msg)``, ``missing_param(msg)``;
- every other errcode, and a helper's errcode that needs a non-default
  ``status``, ``headers`` or extra body fields, is spelled out:
  ``raise MatrixError(ErrCode.X, msg, status=..., **extra)``.

``tests/core/test_errors_convention.py`` keeps it so: it fails on a spelled-out
``MatrixError(ErrCode.<code with a helper>, msg)`` with nothing else passed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrCode(StrEnum):
    FORBIDDEN = "M_FORBIDDEN"
    UNKNOWN_TOKEN = "M_UNKNOWN_TOKEN"
    MISSING_TOKEN = "M_MISSING_TOKEN"
    USER_LOCKED = "M_USER_LOCKED"
    USER_SUSPENDED = "M_USER_SUSPENDED"
    BAD_JSON = "M_BAD_JSON"
    NOT_JSON = "M_NOT_JSON"
    NOT_FOUND = "M_NOT_FOUND"
    LIMIT_EXCEEDED = "M_LIMIT_EXCEEDED"
    UNRECOGNIZED = "M_UNRECOGNIZED"
    UNKNOWN = "M_UNKNOWN"
    UNAUTHORIZED = "M_UNAUTHORIZED"
    USER_DEACTIVATED = "M_USER_DEACTIVATED"
    USER_IN_USE = "M_USER_IN_USE"
    INVALID_USERNAME = "M_INVALID_USERNAME"
    ROOM_IN_USE = "M_ROOM_IN_USE"
    INVALID_ROOM_STATE = "M_INVALID_ROOM_STATE"
    THREEPID_IN_USE = "M_THREEPID_IN_USE"
    THREEPID_NOT_FOUND = "M_THREEPID_NOT_FOUND"
    THREEPID_AUTH_FAILED = "M_THREEPID_AUTH_FAILED"
    THREEPID_DENIED = "M_THREEPID_DENIED"
    SERVER_NOT_TRUSTED = "M_SERVER_NOT_TRUSTED"
    UNSUPPORTED_ROOM_VERSION = "M_UNSUPPORTED_ROOM_VERSION"
    INCOMPATIBLE_ROOM_VERSION = "M_INCOMPATIBLE_ROOM_VERSION"
    BAD_STATE = "M_BAD_STATE"
    GUEST_ACCESS_FORBIDDEN = "M_GUEST_ACCESS_FORBIDDEN"
    CAPTCHA_NEEDED = "M_CAPTCHA_NEEDED"
    CAPTCHA_INVALID = "M_CAPTCHA_INVALID"
    MISSING_PARAM = "M_MISSING_PARAM"
    INVALID_PARAM = "M_INVALID_PARAM"
    TOO_LARGE = "M_TOO_LARGE"
    EXCLUSIVE = "M_EXCLUSIVE"
    UNKNOWN_DEVICE = "M_UNKNOWN_DEVICE"
    # The appservice ping (client-server API, spec v1.7).
    BAD_STATUS = "M_BAD_STATUS"
    CONNECTION_FAILED = "M_CONNECTION_FAILED"
    CONNECTION_TIMEOUT = "M_CONNECTION_TIMEOUT"
    RESOURCE_LIMIT_EXCEEDED = "M_RESOURCE_LIMIT_EXCEEDED"
    CANNOT_LEAVE_SERVER_NOTICE_ROOM = "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM"
    WEAK_PASSWORD = "M_WEAK_PASSWORD"
    UNABLE_TO_AUTHORISE_JOIN = "M_UNABLE_TO_AUTHORISE_JOIN"
    UNABLE_TO_GRANT_JOIN = "M_UNABLE_TO_GRANT_JOIN"
    BAD_ALIAS = "M_BAD_ALIAS"
    DUPLICATE_ANNOTATION = "M_DUPLICATE_ANNOTATION"
    NOT_YET_UPLOADED = "M_NOT_YET_UPLOADED"
    CANNOT_OVERWRITE_MEDIA = "M_CANNOT_OVERWRITE_MEDIA"
    UNKNOWN_POS = "M_UNKNOWN_POS"
    URL_NOT_SET = "M_URL_NOT_SET"
    WRONG_ROOM_KEYS_VERSION = "M_WRONG_ROOM_KEYS_VERSION"
    INVALID_SIGNATURE = "M_INVALID_SIGNATURE"
    PROFILE_TOO_LARGE = "M_PROFILE_TOO_LARGE"
    KEY_TOO_LARGE = "M_KEY_TOO_LARGE"
    # Invite permission (spec v1.18; MSC4155's filters use it too, as Synapse does).
    INVITE_BLOCKED = "M_INVITE_BLOCKED"


#: The HTTP status an errcode gets when the raiser does not choose one.
DEFAULT_STATUS: dict[ErrCode, int] = {
    ErrCode.FORBIDDEN: 403,
    ErrCode.UNKNOWN_TOKEN: 401,
    ErrCode.MISSING_TOKEN: 401,
    ErrCode.USER_LOCKED: 401,
    ErrCode.USER_SUSPENDED: 403,
    ErrCode.BAD_JSON: 400,
    ErrCode.NOT_JSON: 400,
    ErrCode.NOT_FOUND: 404,
    ErrCode.LIMIT_EXCEEDED: 429,
    ErrCode.UNRECOGNIZED: 404,
    ErrCode.UNKNOWN: 500,
    ErrCode.UNAUTHORIZED: 401,
    ErrCode.USER_DEACTIVATED: 403,
    ErrCode.USER_IN_USE: 400,
    ErrCode.INVALID_USERNAME: 400,
    ErrCode.ROOM_IN_USE: 400,
    ErrCode.INVALID_ROOM_STATE: 400,
    ErrCode.THREEPID_IN_USE: 400,
    ErrCode.THREEPID_NOT_FOUND: 400,
    ErrCode.THREEPID_AUTH_FAILED: 401,
    ErrCode.THREEPID_DENIED: 403,
    ErrCode.SERVER_NOT_TRUSTED: 403,
    ErrCode.UNSUPPORTED_ROOM_VERSION: 400,
    ErrCode.INCOMPATIBLE_ROOM_VERSION: 400,
    ErrCode.BAD_STATE: 400,
    ErrCode.GUEST_ACCESS_FORBIDDEN: 403,
    ErrCode.CAPTCHA_NEEDED: 401,
    ErrCode.CAPTCHA_INVALID: 400,
    ErrCode.MISSING_PARAM: 400,
    ErrCode.INVALID_PARAM: 400,
    ErrCode.TOO_LARGE: 413,
    ErrCode.EXCLUSIVE: 400,
    ErrCode.UNKNOWN_DEVICE: 400,
    ErrCode.BAD_STATUS: 502,
    ErrCode.CONNECTION_FAILED: 502,
    ErrCode.CONNECTION_TIMEOUT: 504,
    ErrCode.RESOURCE_LIMIT_EXCEEDED: 403,
    ErrCode.CANNOT_LEAVE_SERVER_NOTICE_ROOM: 403,
    ErrCode.WEAK_PASSWORD: 400,
    ErrCode.UNABLE_TO_AUTHORISE_JOIN: 403,
    ErrCode.UNABLE_TO_GRANT_JOIN: 502,
    ErrCode.BAD_ALIAS: 400,
    ErrCode.DUPLICATE_ANNOTATION: 400,
    ErrCode.NOT_YET_UPLOADED: 504,
    ErrCode.CANNOT_OVERWRITE_MEDIA: 409,
    ErrCode.UNKNOWN_POS: 400,
    ErrCode.URL_NOT_SET: 400,
    ErrCode.WRONG_ROOM_KEYS_VERSION: 403,
    ErrCode.INVALID_SIGNATURE: 401,
    ErrCode.PROFILE_TOO_LARGE: 400,
    ErrCode.KEY_TOO_LARGE: 400,
    ErrCode.INVITE_BLOCKED: 403,
}


class MatrixError(Exception):
    """A failure with a Matrix errcode; ``extra`` fields go into the JSON body."""

    def __init__(
        self,
        errcode: ErrCode | str,
        message: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.errcode = str(errcode)
        self.message = message
        code = ErrCode(errcode) if errcode in ErrCode._value2member_map_ else None
        self.status = (
            status if status is not None else DEFAULT_STATUS.get(code, 400) if code else 400
        )
        self.headers = headers or {}
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"errcode": self.errcode, "error": self.message}
        body.update(self.extra)
        return body

    def __repr__(self) -> str:
        return f"MatrixError({self.status}, {self.errcode}, {self.message!r})"


def bad_json(message: str) -> MatrixError:
    return MatrixError(ErrCode.BAD_JSON, message)


def not_found(message: str) -> MatrixError:
    return MatrixError(ErrCode.NOT_FOUND, message)


def forbidden(message: str) -> MatrixError:
    return MatrixError(ErrCode.FORBIDDEN, message)


def invalid_param(message: str) -> MatrixError:
    return MatrixError(ErrCode.INVALID_PARAM, message)


def missing_param(message: str) -> MatrixError:
    return MatrixError(ErrCode.MISSING_PARAM, message)


def federation_unavailable(what: str) -> MatrixError:
    """An action that needs another server and that this server cannot do yet: a clear
    refusal (nothing is written) instead of a silent success."""
    return MatrixError(ErrCode.UNKNOWN, f"{what} over federation is not available yet", status=502)


class AuthError(MatrixError):
    """An event is not allowed by the authorisation rules; ``reason`` says which rule."""

    def __init__(self, reason: str, errcode: str = ErrCode.FORBIDDEN, status: int = 403) -> None:
        super().__init__(errcode, reason, status=status)
        self.reason = reason
