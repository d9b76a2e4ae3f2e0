"""The printed public notice (公示) and the household cards: the embedded Chinese font, the text
as it reads back, and the QR codes that lead back online."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.core import pdf
from gongchuang.points import reports, service
from gongchuang.points.models import Household
from tests.conftest import login
from tests.points.conftest import PointsWorld
from tests.support import pdfs
from tests.support.openapi import ValidatingClient

SUBSET = re.compile(r"^[A-Z]{6}\+NotoSansCJKsc-Regular$")


def test_the_printed_notice_embeds_its_font_and_its_qr_opens_the_notice_online(
    client: ValidatingClient, session: Session, pw: PointsWorld
) -> None:
    record = pw.approve(session, pw.report(session, pw.villager))
    household = session.scalars(select(Household).where(Household.id == record.household_id)).one()
    household.name = "甲&amp;<b>村民</b>户"  # markup in a name prints as typed
    session.commit()
    login(client, pw.cadre.phone)  # the cadres' copy for the village board: names in full
    answer = client.get(f"/points/villages/{pw.village.id}/notices/{record.notice_id}.pdf")
    assert answer.status_code == 200
    used = [f for f in pdfs.fonts(answer.content) if f.name != "Helvetica"]
    assert used and all(SUBSET.match(f.name) and f.embedded_bytes for f in used), used
    online = f"http://testserver/points/villages/{pw.village.id}/board"
    text = pdfs.text(answer.content).replace("\n", "")  # lines wrapped in narrow columns
    for expected in (
        f"{pw.village.name}积分公示",
        pw.villager.name,
        "甲&amp;<b>村民</b>户",
        "参加村组义务劳动",
        "+3",
        "扫码查看网上公示",
        online,
    ):
        assert expected in text, expected
    assert pdfs.qr_codes(answer.content) == [pdf.qr_modules(online, "M")]
    assert client.get(online.removeprefix("http://testserver")).status_code == 200


def test_each_household_card_carries_its_own_card_code(session: Session, pw: PointsWorld) -> None:
    households = service.households(session, pw.village)
    data = reports.household_cards_pdf(session, pw.village, households, "https://gc.example")
    assert all(SUBSET.match(f.name) for f in pdfs.fonts(data) if f.name != "Helvetica")
    text = pdfs.text(data)
    assert all(h.name in text for h in households)
    assert pdfs.qr_codes(data) == [
        pdf.qr_modules(
            f"https://gc.example/points/villages/{pw.village.id}/card/{h.card_code}", "M"
        )
        for h in households
    ]
