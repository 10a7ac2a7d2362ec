"""User-interactive authentication (client-server API, "User-Interactive
Authentication API"): one mechanism for every endpoint that needs it.

An endpoint calls :meth:`Uiaa.authenticate` with the flows it accepts and the
request's ``auth`` dict. Each call completes at most one stage; until a whole flow
is complete it raises the 401 whose body lists flows, params, the session and the
stages completed so far. Sessions live in memory: they are short (minutes), and a
restart only makes a client start its authentication again.

The password stage is no oracle: it only ever checks the password of the user the
session authenticates, and failed stages of a signed-in user are rate-limited per
user like logins. A user holds at most ``MAX_SESSIONS_PER_USER`` sessions and the
server ``MAX_SESSIONS``; past that, the oldest is dropped.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from conduwuit.core.errors import ErrCode, MatrixError, bad_json, forbidden
from conduwuit.service.clock import Clock
from conduwuit.service.ratelimit import RateLimiter

DUMMY = "m.login.dummy"
PASSWORD = "m.login.password"
REGISTRATION_TOKEN = "m.login.registration_token"
#: The session data key of the admin-made registration token a session reserved.
RESERVED_TOKEN = "registration_token"

#: Resolves a password stage's identifier and password to the user it proves, or None.
PasswordCheck = Callable[[dict[str, Any]], Awaitable[str | None]]
#: The local user a password stage's identifier names (no password check), or None.
ResolveUser = Callable[[dict[str, Any]], str | None]

#: Unfinished sessions one user may hold; a client needs one or two at a time.
MAX_SESSIONS_PER_USER = 10
#: Unfinished sessions in all (registration sessions have no user to count against).
MAX_SESSIONS = 10_000


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
        resolve_user: ResolveUser,
        registration_token: Callable[[], str | None],
        failures: RateLimiter,
        reserve_token: Callable[[str], bool] = lambda token: False,
    ) -> None:
        self._clock = clock
        self._timeout = session_timeout_ms
        self._check_password = check_password
        self._resolve_user = resolve_user
        self._registration_token = registration_token
        #: An admin-made registration token: True (one use reserved) if it is valid.
        self._reserve_token = reserve_token
        self._failures = failures
        # Insertion order is creation order: the first of a user's is their oldest.
        self._sessions: dict[str, UiaaSession] = {}
        self._per_user: dict[str, list[str]] = {}

    def _expire(self) -> None:
        now = self._clock()
        for sid in [s for s, session in self._sessions.items() if session.expires_ts <= now]:
            self._drop(sid)

    def _drop(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is None or session.user_id is None:
            return
        held = self._per_user.get(session.user_id, [])
        if session_id in held:
            held.remove(session_id)
        if not held:
            self._per_user.pop(session.user_id, None)

    def _new_session(
        self, flows: tuple[tuple[str, ...], ...], params: dict[str, Any], user_id: str | None
    ) -> UiaaSession:
        session = UiaaSession(
            secrets.token_urlsafe(18), flows, params, self._clock() + self._timeout, user_id
        )
        if user_id is not None:
            held = self._per_user.setdefault(user_id, [])
            while len(held) >= MAX_SESSIONS_PER_USER:
                self._drop(held[0])
            held.append(session.session_id)
            self._per_user[user_id] = held
        while len(self._sessions) >= MAX_SESSIONS:
            self._drop(next(iter(self._sessions)))
        self._sessions[session.session_id] = session
        return session

    def session(self, session_id: str) -> UiaaSession | None:
        self._expire()
        return self._sessions.get(session_id)

    def forget(self, session_id: str) -> None:
        self._drop(session_id)

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
                raise bad_json("auth.session must be a string")
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
            raise bad_json("auth.type must be a string")
        if not any(stage in flow for flow in session.flows):
            raise self.challenge(
                session, (ErrCode.UNRECOGNIZED, f"Unrecognised authentication type {stage}")
            )
        if session.user_id is not None:
            # Synapse refuses (429) once a user's failed attempts used up the
            # rc_login.failed_attempts budget, before checking anything.
            self._failures.require(session.user_id)
            try:
                await self._complete(session, stage, auth)
            except MatrixError as exc:
                if exc.status in (401, 403):
                    self._failures.record(session.user_id)
                raise
        else:
            await self._complete(session, stage, auth)
        if not session.done():
            raise self.challenge(session)
        return session

    async def _complete(self, session: UiaaSession, stage: str, auth: dict[str, Any]) -> None:
        if stage == DUMMY:
            pass
        elif stage == PASSWORD:
            if session.user_id is not None and self._resolve_user(auth) != session.user_id:
                # Only the requester's own password is ever checked, so the answer for
                # another user's identifier is the same whatever the password. (Synapse
                # checks the password first and then answers 403 "Invalid auth"; that
                # tells a right guess from a wrong one.)
                raise forbidden("Invalid auth.")
            proven = await self._check_password(auth)
            if proven is None or (session.user_id is not None and proven != session.user_id):
                raise self.challenge(session, (ErrCode.FORBIDDEN, "Invalid password."))
        elif stage == REGISTRATION_TOKEN:
            token = auth.get("token")
            expected = self._registration_token()
            if not isinstance(token, str):
                raise self.challenge(session, (ErrCode.FORBIDDEN, "Invalid registration token."))
            configured = expected is not None and hmac.compare_digest(
                token.encode(), expected.encode()
            )
            # An admin-made token: one use reserved per session (the registration
            # completes it: RegistrationTokens.complete).
            if not configured and session.data.get(RESERVED_TOKEN) != token:
                if not self._reserve_token(token):
                    raise self.challenge(
                        session, (ErrCode.FORBIDDEN, "Invalid registration token.")
                    )
                session.data[RESERVED_TOKEN] = token
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
