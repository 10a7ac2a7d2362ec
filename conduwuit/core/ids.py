"""Typed Matrix identifiers (appendices: "Identifier Grammar").

Each identifier is parsed once, at the edge, into a frozen value; code further
in takes ``UserId``/``RoomId``/... rather than ``str``. ``parse`` raises
``ValueError`` with a message that says which rule was broken.

Strictness: user IDs accept the *historical* localpart grammar by default,
because federated events carry such senders and servers MUST accept them;
``UserId.parse(s, strict=True)`` applies the v1.8 grammar used for new
registrations.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

MAX_ID_BYTES = 255

_DNS_NAME = re.compile(r"[A-Za-z0-9.\-]{1,255}")
_IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_IPV6_CHARS = re.compile(r"[0-9A-Fa-f:.]{2,45}")
_STRICT_LOCALPART = re.compile(r"[a-z0-9._=\-/+]+")


def _check_length(value: str, what: str) -> None:
    if len(value.encode("utf-8")) > MAX_ID_BYTES:
        raise ValueError(f"{what} is longer than {MAX_ID_BYTES} bytes")


def _check_opaque_localpart(localpart: str, what: str) -> None:
    """Historical grammar: any non-surrogate code point except ``:`` and NUL."""
    if ":" in localpart:
        raise ValueError(f"{what} localpart may not contain ':'")
    if "\x00" in localpart:
        raise ValueError(f"{what} localpart may not contain NUL")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in localpart):
        raise ValueError(f"{what} localpart may not contain surrogate code points")


def is_valid_localpart(localpart: str, strict: bool = True) -> bool:
    """Whether ``localpart`` is a valid user-ID localpart.

    ``strict``: the current grammar (``a-z 0-9 . _ = - / +``, non-empty), which a
    server must use for new users. Otherwise the historical grammar, which
    accepts anything but ``:``, NUL and surrogates, including the empty string.
    """
    if strict:
        return _STRICT_LOCALPART.fullmatch(localpart) is not None
    try:
        _check_opaque_localpart(localpart, "user ID")
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class ServerName:
    """``hostname [":" port]``; ``host`` keeps IPv6 brackets, as in the server name."""

    host: str
    port: int | None = None

    @classmethod
    def parse(cls, value: str) -> ServerName:
        if not value:
            raise ValueError("server name is empty")
        host, port = value, None
        if value.startswith("["):
            end = value.find("]")
            if end < 0:
                raise ValueError(f"server name {value!r}: unterminated IPv6 literal")
            host, rest = value[: end + 1], value[end + 1 :]
            if rest:
                if not rest.startswith(":"):
                    raise ValueError(f"server name {value!r}: junk after IPv6 literal")
                port = cls._parse_port(value, rest[1:])
            literal = host[1:-1]
            if _IPV6_CHARS.fullmatch(literal) is None:
                raise ValueError(f"server name {value!r}: bad IPv6 literal")
            try:
                ipaddress.IPv6Address(literal)
            except ValueError:
                raise ValueError(f"server name {value!r}: bad IPv6 literal") from None
            return cls(host, port)
        if ":" in value:
            host, _, port_text = value.rpartition(":")
            port = cls._parse_port(value, port_text)
        if _IPV4.fullmatch(host):
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                raise ValueError(f"server name {value!r}: bad IPv4 literal") from None
        elif _DNS_NAME.fullmatch(host) is None:
            raise ValueError(f"server name {value!r}: hostname has invalid characters")
        return cls(host, port)

    @staticmethod
    def _parse_port(value: str, text: str) -> int:
        if not text.isascii() or not text.isdigit() or not 1 <= len(text) <= 5:
            raise ValueError(f"server name {value!r}: port must be 1-5 digits")
        port = int(text)
        if port > 65535:
            raise ValueError(f"server name {value!r}: port out of range")
        return port

    @staticmethod
    def is_valid(value: str) -> bool:
        try:
            ServerName.parse(value)
        except ValueError:
            return False
        return True

    def __str__(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"


def _split(value: str, sigil: str, what: str) -> tuple[str, ServerName]:
    if not value.startswith(sigil):
        raise ValueError(f"{what} {value!r} must start with {sigil!r}")
    _check_length(value, what)
    localpart, sep, server = value[1:].partition(":")
    if not sep:
        raise ValueError(f"{what} {value!r} has no ':server' part")
    return localpart, ServerName.parse(server)


@dataclass(frozen=True, slots=True)
class UserId:
    """``@localpart:server_name``, at most 255 bytes."""

    localpart: str
    server_name: ServerName

    @classmethod
    def parse(cls, value: str, strict: bool = False) -> UserId:
        localpart, server = _split(value, "@", "user ID")
        if strict and not is_valid_localpart(localpart, strict=True):
            raise ValueError(
                f"user ID {value!r}: localpart may only contain a-z, 0-9, '.', '_', '=', '-', "
                "'/' and '+'"
            )
        _check_opaque_localpart(localpart, "user ID")
        return cls(localpart, server)

    @staticmethod
    def is_valid(value: str, strict: bool = False) -> bool:
        try:
            UserId.parse(value, strict=strict)
        except ValueError:
            return False
        return True

    @property
    def is_historical(self) -> bool:
        """Non-compliant per the spec: empty, or characters outside U+0021..U+007E."""
        return not self.localpart or any(not 0x21 <= ord(c) <= 0x7E for c in self.localpart)

    def __str__(self) -> str:
        return f"@{self.localpart}:{self.server_name}"


@dataclass(frozen=True, slots=True)
class RoomId:
    """``!opaque:server`` (room versions 1-11) or ``!hash`` (v12+, no server)."""

    opaque: str
    server_name: ServerName | None = None

    @classmethod
    def parse(cls, value: str) -> RoomId:
        if not value.startswith("!"):
            raise ValueError(f"room ID {value!r} must start with '!'")
        _check_length(value, "room ID")
        opaque, sep, server = value[1:].partition(":")
        if not sep:
            # v12: the create event's ID with '!' for '$' (url-safe base64 of a sha256).
            if not opaque:
                raise ValueError("room ID is empty")
            _check_opaque_localpart(opaque, "room ID")
            return cls(opaque, None)
        _check_opaque_localpart(opaque, "room ID")
        return cls(opaque, ServerName.parse(server))

    @staticmethod
    def is_valid(value: str) -> bool:
        try:
            RoomId.parse(value)
        except ValueError:
            return False
        return True

    def __str__(self) -> str:
        if self.server_name is None:
            return f"!{self.opaque}"
        return f"!{self.opaque}:{self.server_name}"


@dataclass(frozen=True, slots=True)
class EventId:
    """``$opaque:server`` (room versions 1-2) or ``$hash`` (v3+)."""

    opaque: str
    server_name: ServerName | None = None

    @classmethod
    def parse(cls, value: str) -> EventId:
        if not value.startswith("$"):
            raise ValueError(f"event ID {value!r} must start with '$'")
        _check_length(value, "event ID")
        opaque, sep, server = value[1:].partition(":")
        if not opaque:
            raise ValueError("event ID is empty")
        if "\x00" in opaque:
            raise ValueError("event ID may not contain NUL")
        return cls(opaque, ServerName.parse(server) if sep else None)

    @staticmethod
    def is_valid(value: str) -> bool:
        try:
            EventId.parse(value)
        except ValueError:
            return False
        return True

    def __str__(self) -> str:
        if self.server_name is None:
            return f"${self.opaque}"
        return f"${self.opaque}:{self.server_name}"


@dataclass(frozen=True, slots=True)
class RoomAlias:
    """``#alias:server``, at most 255 bytes."""

    alias: str
    server_name: ServerName

    @classmethod
    def parse(cls, value: str) -> RoomAlias:
        alias, server = _split(value, "#", "room alias")
        _check_opaque_localpart(alias, "room alias")
        return cls(alias, server)

    def __str__(self) -> str:
        return f"#{self.alias}:{self.server_name}"


_MEDIA_ID = re.compile(r"[A-Za-z0-9_\-]+")


@dataclass(frozen=True, slots=True)
class MxcUri:
    """``mxc://<server-name>/<media-id>``; media IDs are ``[A-Za-z0-9_-]+``."""

    server_name: ServerName
    media_id: str

    @classmethod
    def parse(cls, value: str) -> MxcUri:
        prefix = "mxc://"
        if not value.startswith(prefix):
            raise ValueError(f"content URI {value!r} must start with 'mxc://'")
        server, sep, media_id = value[len(prefix) :].partition("/")
        if not sep or not media_id:
            raise ValueError(f"content URI {value!r} has no media ID")
        if _MEDIA_ID.fullmatch(media_id) is None:
            raise ValueError(f"content URI {value!r}: media ID may only contain A-Z a-z 0-9 _ -")
        return cls(ServerName.parse(server), media_id)

    def __str__(self) -> str:
        return f"mxc://{self.server_name}/{self.media_id}"


def server_of(identifier: str) -> str:
    """The server-name part of ``&local:server`` without full validation ('' if none).

    Hot paths (auth rules over thousands of events) use this instead of a full parse;
    identifiers there were validated when the event was received.
    """
    _, sep, server = identifier.partition(":")
    return server if sep else ""
