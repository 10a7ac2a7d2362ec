"""Application service registrations and their namespaces (Application Service
API, "Registration"): parsing a registration's fields with clear errors, and the
pure matching of user IDs, room aliases and room IDs against its namespaces.

A registration is plain data here; reading YAML and storing it is the service's
job. Namespace regexes are matched the way Synapse does (``re.match``: anchored at
the start, not at the end) because the spec only says "a POSIX regular
expression" and registrations written for Synapse rely on that.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

#: MSC2409's unstable registration key for ``receive_ephemeral``.
UNSTABLE_PUSH_EPHEMERAL = "de.sorunome.msc2409.push_ephemeral"
#: MSC3202's registration key (Synapse's): device lists, one-time key counts and
#: unused fallback key types in the service's transactions.
MSC3202 = "org.matrix.msc3202"


class NamespaceKind(StrEnum):
    USERS = "users"
    ALIASES = "aliases"
    ROOMS = "rooms"


class RegistrationError(ValueError):
    """A registration that cannot be used; the message says which field and why."""


@dataclass(frozen=True)
class Namespace:
    regex: str
    exclusive: bool
    pattern: re.Pattern[str] = field(compare=False, repr=False)

    def matches(self, value: str) -> bool:
        return self.pattern.match(value) is not None


@dataclass(frozen=True)
class Namespaces:
    users: tuple[Namespace, ...] = ()
    aliases: tuple[Namespace, ...] = ()
    rooms: tuple[Namespace, ...] = ()

    def of(self, kind: NamespaceKind) -> tuple[Namespace, ...]:
        return {
            NamespaceKind.USERS: self.users,
            NamespaceKind.ALIASES: self.aliases,
            NamespaceKind.ROOMS: self.rooms,
        }[kind]


@dataclass(frozen=True)
class AppserviceRegistration:
    id: str
    #: None: the application service receives no transactions or queries.
    url: str | None
    as_token: str
    hs_token: str
    sender_localpart: str
    namespaces: Namespaces
    rate_limited: bool | None = None
    protocols: tuple[str, ...] = ()
    #: MSC2409 (spec v1.13): ephemeral data (typing, receipts, presence) and, as
    #: Synapse does (MSC4203), to-device messages go to the service in transactions.
    receive_ephemeral: bool = False
    #: Asked for with MSC2409's unstable ``de.sorunome.msc2409.push_ephemeral`` (and not
    #: the stable key): the data goes under the unstable key, as Synapse does.
    ephemeral_unstable: bool = False
    #: MSC3202 transaction extensions, for encrypting bridges (``org.matrix.msc3202``).
    msc3202: bool = False

    def sender(self, server_name: str) -> str:
        return f"@{self.sender_localpart}:{server_name}"

    def in_namespace(self, kind: NamespaceKind, value: str, *, exclusive: bool = False) -> bool:
        """Whether ``value`` is in one of this service's namespaces of ``kind``
        (only its exclusive ones if ``exclusive``)."""
        return any(
            ns.matches(value) for ns in self.namespaces.of(kind) if ns.exclusive or not exclusive
        )

    def is_user_of(self, user_id: str, server_name: str) -> bool:
        """The sender itself or a user in a users namespace: who it may act as."""
        return user_id == self.sender(server_name) or self.in_namespace(
            NamespaceKind.USERS, user_id
        )


def _string(raw: Mapping[str, Any], key: str, *, nullable: bool = False) -> str | None:
    if key not in raw:
        raise RegistrationError(f"'{key}' is required")
    value = raw[key]
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not value:
        kind = "a non-empty string or null" if nullable else "a non-empty string"
        raise RegistrationError(f"'{key}' must be {kind}")
    return value


def _namespace_list(raw: Any, kind: NamespaceKind) -> tuple[Namespace, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise RegistrationError(f"'namespaces.{kind}' must be a list")
    out = []
    for i, entry in enumerate(raw):
        where = f"namespaces.{kind}[{i}]"
        if not isinstance(entry, Mapping):
            raise RegistrationError(f"'{where}' must be a mapping with 'exclusive' and 'regex'")
        regex, exclusive = entry.get("regex"), entry.get("exclusive", False)
        if not isinstance(regex, str) or not regex:
            raise RegistrationError(f"'{where}.regex' must be a non-empty string")
        if not isinstance(exclusive, bool):
            raise RegistrationError(f"'{where}.exclusive' must be true or false")
        try:
            pattern = re.compile(regex)
        except re.error as exc:
            raise RegistrationError(f"'{where}.regex' is not a valid regex: {exc}") from None
        out.append(Namespace(regex, exclusive, pattern))
    return tuple(out)


def parse_registration(raw: Any) -> AppserviceRegistration:
    """A registration from its decoded YAML/JSON, or RegistrationError naming the
    first bad field. Unknown keys are ignored (registrations carry extras such as
    ``de.sorunome.msc2409.push_ephemeral``; that one is read as receive_ephemeral)."""
    if not isinstance(raw, Mapping):
        raise RegistrationError("the registration must be a mapping of keys to values")
    as_id = _string(raw, "id")
    as_token = _string(raw, "as_token")
    hs_token = _string(raw, "hs_token")
    sender = _string(raw, "sender_localpart")
    url = _string(raw, "url", nullable=True)
    assert as_id is not None and as_token is not None and hs_token is not None
    assert sender is not None
    if as_token == hs_token:
        raise RegistrationError("'as_token' and 'hs_token' must differ")
    if url is not None and not url.startswith(("http://", "https://")):
        raise RegistrationError("'url' must be an http:// or https:// URL, or null")
    namespaces = raw.get("namespaces")
    if not isinstance(namespaces, Mapping):
        raise RegistrationError("'namespaces' is required and must be a mapping")
    rate_limited = raw.get("rate_limited")
    if rate_limited is not None and not isinstance(rate_limited, bool):
        raise RegistrationError("'rate_limited' must be true or false")
    protocols = raw.get("protocols") or []
    if not isinstance(protocols, list) or not all(isinstance(p, str) for p in protocols):
        raise RegistrationError("'protocols' must be a list of strings")
    ephemeral = raw.get("receive_ephemeral", False)
    if not isinstance(ephemeral, bool):
        raise RegistrationError("'receive_ephemeral' must be true or false")
    unstable = raw.get(UNSTABLE_PUSH_EPHEMERAL, False)
    if not isinstance(unstable, bool):
        raise RegistrationError(f"'{UNSTABLE_PUSH_EPHEMERAL}' must be true or false")
    msc3202 = raw.get(MSC3202, False)
    if not isinstance(msc3202, bool):
        raise RegistrationError(f"'{MSC3202}' must be true or false")
    return AppserviceRegistration(
        id=as_id,
        url=url,
        as_token=as_token,
        hs_token=hs_token,
        sender_localpart=sender,
        namespaces=Namespaces(
            *(_namespace_list(namespaces.get(kind), kind) for kind in NamespaceKind)
        ),
        rate_limited=rate_limited,
        protocols=tuple(protocols),
        receive_ephemeral=ephemeral or unstable,
        ephemeral_unstable=unstable and not ephemeral,
        msc3202=msc3202,
    )


def registration_to_json(reg: AppserviceRegistration) -> dict[str, Any]:
    """The registration as the mapping :func:`parse_registration` reads."""
    out: dict[str, Any] = {
        "id": reg.id,
        "url": reg.url,
        "as_token": reg.as_token,
        "hs_token": reg.hs_token,
        "sender_localpart": reg.sender_localpart,
        "namespaces": {
            kind.value: [
                {"exclusive": n.exclusive, "regex": n.regex} for n in reg.namespaces.of(kind)
            ]
            for kind in NamespaceKind
        },
        "receive_ephemeral": reg.receive_ephemeral and not reg.ephemeral_unstable,
    }
    if reg.ephemeral_unstable:
        out[UNSTABLE_PUSH_EPHEMERAL] = True
    if reg.msc3202:
        out[MSC3202] = True
    if reg.rate_limited is not None:
        out["rate_limited"] = reg.rate_limited
    if reg.protocols:
        out["protocols"] = list(reg.protocols)
    return out


def exclusive_owner(
    registrations: Iterable[AppserviceRegistration], kind: NamespaceKind, value: str
) -> AppserviceRegistration | None:
    """The application service that claims ``value`` exclusively, if any."""
    return next((r for r in registrations if r.in_namespace(kind, value, exclusive=True)), None)


def interested_in_event(
    reg: AppserviceRegistration,
    pdu: Mapping[str, Any],
    room_aliases: Callable[[], Iterable[str]],
    room_members: Callable[[], Iterable[str]],
) -> bool:
    """Whether an event goes to this application service (Application Service API,
    "Pushing events"): its sender, or the state_key of a membership, is in a users
    namespace; its room is in a rooms namespace, or has an alias in an aliases
    namespace; or (as Synapse does) a member of its room is in a users namespace.
    The lookups are called only when the cheaper checks did not decide."""
    sender = pdu.get("sender")
    if isinstance(sender, str) and reg.in_namespace(NamespaceKind.USERS, sender):
        return True
    state_key = pdu.get("state_key")
    if (
        pdu.get("type") == "m.room.member"
        and isinstance(state_key, str)
        and reg.in_namespace(NamespaceKind.USERS, state_key)
    ):
        return True
    room_id = pdu.get("room_id")
    return isinstance(room_id, str) and interested_in_room(reg, room_id, room_aliases, room_members)


def interested_in_room(
    reg: AppserviceRegistration,
    room_id: str,
    room_aliases: Callable[[], Iterable[str]],
    room_members: Callable[[], Iterable[str]],
) -> bool:
    """Whether the service is interested in a room: its ID is in a rooms namespace, an
    alias of it in an aliases namespace, or (as Synapse does) a member in a users
    namespace. Also what decides which typing and receipts it gets (MSC2409)."""
    if reg.in_namespace(NamespaceKind.ROOMS, room_id):
        return True
    if reg.namespaces.aliases and any(
        reg.in_namespace(NamespaceKind.ALIASES, a) for a in room_aliases()
    ):
        return True
    return bool(reg.namespaces.users) and any(
        reg.in_namespace(NamespaceKind.USERS, m) for m in room_members()
    )
