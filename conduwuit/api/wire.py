"""Wire input: JSON bodies and one strict pydantic base whose errors become Matrix errors."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from conduwuit.core.errors import ErrCode, MatrixError


class WireModel(BaseModel):
    """Base of every request body: strict types, unknown fields kept (the spec allows them)."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True, defer_build=True)


M = TypeVar("M", bound=WireModel)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or M_NOT_JSON / M_BAD_JSON."""
    raw = await request.read()
    try:
        value = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise MatrixError(ErrCode.NOT_JSON, "Content not JSON.") from None
    if not isinstance(value, dict):
        raise MatrixError(ErrCode.BAD_JSON, "The request body must be a JSON object.")
    return value


def parse(model: type[M], data: dict[str, Any]) -> M:
    """Validate ``data``: a missing field is M_MISSING_PARAM, anything else M_BAD_JSON."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        if first["type"] == "missing":
            raise MatrixError(ErrCode.MISSING_PARAM, f"Missing parameter: {field}") from None
        raise MatrixError(ErrCode.BAD_JSON, f"Invalid {field}: {first['msg']}") from None


async def parse_body(request: web.Request, model: type[M]) -> M:
    return parse(model, await json_body(request))
