from __future__ import annotations

import pytest

from conduwuit.core.errors import MatrixError
from conduwuit.service.users.ids import check_new_localpart, parse_user_id


@pytest.mark.parametrize("localpart", ["a", "alice.b_c=d-e/f+g", "0123"])
def test_valid_localparts(localpart: str) -> None:
    assert check_new_localpart(localpart, "x.org") == f"@{localpart}:x.org"


@pytest.mark.parametrize("localpart", ["", "Alice", "a b", "a:b", "é", "a@b", "a" * 250])
def test_invalid_localparts(localpart: str) -> None:
    with pytest.raises(MatrixError) as info:
        check_new_localpart(localpart, "x.org")
    assert info.value.errcode == "M_INVALID_USERNAME"


def test_parse_accepts_historical_ids() -> None:
    assert parse_user_id("@Alice:x.org") == ("Alice", "x.org")
    assert parse_user_id("@a:x.org:8448") == ("a", "x.org:8448")
    # the historical grammar (core.ids) is lenient; only the shape and length are enforced
    for bad in ("alice", "@alice", "@a:", "@" + "a" * 260 + ":x"):
        assert parse_user_id(bad) is None
