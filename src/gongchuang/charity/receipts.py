"""The donor's receipt for a received donation, as a PDF (捐赠收据).

A receipt is a formal document in its fixed Chinese wording, whatever language the site is read
in (like the certificates in `core.pdf`): the receipt number is the donation's code, the amount
is written in figures and in capital numerals (大写, so that it cannot be altered), and a QR code
opens the public check of the number. It names the donor in full: it is the donor's own copy,
and the page that serves it checks who asks (`service.own_donation`)."""

from __future__ import annotations

import io

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.charity.models import (
    Charity,
    Donation,
    DonationStatus,
    Fund,
    Match,
    MatchStatus,
    Project,
)
from gongchuang.core.clock import local_time
from gongchuang.core.errors import Conflict
from gongchuang.core.i18n import N_
from gongchuang.core.models import Organisation, Person
from gongchuang.core.money import fen_to_yuan
from gongchuang.core.pdf import draw_qr, draw_string, register_cjk_font

DIGITS = "零壹贰叁肆伍陆柒捌玖"
PLACES = ("", "拾", "佰", "仟")
# Every four places a new section: 万 (10^4), 亿 (10^8), 万亿 (10^12).
SECTIONS = ("", "万", "亿", "万亿")


def _capital_integer(number: int) -> str:
    """A whole number in capital numerals: one 零 for each run of zeros between digits (also
    across sections: 壹万零伍拾), none at the end, a section's unit only when the section has a
    digit (壹亿零壹, not 壹亿万零壹)."""
    if number == 0:
        return DIGITS[0]
    digits = str(number)
    if len(digits) > 4 * len(SECTIONS):
        raise ValueError(f"too large for a receipt: {number}")
    out: list[str] = []
    zero_pending = False
    section_has_digit = False
    for index, char in enumerate(digits):
        place = len(digits) - 1 - index
        digit = int(char)
        if digit == 0:
            zero_pending = bool(out)
        else:
            if zero_pending:
                out.append(DIGITS[0])
                zero_pending = False
            out.append(DIGITS[digit] + PLACES[place % 4])
            section_has_digit = True
        if place % 4 == 0:
            if section_has_digit:
                out.append(SECTIONS[place // 4])
            section_has_digit = False
    return "".join(out)


def capital_yuan(fen: int) -> str:
    """An amount of money in capital numerals as cheques and receipts write it (中国人民银行
    《支付结算办法》): 壹佰圆整, 壹万零伍拾圆陆角, 壹圆零伍分, 伍角, 零圆整. 整 closes an amount of
    whole yuan; an amount ending in 角 or 分 has none."""
    if fen < 0:
        raise ValueError(f"a negative amount has no receipt: {fen}")
    yuan, cents = divmod(fen, 100)
    jiao, fen_digit = divmod(cents, 10)
    head = _capital_integer(yuan) + "圆" if yuan else ""
    if cents == 0:
        return (head or "零圆") + "整"
    tail = ""
    if jiao:
        tail += DIGITS[jiao] + "角"
    if fen_digit:
        # A zero 角 between yuan and 分 is said: 壹圆零伍分.
        tail += (DIGITS[0] if yuan and not jiao else "") + DIGITS[fen_digit] + "分"
    return head + tail


def _matched_fen(session: Session, donation: Donation) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(Match.amount_fen), 0)).where(
                Match.donation_id == donation.id, Match.status == MatchStatus.credited
            )
        )
        or 0
    )


def _recipient(session: Session, donation: Donation) -> tuple[str, str, str]:
    """(what the money went to, the receiving organisation's name, its registration number)."""
    organisation = session.get(Organisation, donation.organisation_id)
    name = organisation.name if organisation is not None else ""
    if donation.project_id is not None:
        project = session.get(Project, donation.project_id)
        charity = session.get(Charity, project.charity_id) if project is not None else None
        return (
            project.title if project is not None else "",
            name,
            charity.registration_number if charity is not None else "",
        )
    fund = session.get(Fund, donation.fund_id) if donation.fund_id is not None else None
    return (fund.name if fund is not None else "", name, "")


def receipt_pdf(session: Session, donation: Donation, site_url: str) -> bytes:
    """The receipt of a received donation; `site_url` is the site's address, for the QR code
    that opens `/charity/receipts/{code}`."""
    if donation.status != DonationStatus.paid or donation.paid_at is None:
        raise Conflict(N_("A receipt is issued once the donation is received"))
    from reportlab.lib.pagesizes import A5, landscape
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    donor = session.get(Person, donation.donor_id)
    purpose, organisation, registration = _recipient(session, donation)
    matched = _matched_fen(session, donation)
    check_url = f"{site_url.rstrip('/')}/charity/receipts/{donation.code}"

    font = register_cjk_font()
    out = io.BytesIO()
    width, height = landscape(A5)
    pdf = canvas.Canvas(out, pagesize=(width, height))
    pdf.setTitle(f"捐赠收据 {donation.code}")
    pdf.setLineWidth(1.5)
    pdf.rect(10 * mm, 10 * mm, width - 20 * mm, height - 20 * mm)
    draw_string(pdf, width / 2, height - 28 * mm, "公益事业捐赠收据", font, 20, "centre")
    draw_string(
        pdf, width - 18 * mm, height - 38 * mm, f"收据编号 {donation.code}", font, 10, "right"
    )
    lines = [
        f"捐赠人：{donor.name if donor is not None else ''}",
        f"捐赠金额：人民币 ¥{fen_to_yuan(donation.amount_fen)}",
        f"大写金额：{capital_yuan(donation.amount_fen)}",
        f"捐赠用途：{purpose}",
        f"受赠单位：{organisation}",
    ]
    if registration:
        lines.append(f"统一社会信用代码：{registration}")
    lines.append(f"捐赠日期：{local_time(donation.paid_at, '%Y年%m月%d日 %H:%M')}")
    if matched:
        lines.append(f"配捐金额：¥{fen_to_yuan(matched)}（{capital_yuan(matched)}）")
    y = height - 50 * mm
    for line in lines:
        draw_string(pdf, 20 * mm, y, line, font, 12)
        y -= 8.5 * mm
    draw_string(pdf, 20 * mm, 16 * mm, "感谢您的爱心捐赠！本收据可扫描二维码核验真伪。", font, 9)
    draw_qr(pdf, check_url, width - 52 * mm, 16 * mm, 32 * mm)
    draw_string(pdf, width - 36 * mm, 13 * mm, "扫描二维码核验", font, 9, "centre")
    pdf.showPage()
    pdf.save()
    return out.getvalue()
