"""One spelling for raising Matrix errors (see the docstring of conduwuit/core/errors.py).

An errcode with a helper is raised with the helper unless the raise needs more
than a message (a status, headers or extra fields); the helper gives exactly the
spelled-out form's errcode and status.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conduwuit.core import errors
from conduwuit.core.errors import DEFAULT_STATUS, ErrCode, MatrixError

ROOT = Path(__file__).resolve().parent.parent.parent / "conduwuit"

HELPERS = {
    ErrCode.FORBIDDEN: errors.forbidden,
    ErrCode.NOT_FOUND: errors.not_found,
    ErrCode.BAD_JSON: errors.bad_json,
    ErrCode.INVALID_PARAM: errors.invalid_param,
    ErrCode.MISSING_PARAM: errors.missing_param,
}


@pytest.mark.parametrize("code", list(HELPERS))
def test_helper_is_the_spelled_out_form(code: ErrCode) -> None:
    made = HELPERS[code]("why")
    spelled = MatrixError(code, "why")
    assert (made.errcode, made.status, made.message, made.extra, made.headers) == (
        spelled.errcode,
        spelled.status,
        spelled.message,
        spelled.extra,
        spelled.headers,
    )
    assert made.status == DEFAULT_STATUS[code]


def spelled_out_helper_calls(source: str) -> list[tuple[int, str]]:
    """``MatrixError(ErrCode.X, message)`` calls, with nothing else, for X with a helper."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "MatrixError"
            and len(node.args) == 2
            and not node.keywords
        ):
            continue
        first = node.args[0]
        if (
            isinstance(first, ast.Attribute)
            and isinstance(first.value, ast.Name)
            and first.value.id == "ErrCode"
            and first.attr in ErrCode.__members__
            and ErrCode[first.attr] in HELPERS
        ):
            found.append((node.lineno, first.attr))
    return found


def test_scanner_finds_a_spelled_out_helper_call() -> None:
    source = (
        'raise MatrixError(ErrCode.BAD_JSON, "x")\n'
        'raise MatrixError(ErrCode.BAD_JSON, "x", status=422)\n'
        'raise MatrixError(ErrCode.UNKNOWN, "x")\n'
    )
    assert spelled_out_helper_calls(source) == [(1, "BAD_JSON")]


def test_code_uses_the_helpers() -> None:
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative == "core/errors.py":
            continue
        for line, code in spelled_out_helper_calls(path.read_text(encoding="utf-8")):
            helper = HELPERS[ErrCode[code]].__name__
            offenders.append(f"conduwuit/{relative}:{line}: use {helper}(...)")
    assert not offenders, "\n".join(offenders)
