"""Yuan typed into forms: read exactly as fen, or refused with a clear message; never a crash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gongchuang.core.errors import InvalidInput
from gongchuang.core.money import MAX_FEN, fen_to_yuan, yuan_to_fen


@pytest.mark.parametrize(
    ("text", "fen"),
    [("12", 1200), ("12.5", 1250), ("12.50", 1250), ("¥ 3,200.05", 320005), ("0.01", 1)],
)
def test_amounts_people_type(text: str, fen: int) -> None:
    assert yuan_to_fen(text, "amount") == fen


@pytest.mark.parametrize(
    "text", ["", "abc", "12.345", "-1", "0", "inf", "-inf", "nan", "sNaN", "1e309", "1e30", "1/2"]
)
def test_what_is_not_an_amount_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        yuan_to_fen(text, "amount")


@given(st.text(max_size=30))
def test_any_text_is_an_amount_or_a_refusal(text: str) -> None:
    try:
        fen = yuan_to_fen(text, "amount", allow_zero=True)
    except InvalidInput:
        return
    assert 0 <= fen <= MAX_FEN


@given(st.integers(0, MAX_FEN))
def test_fen_survive_the_round_trip(fen: int) -> None:
    assert yuan_to_fen(fen_to_yuan(fen), "amount", allow_zero=True) == fen


@pytest.mark.parametrize(
    "typed", ["1e999999999", "1e2", "1E-2", "inf", "NaN", "-1", "12.345", "0x10", "1_000", "٣"]
)
def test_only_plain_amounts_are_read(typed: str) -> None:
    with pytest.raises(InvalidInput):
        yuan_to_fen(typed, "amount")


@pytest.mark.parametrize(
    ("typed", "fen"), [("０.５", 50), ("￥１２", 1200), ("¥1,000.50", 100050), (".5", 50)]
)
def test_full_width_digits_from_a_chinese_keyboard_are_read(typed: str, fen: int) -> None:
    assert yuan_to_fen(typed, "amount") == fen
