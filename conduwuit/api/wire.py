"""Wire input: JSON bodies and one strict pydantic base whose errors become Matrix errors.

Every request body is parsed here, by one strict parser: ``NaN``/``Infinity``
(which Python's ``json`` accepts but JSON does not), lone UTF-16 surrogates,
undecodable bytes and nesting deeper than ``MAX_JSON_DEPTH`` are refused with a
Matrix error before any handler sees the value. Bodies that become event content
(or are copied into events, like profile fields) also go through
``canonical_body``: floats and integers outside the canonical JSON range are
M_BAD_JSON there (appendices, "Canonical JSON").
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from conduwuit.api.router import BODY_LIMIT, too_large
from conduwuit.core import canonical_json
from conduwuit.core.errors import ErrCode, MatrixError, bad_json, missing_param

#: How deep objects and arrays may nest in a request body. serde_json (which the
#: Rust conduwuit parses with) stops at 128; so do we, long before Python's own
#: recursion limit, so nothing downstream (encoding, hashing) can recurse too far.
MAX_JSON_DEPTH = 128

#: Bodies larger than this are decoded in a worker thread so one big upload does not
#: hold the event loop (DESIGN: "CPU work off the loop").
THREAD_PARSE_THRESHOLD = 64 * 1024


class WireModel(BaseModel):
    """Base of every request body: strict types, unknown fields kept (the spec allows them)."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True, defer_build=True)


M = TypeVar("M", bound=WireModel)


class _BadJson(ValueError):
    """Valid-looking input this server refuses: reported as M_BAD_JSON."""


def _reject_constant(name: str) -> Any:
    raise _BadJson(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_json_value(value: Any) -> None:
    """Refuse nesting past ``MAX_JSON_DEPTH`` and strings (or keys) with lone
    surrogates, which have no UTF-8 form. Iterative, so depth cannot overflow it."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _has_lone_surrogate(item):
                raise _BadJson("strings must not contain lone UTF-16 surrogates")
        elif isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise _BadJson(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


def decode_json(raw: bytes) -> Any:
    """``raw`` as a JSON value under the rules above, or a MatrixError."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MatrixError(ErrCode.NOT_JSON, "Content not JSON: not UTF-8.") from None
    try:
        value = _DECODER.decode(text)
        check_json_value(value)
    except _BadJson as exc:
        raise bad_json(f"Invalid JSON: {exc}.") from None
    except RecursionError:
        raise bad_json(f"Invalid JSON: nested deeper than {MAX_JSON_DEPTH} levels.") from None
    except ValueError:
        raise MatrixError(ErrCode.NOT_JSON, "Content not JSON.") from None
    return value


async def read_body(request: web.Request) -> bytes:
    """The request body, read no further than the route's limit (router.BODY_LIMIT):
    a chunked body past it is 413 M_TOO_LARGE after at most ``limit`` bytes."""
    limit = request.get(BODY_LIMIT)
    if limit is None:
        return await request.read()
    raw = bytearray()
    while chunk := await request.content.readany():
        raw += chunk
        if len(raw) > limit:
            raise too_large(limit)
    return bytes(raw)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or M_NOT_JSON / M_BAD_JSON."""
    raw = await read_body(request)
    if not raw:
        return {}
    if len(raw) > THREAD_PARSE_THRESHOLD:
        value = await asyncio.to_thread(decode_json, raw)
    else:
        value = decode_json(raw)
    if not isinstance(value, dict):
        raise bad_json("The request body must be a JSON object.")
    return value


async def canonical_body(request: web.Request) -> dict[str, Any]:
    """A body that becomes event content: also refused (M_BAD_JSON) unless it has a
    canonical JSON form (no floats, integers within +-(2**53 - 1))."""
    body = await json_body(request)
    try:
        canonical_json.encode(body)
    except canonical_json.CanonicalJsonError as exc:
        raise bad_json(f"Content is not canonical JSON: {exc}.") from None
    return body


def parse(model: type[M], data: dict[str, Any]) -> M:
    """Validate ``data``: a missing field is M_MISSING_PARAM, anything else M_BAD_JSON."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        if first["type"] == "missing":
            raise missing_param(f"Missing parameter: {field}") from None
        raise bad_json(f"Invalid {field}: {first['msg']}") from None


async def parse_body(request: web.Request, model: type[M]) -> M:
    return parse(model, await json_body(request))
