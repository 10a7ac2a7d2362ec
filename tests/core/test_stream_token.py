"""Stream tokens: the wire shapes of /sync and pagination tokens, and 400s for the rest."""

from __future__ import annotations

import pytest

from conduwuit.core.errors import ErrCode, MatrixError
from conduwuit.core.stream_token import StreamToken


def test_sync_form_round_trips() -> None:
    assert str(StreamToken(42)) == "s42"
    assert StreamToken.parse("s42") == StreamToken(42)
    assert StreamToken.parse("42") == StreamToken(42)


@pytest.mark.parametrize("token", ["", "s", "t5", "5_1", "s-1", "²", " 5", "s1_0"])
def test_bad_sync_tokens_are_invalid_param(token: str) -> None:
    with pytest.raises(MatrixError) as err:
        StreamToken.parse(token, "since token")
    assert err.value.errcode == ErrCode.INVALID_PARAM
    assert err.value.status == 400


@pytest.mark.parametrize(
    ("token", "position"),
    [("7", 7), ("s7", 7), ("t7", 7), ("t7_3", 7), ("7_abc", 7), ("-7", -7), ("-0", 0)],
)
def test_pagination_tokens(token: str, position: int) -> None:
    assert StreamToken.parse_pagination(token).position == position


@pytest.mark.parametrize("token", ["", "x7", "_7", "s", "٣", "-", "--7", "-s7", "-7_1"])
def test_bad_pagination_tokens_are_invalid_param(token: str) -> None:
    with pytest.raises(MatrixError) as err:
        StreamToken.parse_pagination(token)
    assert err.value.errcode == ErrCode.INVALID_PARAM
