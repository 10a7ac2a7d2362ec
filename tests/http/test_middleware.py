"""Error shapes, CORS, security headers, HEAD, body limits: every response's plumbing."""

from __future__ import annotations

import pytest
from aiohttp import web
from pydantic import StrictInt, StrictStr

from conduwuit.api.router import Route, client_paths
from conduwuit.api.wire import WireModel, parse_body
from conduwuit.core.errors import ErrCode, MatrixError
from tests.http.conftest import MakeClient, make_config


class Echo(WireModel):
    name: StrictStr
    count: StrictInt = 1


STATE: dict[str, object] = {}


async def echo(request: web.Request) -> web.Response:
    body = await parse_body(request, Echo)
    STATE["last"] = body.name
    return web.json_response({"name": body.name, "count": body.count})


async def hello(request: web.Request) -> web.Response:
    return web.json_response({"hello": "world", "padding": "x" * 4000})


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("secret internals /etc/passwd")


async def refuse(request: web.Request) -> web.Response:
    raise MatrixError(ErrCode.FORBIDDEN, "no", extra_field=1)


ROUTES = [
    Route("POST", client_paths("/echo"), echo),
    Route("GET", client_paths("/hello"), hello),
    Route("GET", client_paths("/boom"), boom),
    Route("GET", client_paths("/refuse"), refuse),
]


async def test_unknown_endpoint_is_unrecognized(make_client: MakeClient) -> None:
    client = await make_client(ROUTES)
    response = await client.get("/_matrix/client/v3/nothing/here")
    assert response.status == 404
    assert await response.json() == {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}
    assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_wrong_method_is_405_unrecognized(make_client: MakeClient) -> None:
    client = await make_client(ROUTES)
    response = await client.delete("/_matrix/client/v3/hello")
    assert response.status == 405
    assert (await response.json())["errcode"] == "M_UNRECOGNIZED"
    assert "GET" in response.headers["Allow"]


async def test_malformed_json_is_not_json(make_client: MakeClient) -> None:
    client = await make_client(ROUTES)
    STATE.clear()
    response = await client.post("/_matrix/client/v3/echo", data=b"{not json")
    assert response.status == 400
    assert (await response.json())["errcode"] == "M_NOT_JSON"
    assert STATE == {}


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        (b"[1, 2]", "M_BAD_JSON"),
        (b'{"name": 5}', "M_BAD_JSON"),
        (b'{"name": "a", "count": "3"}', "M_BAD_JSON"),
        (b"{}", "M_MISSING_PARAM"),
    ],
)
async def test_wrong_shape(make_client: MakeClient, body: bytes, errcode: str) -> None:
    client = await make_client(ROUTES)
    STATE.clear()
    response = await client.post("/_matrix/client/v3/echo", data=body)
    assert response.status == 400
    assert (await response.json())["errcode"] == errcode
    assert STATE == {}


async def test_good_body_passes(make_client: MakeClient) -> None:
    client = await make_client(ROUTES)
    response = await client.post("/_matrix/client/r0/echo", json={"name": "x", "count": 2})
    assert response.status == 200
    assert await response.json() == {"name": "x", "count": 2}


async def test_body_over_limit_declared(make_client: MakeClient) -> None:
    client = await make_client(ROUTES, make_config(max_request_size="2048"))
    STATE.clear()
    response = await client.post("/_matrix/client/v3/echo", data=b"x" * 4096)
    assert response.status == 413
    assert (await response.json())["errcode"] == "M_TOO_LARGE"
    assert STATE == {}


async def test_body_over_limit_streamed(make_client: MakeClient) -> None:
    client = await make_client(ROUTES, make_config(max_request_size="2048"))
    STATE.clear()

    async def chunks():  # type: ignore[no-untyped-def]
        payload = b'{"name": "' + b"y" * 8192 + b'"}'
        for start in range(0, len(payload), 512):
            yield payload[start : start + 512]

    response = await client.post("/_matrix/client/v3/echo", data=chunks())
    assert response.status == 413
    assert (await response.json())["errcode"] == "M_TOO_LARGE"
    assert STATE == {}


async def test_unhandled_exception_hides_internals(make_client: MakeClient) -> None:
    client = await make_client(ROUTES)
    response = await client.get("/_matrix/client/v3/boom")
    assert response.status == 500
    body = await response.json()
    assert body["errcode"] == "M_UNKNOWN"
    assert "secret" not in body["error"] and "passwd" not in body["error"]
    assert "request" in body["error"]


async def test_matrix_error_extra_fields(make_client: MakeClient) -> None:
    client = await make_client(ROUTES)
    response = await client.get("/_matrix/client/v3/refuse")
    assert response.status == 403
    assert await response.json() == {"errcode": "M_FORBIDDEN", "error": "no", "extra_field": 1}


async def test_cors_preflight(make_client: MakeClient) -> None:
    client = await make_client(ROUTES)
    response = await client.options(
        "/_matrix/client/v3/echo",
        headers={"Origin": "https://app.element.io", "Access-Control-Request-Method": "POST"},
    )
    assert response.status == 204
    methods = response.headers["Access-Control-Allow-Methods"]
    for method in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
        assert method in methods
    allowed = response.headers["Access-Control-Allow-Headers"]
    assert "Authorization" in allowed and "Content-Type" in allowed
    # preflight on an unknown path works too: browsers preflight before learning it is 404
    response = await client.options("/_matrix/client/v3/unknown")
    assert response.status == 204


async def test_security_headers(make_client: MakeClient) -> None:
    client = await make_client(ROUTES)
    response = await client.get("/_matrix/client/v3/hello")
    headers = response.headers
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "interest-cohort" not in headers["Permissions-Policy"]
    assert headers["X-XSS-Protection"] == "0"


async def test_head_wherever_get(make_client: MakeClient) -> None:
    client = await make_client(ROUTES)
    response = await client.head("/_matrix/client/v3/hello")
    assert response.status == 200
    assert await response.read() == b""


async def test_compression_off_by_default(make_client: MakeClient) -> None:
    client = await make_client(ROUTES)
    response = await client.get(
        "/_matrix/client/v3/hello", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
    )
    assert "Content-Encoding" not in response.headers


async def test_gzip_compression_when_enabled(make_client: MakeClient) -> None:
    client = await make_client(ROUTES, make_config(gzip_compression="true"))
    response = await client.get(
        "/_matrix/client/v3/hello", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
    )
    assert response.headers["Content-Encoding"] == "gzip"
    raw = await response.read()
    assert len(raw) < 1000
    import gzip
    import json

    assert json.loads(gzip.decompress(raw))["hello"] == "world"
    # not asked for: not compressed
    response = await client.get(
        "/_matrix/client/v3/hello", headers={"Accept-Encoding": "identity"}, auto_decompress=False
    )
    assert "Content-Encoding" not in response.headers
