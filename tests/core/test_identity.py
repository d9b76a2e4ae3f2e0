from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from gongchuang.core.identity import (
    id_check_digit,
    is_valid_phone,
    is_valid_resident_id,
    mask_phone,
    mask_resident_id,
    normalise_phone,
)


def test_phone_is_masked_like_chinese_apps_do() -> None:
    assert mask_phone("13800000000") == "138****0000"
    assert mask_phone("") == ""


def test_phone_normalisation_accepts_what_people_type() -> None:
    assert normalise_phone("+86 138-0000-0000") == "13800000000"
    assert is_valid_phone("13800000000")
    assert not is_valid_phone("12800000000")  # no such mobile prefix
    assert not is_valid_phone("1380000000")


def test_known_resident_id_check_digits() -> None:
    # The GB 11643 worked example.
    assert is_valid_resident_id("11010519491231002X")
    assert not is_valid_resident_id("110105194912310021")
    assert not is_valid_resident_id("110105194902300021")  # 30 February
    assert mask_resident_id("11010519491231002X") == "110***********002X"


@given(
    region=st.sampled_from(["110105", "431322", "440106"]),
    born=st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)),
    sequence=st.integers(min_value=0, max_value=999),
    position=st.integers(min_value=0, max_value=16),
    delta=st.integers(min_value=1, max_value=9),
)
def test_any_single_digit_error_is_caught(
    region: str, born: date, sequence: int, position: int, delta: int
) -> None:
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    number = first17 + id_check_digit(first17)
    assert is_valid_resident_id(number)
    digits = list(first17)
    digits[position] = str((int(digits[position]) + delta) % 10)
    changed = "".join(digits) + number[17]
    # MOD 11-2 detects every single-digit substitution (the changed number may still be
    # rejected for its date, which is also a refusal).
    assert not is_valid_resident_id(changed)
