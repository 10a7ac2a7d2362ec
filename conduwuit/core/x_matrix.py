"""The ``X-Matrix`` request signature (server-server API, "Request Authentication").

A server signs ``{"method", "uri", "origin", "destination", "content"}`` with the
JSON signing algorithm and sends the signature in an ``Authorization`` header::

    X-Matrix origin="a.example",destination="b.example",key="ed25519:k",sig="..."

The header follows RFC 9110 section 11.4: one or more spaces after the scheme, a
comma-separated list of ``name=value`` pairs, optional spaces and tabs around the
commas, case-insensitive names in any order, values either a ``token`` or a quoted
string with backslash escapes. For older servers, a recipient also accepts colons
in unquoted values (``origin=a.example:8448``). We send one space, lower-case
names, quoted values and no whitespace around commas, as the spec asks of senders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conduwuit.core.signing import Keypair, SignatureError, sign_json, verify_signed_json

SCHEME = "X-Matrix"

#: RFC 9110 ``tchar``, plus ``:`` which the spec tells recipients to accept unquoted.
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_UNQUOTED = _TCHAR | {":"}


class XMatrixError(ValueError):
    """The header is not a well-formed X-Matrix authorization."""


@dataclass(frozen=True)
class XMatrix:
    """The parameters of one X-Matrix header."""

    origin: str
    #: None for older servers that do not send it (the spec says to accept that).
    destination: str | None
    key: str
    sig: str

    def header(self) -> str:
        params = [("origin", self.origin)]
        if self.destination is not None:
            params.append(("destination", self.destination))
        params += [("key", self.key), ("sig", self.sig)]
        return f"{SCHEME} " + ",".join(f"{name}={_quoted(value)}" for name, value in params)


def _quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def request_json(
    method: str, uri: str, origin: str, destination: str, content: Any = None
) -> dict[str, Any]:
    """The object that is signed; ``content`` only for requests with a JSON body."""
    obj: dict[str, Any] = {
        "method": method.upper(),
        "uri": uri,
        "origin": origin,
        "destination": destination,
    }
    if content is not None:
        obj["content"] = content
    return obj


def sign_request(
    keypair: Keypair,
    method: str,
    uri: str,
    origin: str,
    destination: str,
    content: Any = None,
) -> XMatrix:
    """The X-Matrix authorization of a request from ``origin`` to ``destination``."""
    signed = sign_json(request_json(method, uri, origin, destination, content), origin, keypair)
    return XMatrix(
        origin, destination, keypair.key_id, signed["signatures"][origin][keypair.key_id]
    )


def verify_request(
    auth: XMatrix,
    public_key: str,
    method: str,
    uri: str,
    destination: str,
    content: Any = None,
) -> None:
    """Raise ``SignatureError`` unless ``auth.sig`` signs this request with ``public_key``.

    ``destination`` is the receiving server's own name: the signature covers it even
    when an older sender left it out of the header."""
    obj = request_json(method, uri, auth.origin, destination, content)
    obj["signatures"] = {auth.origin: {auth.key: auth.sig}}
    verify_signed_json(obj, auth.origin, auth.key, public_key)


def parse_header(header: str) -> XMatrix:
    """The parameters of an ``Authorization: X-Matrix ...`` header, or XMatrixError."""
    scheme, sep, rest = header.partition(" ")
    if not sep or scheme.lower() != SCHEME.lower():
        raise XMatrixError("Authorization scheme is not X-Matrix")
    params = _parse_params(rest.lstrip(" "))
    missing = [name for name in ("origin", "key", "sig") if not params.get(name)]
    if missing:
        raise XMatrixError(f"X-Matrix header lacks {', '.join(missing)}")
    return XMatrix(params["origin"], params.get("destination"), params["key"], params["sig"])


def _parse_params(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t":
            i += 1
        start = i
        while i < n and text[i] in _TCHAR:
            i += 1
        name = text[start:i].lower()
        if not name or i >= n or text[i] != "=":
            raise XMatrixError("X-Matrix parameters must be name=value pairs")
        i += 1
        if i < n and text[i] == '"':
            i += 1
            value: list[str] = []
            while True:
                if i >= n:
                    raise XMatrixError("unterminated quoted value in X-Matrix header")
                char = text[i]
                if char == "\\":
                    if i + 1 >= n:
                        raise XMatrixError("dangling backslash in X-Matrix header")
                    value.append(text[i + 1])
                    i += 2
                elif char == '"':
                    i += 1
                    break
                else:
                    value.append(char)
                    i += 1
            parsed = "".join(value)
        else:
            start = i
            while i < n and text[i] in _UNQUOTED:
                i += 1
            parsed = text[start:i]
            if not parsed:
                raise XMatrixError(f"empty value of {name} in X-Matrix header")
        if name in params:
            raise XMatrixError(f"X-Matrix parameter {name} given twice")
        params[name] = parsed
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            return params
        if text[i] != ",":
            raise XMatrixError("X-Matrix parameters must be separated by commas")
        i += 1


__all__ = [
    "SignatureError",
    "XMatrix",
    "XMatrixError",
    "parse_header",
    "request_json",
    "sign_request",
    "verify_request",
]
