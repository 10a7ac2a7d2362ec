"""Which MXC URIs an event's content refers to (Synapse's room media rule)."""

from __future__ import annotations

from typing import Any

import pytest

from conduwuit.core.media_refs import media_refs


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"url": "mxc://a.example/x"}, ["mxc://a.example/x"]),
        (
            {"url": "mxc://a.example/x", "info": {"thumbnail_url": "mxc://b.example/t"}},
            ["mxc://a.example/x", "mxc://b.example/t"],
        ),
        # Without a string url nothing counts (Synapse's contains_url).
        ({"info": {"thumbnail_url": "mxc://b.example/t"}}, []),
        ({"url": 5, "info": {"thumbnail_url": "mxc://b.example/t"}}, []),
        # Values that are not MXC URIs are skipped, the rest kept.
        (
            {"url": "https://a.example/x", "info": {"thumbnail_url": "mxc://b.example/t"}},
            ["mxc://b.example/t"],
        ),
        ({"url": "mxc://a.example/bad id", "info": "not an object"}, []),
        (
            {"url": "mxc://a.example/x", "info": {"thumbnail_url": ["mxc://b.example/t"]}},
            ["mxc://a.example/x"],
        ),
        ("not an object", []),
        (None, []),
    ],
)
def test_media_refs(content: Any, expected: list[str]) -> None:
    assert [str(m) for m in media_refs(content)] == expected
