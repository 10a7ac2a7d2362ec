"""The JSON of a new session, shared by register, login and refresh."""

from __future__ import annotations

from typing import Any

from conduwuit.service.devices import Session


def session_json(session: Session, server_name: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "user_id": session.user_id,
        "access_token": session.access_token,
        "device_id": session.device_id,
        # Deprecated, still read by older clients (and matrix-nio).
        "home_server": server_name,
    }
    if session.refresh_token is not None:
        body["refresh_token"] = session.refresh_token
    if session.expires_in_ms is not None:
        body["expires_in_ms"] = session.expires_in_ms
    return body
