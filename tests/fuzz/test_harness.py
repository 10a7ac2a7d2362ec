"""The fuzz harness's own parts: spec assembly and the strict-JSON check.

The fuzzing itself runs with `make fuzz` (it needs schemathesis, the `fuzz` extra);
these tests keep the parts it stands on honest in the normal test run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fuzz.checks import strict_json_error
from fuzz.spec import SPEC_DIR_ENV, assemble, operations, spec_dir


def test_assembled_spec_is_self_contained_with_full_paths() -> None:
    document = assemble()
    assert "$ref" not in json.dumps(document)
    ops = operations(document)
    assert ("PUT", "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}") in ops
    assert ("GET", "/_matrix/client/v1/rooms/{roomId}/relations/{eventId}") in ops
    assert ("GET", "/_matrix/client/versions") in ops
    assert all(path.startswith(("/_matrix/", "/.well-known/")) for _, path in ops)
    # Referenced definitions are inlined: the send body's 400 is the standard error.
    send = document["paths"]["/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}"]
    error = send["put"]["responses"]["400"]["content"]["application/json"]["schema"]
    assert "errcode" in error["properties"]
    assert set(document["components"]["securitySchemes"]) >= {
        "accessTokenBearer",
        "accessTokenQuery",
    }


def test_spec_dir_is_overridable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(
        "openapi: 3.1.0\n"
        "servers: [{url: '{basePath}', variables: {basePath: {default: /_matrix/x/v9}}}]\n"
        "paths:\n"
        "  /ping:\n"
        "    get:\n"
        "      responses:\n"
        "        '200':\n"
        "          description: ok\n"
        "          content: {application/json: {schema: {$ref: '#/components/schemas/Node'}}}\n"
        "components:\n"
        "  schemas:\n"
        "    Node: {type: object, properties: {next: {$ref: '#/components/schemas/Node'}}}\n"
    )
    monkeypatch.setenv(SPEC_DIR_ENV, str(tmp_path))
    assert spec_dir() == tmp_path
    document = assemble()
    assert operations(document) == [("GET", "/_matrix/x/v9/ping")]
    schema = document["paths"]["/_matrix/x/v9/ping"]["get"]["responses"]["200"]["content"]
    # A recursive reference is cut off with the empty (accept-anything) schema.
    assert schema["application/json"]["schema"]["properties"]["next"] == {}


def test_missing_spec_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        assemble(tmp_path)


@pytest.mark.parametrize(
    "body",
    [b'{"a": 1, "b": [true, null, "x"]}', b'{"e": "\\u00e9"}', b"[]", b'"\\ud83d\\ude00"'],
)
def test_strict_json_accepts(body: bytes) -> None:
    assert strict_json_error(body) is None


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"a": NaN}', "non-finite"),
        (b"[Infinity]", "non-finite"),
        (b"[1e999]", "non-finite"),
        (b'{"a": 1, "a": 2}', "duplicate"),
        (b'{"a": "\\ud800"}', "surrogate"),
        (b'{"a": "\xff"}', "decode"),
        (b"<html></html>", "Expecting value"),
        (b"", "Expecting value"),
    ],
)
def test_strict_json_rejects(body: bytes, why: str) -> None:
    error = strict_json_error(body)
    assert error is not None and why in error
