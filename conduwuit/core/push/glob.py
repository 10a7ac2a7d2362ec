"""Glob-style matching for push rules (appendices, "Glob-style matching").

``*`` matches zero or more characters, ``?`` exactly one; everything else is
literal. Matching is case-insensitive (the spec leaves the meaning of that to
the homeserver: we use Python's Unicode ``re.IGNORECASE``). ``event_match`` on
any key but ``content.body`` must match the whole value; on ``content.body`` the
pattern must match a substring that starts and ends at a word boundary: the
start or end of the value, or any character not in ``[A-Za-z0-9_]`` (the spec's
definition, so a non-ASCII letter is a boundary, unlike regex ``\\b``).
"""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = "A-Za-z0-9_"
_START = rf"(?:\A|(?<=[^{_WORD}]))"
_END = rf"(?:\Z|(?=[^{_WORD}]))"
_FLAGS = re.IGNORECASE | re.DOTALL


def glob_to_regex(pattern: str) -> str:
    out: list[str] = []
    for char in pattern:
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        else:
            out.append(re.escape(char))
    return "".join(out)


@lru_cache(maxsize=4096)
def compile_glob(pattern: str, *, words: bool = False) -> re.Pattern[str]:
    """A compiled glob: call ``.fullmatch`` for whole values, ``.search`` when ``words``."""
    body = glob_to_regex(pattern)
    if words:
        return re.compile(f"{_START}{body}{_END}", _FLAGS)
    return re.compile(body, _FLAGS)


@lru_cache(maxsize=4096)
def compile_literal_words(text: str) -> re.Pattern[str]:
    """``text`` literally (no wildcards) at word boundaries: ``contains_display_name``."""
    return re.compile(f"{_START}{re.escape(text)}{_END}", _FLAGS)


def glob_matches(pattern: str, value: str, *, words: bool = False) -> bool:
    compiled = compile_glob(pattern, words=words)
    found = compiled.search(value) if words else compiled.fullmatch(value)
    return found is not None
