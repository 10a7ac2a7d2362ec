"""Pushers, pure: checking a POST /pushers/set body and building a gateway notification.

Client-server API "Push Notifications" (``/pushers/set``) and the Push Gateway API
(``POST /_matrix/push/v1/notify``), spec v1.19. No I/O here: whether the gateway's
host resolves to an allowed address is the service's part.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from conduwuit.core.errors import ErrCode, MatrixError, bad_json, invalid_param, missing_param

#: The only path a gateway URL may have (spec v1.13+; Synapse checks it too).
NOTIFY_PATH = "/_matrix/push/v1/notify"
HTTP = "http"
EMAIL = "email"

# Limits. The spec gives two (pushkey 512 bytes, app_id 64 characters). Synapse no
# longer enforces any; the others are the column sizes of its original pushers table
# (app_display_name 64, device_display_name 128, profile_tag 32), except lang, which
# allows RFC 5646's recommended 35 characters (Synapse's old 8 would refuse
# "zh-Hant-TW"). ``data`` is forwarded to the gateway with every notification, so it
# is kept small.
MAX_PUSHKEY_BYTES = 512
MAX_APP_ID_CHARS = 64
MAX_APP_DISPLAY_NAME_CHARS = 64
MAX_DEVICE_DISPLAY_NAME_CHARS = 128
MAX_PROFILE_TAG_CHARS = 32
MAX_LANG_CHARS = 35
MAX_DATA_BYTES = 4096

#: Fields a pusher (kind not null) must have, in the spec's order.
REQUIRED = ("kind", "app_id", "app_display_name", "device_display_name", "pushkey", "lang", "data")


@dataclass(frozen=True, slots=True)
class PusherKey:
    """A pusher is unique per user by (app_id, pushkey)."""

    app_id: str
    pushkey: str


@dataclass(frozen=True, slots=True)
class PusherRequest:
    """A checked POST /pushers/set: ``kind`` None deletes."""

    key: PusherKey
    kind: str | None
    append: bool = False
    app_display_name: str = ""
    device_display_name: str = ""
    profile_tag: str = ""
    lang: str = ""
    data: Mapping[str, Any] | None = None

    @property
    def url(self) -> str:
        return str((self.data or {})["url"])


def _missing(names: Sequence[str]) -> MatrixError:
    return missing_param(f"Missing parameters: {', '.join(names)}")


def _string(body: Mapping[str, Any], name: str, max_chars: int) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise bad_json(f"'{name}' must be a string")
    if len(value) > max_chars:
        raise invalid_param(f"'{name}' is longer than {max_chars} characters")
    return value


def check_set_request(body: Mapping[str, Any]) -> PusherRequest:
    """The checked request, or a Matrix error: missing fields are M_MISSING_PARAM
    (all of them named, like the spec's example), wrong types M_BAD_JSON, values out
    of bounds or not allowed M_INVALID_PARAM."""
    if "kind" in body and body["kind"] is None:
        missing = [n for n in ("app_id", "pushkey") if n not in body]
        if missing:
            raise _missing(missing)
        return PusherRequest(_key(body), None)
    missing = [n for n in REQUIRED if n not in body or body[n] is None]
    if missing:
        raise _missing(missing)
    key = _key(body)
    kind = body["kind"]
    if not isinstance(kind, str):
        raise bad_json("'kind' must be a string or null")
    if kind == EMAIL:
        # Synapse refuses an email pusher whose address is not bound to the account
        # (M_THREEPID_NOT_FOUND "Email not found"); this server binds no addresses.
        raise MatrixError(
            ErrCode.THREEPID_NOT_FOUND,
            "Email not found: this server has no email addresses bound to accounts "
            "and sends no email notifications",
        )
    if kind != HTTP:
        raise invalid_param(f"Unknown pusher kind {kind!r}: only 'http' is supported")
    append = body.get("append", False)
    if not isinstance(append, bool):
        raise bad_json("'append' must be a boolean")
    return PusherRequest(
        key,
        kind,
        append,
        app_display_name=_string(body, "app_display_name", MAX_APP_DISPLAY_NAME_CHARS),
        device_display_name=_string(body, "device_display_name", MAX_DEVICE_DISPLAY_NAME_CHARS),
        profile_tag=_string(body, "profile_tag", MAX_PROFILE_TAG_CHARS),
        lang=_string(body, "lang", MAX_LANG_CHARS),
        data=check_http_data(body["data"]),
    )


def _key(body: Mapping[str, Any]) -> PusherKey:
    app_id = _string(body, "app_id", MAX_APP_ID_CHARS)
    pushkey = body.get("pushkey")
    if not isinstance(pushkey, str):
        raise bad_json("'pushkey' must be a string")
    if len(pushkey.encode()) > MAX_PUSHKEY_BYTES:
        raise invalid_param(f"'pushkey' is longer than {MAX_PUSHKEY_BYTES} bytes")
    if not app_id or not pushkey:
        raise invalid_param("'app_id' and 'pushkey' must not be empty")
    return PusherKey(app_id, pushkey)


def check_http_data(data: Any) -> dict[str, Any]:
    """``data`` of an http pusher: an object with ``url`` (see :func:`check_url`) and a
    ``format`` that is absent or ``event_id_only``; other keys are kept and forwarded."""
    if not isinstance(data, dict):
        raise bad_json("'data' must be an object")
    if "url" not in data:
        raise _missing(["data.url"])
    check_url(data["url"])
    if "format" in data and data["format"] != "event_id_only":
        raise invalid_param("'data.format' must be 'event_id_only' or absent")
    if len(json.dumps(data, ensure_ascii=False).encode()) > MAX_DATA_BYTES:
        raise invalid_param(f"'data' is larger than {MAX_DATA_BYTES} bytes")
    return dict(data)


def check_url(url: Any) -> tuple[str, int]:
    """The host and port of a gateway URL: http(s), a host, the path
    ``/_matrix/push/v1/notify`` exactly. The spec asks for HTTPS; like Synapse (which
    says it is not the homeserver's to check) plain http is accepted too."""
    if not isinstance(url, str):
        raise bad_json("'data.url' must be a string")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise invalid_param("'data.url' is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid_param("'data.url' must be an http or https URL with a host")
    if parts.username is not None or parts.password is not None:
        raise invalid_param("'data.url' must not contain credentials")
    if parts.path != NOTIFY_PATH:
        raise invalid_param(f"'data.url' must have a path of '{NOTIFY_PATH}'")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


# -- notifications (Push Gateway API) ---------------------------------------------------


def tweaks_for_actions(actions: Sequence[Any]) -> dict[str, Any]:
    """``set_tweak`` actions as a dict; a tweak without a value is ``True`` (the spec's
    rule for ``highlight``; Synapse treats every tweak so)."""
    tweaks: dict[str, Any] = {}
    for action in actions:
        if isinstance(action, dict) and isinstance(action.get("set_tweak"), str):
            tweaks[action["set_tweak"]] = action.get("value", True)
    return tweaks


def priority(event_type: str, tweaks: Mapping[str, Any]) -> str:
    """``high`` if the notification highlights or makes a sound, or the event is
    encrypted (its effect is unknown); ``low`` otherwise. Synapse's rule: the spec
    only says an absent ``prio`` means high."""
    if event_type == "m.room.encrypted" or tweaks.get("highlight") or tweaks.get("sound"):
        return "high"
    return "low"


@dataclass(frozen=True, slots=True)
class EventInfo:
    """What a notification says about its event (read by the service)."""

    event_id: str
    room_id: str
    type: str
    sender: str
    content: Mapping[str, Any]
    state_key: str | None = None
    sender_display_name: str | None = None
    room_name: str | None = None


def notification(
    event: EventInfo,
    user_id: str,
    actions: Sequence[Any],
    counts: Mapping[str, int],
    device: Mapping[str, Any],
    *,
    event_id_only: bool,
) -> dict[str, Any]:
    """The body of ``POST /_matrix/push/v1/notify`` for one pusher (``device``: its
    entry of ``devices`` without tweaks). Counts of zero are omitted (the spec).
    With ``format: event_id_only`` only the IDs, counts and prio are sent, and no
    tweaks, as Synapse does."""
    tweaks = tweaks_for_actions(actions)
    note: dict[str, Any] = {
        "event_id": event.event_id,
        "room_id": event.room_id,
        "prio": priority(event.type, tweaks),
        "counts": {k: v for k, v in counts.items() if k in ("unread", "missed_calls") and v},
    }
    dev = dict(device)
    if not event_id_only:
        note["type"] = event.type
        note["sender"] = event.sender
        if event.type == "m.room.member" and event.state_key is not None:
            note["membership"] = event.content.get("membership")
            note["user_is_target"] = event.state_key == user_id
        if event.content:
            note["content"] = dict(event.content)
        if event.sender_display_name:
            note["sender_display_name"] = event.sender_display_name
        if event.room_name:
            note["room_name"] = event.room_name
        if tweaks:
            dev["tweaks"] = tweaks
    note["devices"] = [dev]
    return {"notification": note}


def badge_notification(unread: int, device: Mapping[str, Any]) -> dict[str, Any]:
    """A badge-only ``/notify`` body (no event: the push gateway API lets a
    notification "that only contain[s] updated badge counts" omit the event ID), sent
    when a read receipt changes the user's unread count, as Synapse does. ``unread``
    is sent even when zero, unlike an event's counts: clearing the badge is the point
    (Synapse sends it too)."""
    return {
        "notification": {"prio": "high", "counts": {"unread": unread}, "devices": [dict(device)]}
    }
