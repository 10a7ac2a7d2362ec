"""User-interactive authentication (client-server API, "User-Interactive
Authentication API"): one mechanism for every endpoint that needs it.

An endpoint calls :meth:`Uiaa.authenticate` with the flows it accepts and the
request's ``auth`` dict. Each call completes at most one stage; until a whole flow
is complete it raises the 401 whose body lists flows, params, the session and the
stages completed so far. Sessions live in memory: they are short (minutes), and a
restart only makes a client start its authentication again.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.service.clock import Clock

DUMMY = "m.login.dummy"
PASSWORD = "m.login.password"
REGISTRATION_TOKEN = "m.login.registration_token"

#: Resolves a password stage's identifier and password to the user it proves, or None.
PasswordCheck = Callable[[dict[str, Any]], Awaitable[str | None]]


@dataclass
class UiaaSession:
    session_id: str
    flows: tuple[tuple[str, ...], ...]
    params: dict[str, Any]
    expires_ts: int
    #: The user the session authenticates (None for registration).
    user_id: str | None = None
    completed: list[str] = field(default_factory=list)
    #: Endpoint state kept across retries (registration keeps the user it created).
    data: dict[str, Any] = field(default_factory=dict)

    def done(self) -> bool:
        return any(all(stage in self.completed for stage in flow) for flow in self.flows)


class Uiaa:
    def __init__(
        self,
        clock: Clock,
        *,
        session_timeout_ms: int,
        check_password: PasswordCheck,
        registration_token: Callable[[], str | None],
    ) -> None:
        self._clock = clock
        self._timeout = session_timeout_ms
        self._check_password = check_password
        self._registration_token = registration_token
        self._sessions: dict[str, UiaaSession] = {}

    def _expire(self) -> None:
        now = self._clock()
        for sid in [s for s, session in self._sessions.items() if session.expires_ts <= now]:
            del self._sessions[sid]

    def _new_session(
        self, flows: tuple[tuple[str, ...], ...], params: dict[str, Any], user_id: str | None
    ) -> UiaaSession:
        session = UiaaSession(
            secrets.token_urlsafe(18), flows, params, self._clock() + self._timeout, user_id
        )
        self._sessions[session.session_id] = session
        return session

    def session(self, session_id: str) -> UiaaSession | None:
        self._expire()
        return self._sessions.get(session_id)

    def forget(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def challenge(
        self, session: UiaaSession, error: tuple[ErrCode, str] | None = None
    ) -> MatrixError:
        """The 401 that tells the client what is left to do."""
        body: dict[str, Any] = {
            "flows": [{"stages": list(flow)} for flow in session.flows],
            "params": session.params,
            "session": session.session_id,
        }
        if session.completed:
            body["completed"] = list(session.completed)
        if error is None:
            return _UiaaRequired(body)
        return MatrixError(error[0], error[1], status=401, **body)

    async def authenticate(
        self,
        auth: dict[str, Any] | None,
        flows: Sequence[Sequence[str]],
        *,
        user_id: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> UiaaSession:
        """Complete the stage in ``auth``; return the session once a flow is done.

        ``user_id`` is the authenticated requester, whose identity a password stage
        must prove (a different user is 403, as in Synapse).
        """
        self._expire()
        frozen = tuple(tuple(flow) for flow in flows)
        params = params if params is not None else {}
        sid = auth.get("session") if auth else None
        if sid is not None:
            if not isinstance(sid, str):
                raise MatrixError(ErrCode.BAD_JSON, "auth.session must be a string")
            session = self._sessions.get(sid)
            if session is None or session.user_id != user_id or session.flows != frozen:
                # Synapse: 400 "Unknown session ID" (M_UNKNOWN) for an unknown session.
                raise MatrixError(ErrCode.UNKNOWN, "Unknown session ID.", status=400)
        else:
            session = self._new_session(frozen, params, user_id)
        if session.done():
            return session
        if not auth or "type" not in auth:
            raise self.challenge(session)
        stage = auth["type"]
        if not isinstance(stage, str):
            raise MatrixError(ErrCode.BAD_JSON, "auth.type must be a string")
        if not any(stage in flow for flow in session.flows):
            raise self.challenge(
                session, (ErrCode.UNRECOGNIZED, f"Unrecognised authentication type {stage}")
            )
        await self._complete(session, stage, auth)
        if not session.done():
            raise self.challenge(session)
        return session

    async def _complete(self, session: UiaaSession, stage: str, auth: dict[str, Any]) -> None:
        if stage == DUMMY:
            pass
        elif stage == PASSWORD:
            proven = await self._check_password(auth)
            if proven is None:
                raise self.challenge(session, (ErrCode.FORBIDDEN, "Invalid password."))
            if session.user_id is not None and proven != session.user_id:
                raise MatrixError(
                    ErrCode.FORBIDDEN, "The password is for another user.", status=403
                )
        elif stage == REGISTRATION_TOKEN:
            token = auth.get("token")
            expected = self._registration_token()
            if (
                not isinstance(token, str)
                or expected is None
                or not hmac.compare_digest(token.encode(), expected.encode())
            ):
                raise self.challenge(session, (ErrCode.FORBIDDEN, "Invalid registration token."))
        else:
            raise self.challenge(
                session, (ErrCode.UNRECOGNIZED, f"Unsupported authentication type {stage}")
            )
        if stage not in session.completed:
            session.completed.append(stage)
        session.expires_ts = self._clock() + self._timeout


class _UiaaRequired(MatrixError):
    """401 without an errcode: the spec's "authentication required" response body has
    only flows, params, session and completed."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(ErrCode.UNAUTHORIZED, "Authentication required", status=401)
        self.body = body

    def to_json(self) -> dict[str, Any]:
        return dict(self.body)
