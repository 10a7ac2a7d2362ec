"""Content-Disposition for media: the spec's inline list and sanitised file names."""

from __future__ import annotations

import pytest

from conduwuit.core.content_disposition import (
    content_disposition,
    essence,
    is_inline,
    sanitize_filename,
    valid_content_type,
)


@pytest.mark.parametrize(
    "content_type",
    ["image/png", "IMAGE/PNG", "text/plain; charset=utf-8", "video/mp4", "audio/ogg"],
)
def test_safe_types_are_inline(content_type: str) -> None:
    assert is_inline(content_type)
    assert content_disposition(content_type, None) == "inline"


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "image/svg+xml",
        "image/svg",
        "text/html",
        "application/xhtml+xml",
        "application/javascript",
        "application/pdf",
        "text/xml",
        "application/octet-stream",
    ],
)
def test_everything_else_is_an_attachment(content_type: str | None) -> None:
    assert not is_inline(content_type)
    assert content_disposition(content_type, "x") == 'attachment; filename="x"'


def test_essence() -> None:
    assert essence(" Text/Plain ; charset=utf-8") == "text/plain"


def test_sanitize_filename() -> None:
    assert sanitize_filename("a/b\\c") == "a_b_c"
    assert sanitize_filename("a\r\nb\tc\x00d\u2028e\u202ef") == "abcdef"
    assert sanitize_filename("  spaced  ") == "spaced"


def test_non_ascii_and_quotes_use_rfc5987() -> None:
    assert content_disposition("image/png", "☕") == "inline; filename*=utf-8''%E2%98%95"
    assert content_disposition("image/png", 'a"b') == "inline; filename*=utf-8''a%22b"
    assert content_disposition("image/png", "50%") == "inline; filename*=utf-8''50%25"
    assert content_disposition("image/png", "a b;c") == 'inline; filename="a b;c"'


def test_valid_content_type() -> None:
    assert valid_content_type("text/plain; charset=utf-8")
    assert not valid_content_type("")
    assert not valid_content_type("text/plain\r\nX: y")
    assert not valid_content_type("image/pñg")
    assert not valid_content_type("a" * 256)
