"""The donation receipt: the amount in capital numerals (a pure function, checked against
examples and read back by an independent parser), and the PDF's text and QR code."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from gongchuang.charity import service
from gongchuang.charity.receipts import capital_yuan, receipt_pdf
from gongchuang.charity.schemas import DonateIn
from gongchuang.core import pdf
from gongchuang.core.errors import Conflict
from tests.charity.giving import build_giving, give
from tests.support import pdfs
from tests.support.principals import acting
from tests.support.world import World

DIGIT = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
PLACE = {"拾": 10, "佰": 100, "仟": 1000}


def read_integer(text: str) -> int:
    """The whole number the capitals say (壹佰万零伍拾 → 1000050): the inverse, written the
    other way round, to check `capital_yuan` by a round trip."""
    total = section = digit = 0
    for char in text:
        if char in DIGIT:
            digit = DIGIT[char]
        elif char in PLACE:
            section += digit * PLACE[char]
            digit = 0
        elif char == "万":
            total += (section + digit) * 10_000
            section = digit = 0
        elif char == "亿":
            total = (total + section + digit) * 100_000_000
            section = digit = 0
        else:
            raise ValueError(char)
    return total + section + digit


def read_capital(text: str) -> int:
    """Fen from a capital amount: [integer 圆][x角][y分] or ...整."""
    fen = 0
    rest = text
    if rest.endswith("整"):
        rest = rest[:-1]
    if "圆" in rest:
        integer, rest = rest.split("圆", 1)
        fen += read_integer(integer) * 100
    if rest.startswith("零"):
        rest = rest[1:]
    if "角" in rest:
        jiao, rest = rest.split("角", 1)
        fen += DIGIT[jiao] * 10
    if "分" in rest:
        fen_digit, rest = rest.split("分", 1)
        fen += DIGIT[fen_digit]
    if rest:
        raise ValueError(text)
    return fen


@pytest.mark.parametrize(
    ("fen", "capital"),
    [
        (0, "零圆整"),
        (1, "壹分"),
        (10, "壹角"),
        (15, "壹角伍分"),
        (100, "壹圆整"),
        (105, "壹圆零伍分"),
        (1_000, "壹拾圆整"),
        (10_000, "壹佰圆整"),
        (168_032, "壹仟陆佰捌拾圆叁角贰分"),
        (1_005_060, "壹万零伍拾圆陆角"),
        (10_700_053, "壹拾万零柒仟圆伍角叁分"),
        (10_700_005, "壹拾万零柒仟圆零伍分"),
        (100_000_000, "壹佰万圆整"),
        (100_050_000, "壹佰万零伍佰圆整"),
        (1_000_000_100, "壹仟万零壹圆整"),
        (10_000_000_100, "壹亿零壹圆整"),
        (10_100_000_000, "壹亿零壹佰万圆整"),
        (12_345_678_900, "壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖圆整"),
        (1_000_000_000_000, "壹佰亿圆整"),
    ],
)
def test_capital_yuan(fen: int, capital: str) -> None:
    assert capital_yuan(fen) == capital
    assert read_capital(capital) == fen


def test_capital_yuan_refuses_a_negative_amount() -> None:
    with pytest.raises(ValueError):
        capital_yuan(-1)


@given(st.integers(min_value=0, max_value=10_000_000_000_00))
def test_capital_yuan_reads_back_and_ends_as_it_should(fen: int) -> None:
    capital = capital_yuan(fen)
    assert capital
    assert read_capital(capital) == fen
    if fen % 100 == 0:
        assert capital.endswith("整")
    elif fen % 10 == 0:
        assert capital.endswith("角")
    else:
        assert capital.endswith("分")
    # Never two zeros running, never a zero before a unit or at the end of the yuan.
    assert "零零" not in capital
    if fen:
        assert not any(f"零{unit}" in capital for unit in "拾佰仟万亿圆角分")


def test_the_receipt_shows_the_number_the_amounts_and_a_qr_code(
    session: Session, world: World
) -> None:
    giving = build_giving(session, world)
    donor = giving.donors[0]
    donation = give(session, donor, giving.project, 12_345, campaign_id=giving.campaign.id)
    data = receipt_pdf(session, donation, "https://gongchuang.example/")
    text = pdfs.text(data).replace("\n", "")
    assert donation.code in text
    assert "¥123.45" in text
    assert "壹佰贰拾叁圆肆角伍分" in text
    assert donor.name in text
    assert giving.project.title in text
    assert giving.charity.registration_number in text
    assert "配捐金额：¥123.45" in text  # the test pot matches 1:1
    check = f"https://gongchuang.example/charity/receipts/{donation.code}"
    assert pdfs.qr_codes(data) == [pdf.qr_modules(check, "M")]


def test_no_receipt_before_the_money_arrives(session: Session, world: World) -> None:
    giving = build_giving(session, world)
    pending = service.donate(
        session,
        acting(giving.donors[1]),
        giving.project.id,
        DonateIn(amount_fen=500),
        service.DonationOrigin(),
    )
    with pytest.raises(Conflict):
        receipt_pdf(session, pending, "https://gongchuang.example")
