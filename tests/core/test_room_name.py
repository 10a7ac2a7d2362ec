"""The computed room name and sliding sync's ``room_name_like``."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from conduwuit.core.room_name import display_name, name_like


def test_name_then_alias_then_heroes() -> None:
    alias = {"alias": "#club:x"}
    assert display_name({"name": "Club"}, alias, ["Ann"]) == "Club"
    assert display_name({"name": ""}, alias, ["Ann"]) == "#club:x"
    assert display_name(None, {"alias": 5}, ["Ann", "@bob:x"]) == "Ann, @bob:x"
    assert display_name("not an object", None, []) == ""


def test_like_is_a_case_insensitive_substring() -> None:
    assert name_like("foo", "abFooab")  # MSC3575's example
    assert name_like("STRASSE", "Straße")
    assert not name_like("%", "anything")
    assert not name_like("_", "a b")
    assert name_like("", "")


@given(st.text(), st.text(), st.text())
def test_any_part_of_a_name_is_like_it_in_any_ascii_case(
    before: str, middle: str, after: str
) -> None:
    name = before + middle + after
    assert name_like(middle, name)
    if middle.isascii():
        assert name_like(middle.swapcase(), name)
