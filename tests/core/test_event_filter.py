"""The compiled type matcher of RoomEventFilter (one regex per pattern list) agrees
with a plain reference glob matcher and with the matching it replaced (fnmatch)."""

from __future__ import annotations

from fnmatch import fnmatchcase

from hypothesis import given
from hypothesis import strategies as st

from conduwuit.core.event_filter import RoomEventFilter, compile_globs


def reference_glob(text: str, pattern: str) -> bool:
    """``*`` matches any run of characters, ``?`` one character, all else itself."""
    # matched[j]: pattern[:i] matches text[:j]
    matched = [True] + [False] * len(text)
    for p in pattern:
        if p == "*":
            for j in range(1, len(text) + 1):
                matched[j] = matched[j] or matched[j - 1]
        else:
            matched = [False] + [
                matched[j] and (p == "?" or p == text[j]) for j in range(len(text))
            ]
    return matched[len(text)]


TEXT = st.text(alphabet="ab.\n", max_size=8)
GLOB = st.text(alphabet="ab.*?\n", max_size=6)
ANY_PATTERN = st.text(alphabet="ab.*?[]!-\\^$", max_size=6)


@given(st.lists(GLOB, max_size=6), TEXT)
def test_compiled_matcher_agrees_with_reference_glob(patterns: list[str], text: str) -> None:
    expected = any(reference_glob(text, p) for p in patterns)
    assert compile_globs(tuple(patterns))(text) == expected


@given(st.lists(ANY_PATTERN, max_size=6), TEXT)
def test_compiled_matcher_agrees_with_fnmatch(patterns: list[str], text: str) -> None:
    expected = any(fnmatchcase(text, p) for p in patterns)
    assert compile_globs(tuple(patterns))(text) == expected


@given(
    st.lists(GLOB, max_size=4) | st.none(),
    st.lists(GLOB, max_size=4),
    st.lists(st.sampled_from(["@a:x", "@b:x"]), max_size=2) | st.none(),
    st.lists(st.sampled_from(["@a:x", "@b:x"]), max_size=2),
    TEXT,
    st.sampled_from(["@a:x", "@b:x"]),
)
def test_filter_matches_like_the_spec_rules(
    types: list[str] | None,
    not_types: list[str],
    senders: list[str] | None,
    not_senders: list[str],
    event_type: str,
    sender: str,
) -> None:
    event_filter = RoomEventFilter.from_json(
        {
            k: v
            for k, v in {
                "types": types,
                "not_types": not_types,
                "senders": senders,
                "not_senders": not_senders,
            }.items()
            if v is not None
        }
    )
    expected = (
        not any(reference_glob(event_type, p) for p in not_types)
        and (types is None or any(reference_glob(event_type, p) for p in types))
        and sender not in not_senders
        and (senders is None or sender in senders)
    )
    assert event_filter.matches({"type": event_type, "sender": sender}) == expected


def test_examples() -> None:
    match = compile_globs(("m.room.*", "org.example.exact"))
    assert match("m.room.message") and match("org.example.exact")
    assert not match("m.roomy") and not match("org.example.exactly")
    assert not compile_globs(())("anything")
    assert compile_globs(("*",))("")


REL_TYPE = st.sampled_from(["m.thread", "m.reference", "m.annotation"])


@given(
    st.lists(REL_TYPE, max_size=3) | st.none(),
    st.lists(REL_TYPE, max_size=3),
    REL_TYPE | st.none(),
    st.booleans(),
)
def test_rel_types_keep_and_drop_by_relation_type(
    rel_types: list[str] | None, not_rel_types: list[str], rel_type: str | None, target: bool
) -> None:
    """MSC3874: an event is kept when its relation type is not in ``not_rel_types``
    and, if ``rel_types`` is given, is in it; an event without a well-formed relation
    (no target event ID) has no relation type."""
    definition: dict[str, list[str]] = {"org.matrix.msc3874.not_rel_types": not_rel_types}
    if rel_types is not None:
        definition["org.matrix.msc3874.rel_types"] = rel_types
    event_filter = RoomEventFilter.from_json(definition)
    content: dict[str, object] = {"body": "x"}
    if rel_type is not None:
        relates: dict[str, object] = {"rel_type": rel_type}
        if target:
            relates["event_id"] = "$root"
        content["m.relates_to"] = relates
    effective = rel_type if target else None
    expected = (effective is None or effective not in not_rel_types) and (
        rel_types is None or effective in rel_types
    )
    pdu = {"type": "m.room.message", "sender": "@a:x", "content": content}
    assert event_filter.matches(pdu) == expected
