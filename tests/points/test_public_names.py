"""Names on the public notice online (PIPL): anyone who is not a member of the village sees
only the surname of a villager who has not agreed to show their name (consent `public_name`);
members, cadres and the printed copy for the village board keep every name in full."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gongchuang.core import people
from gongchuang.core.identity import mask_name
from gongchuang.points import service
from tests.conftest import login
from tests.points.conftest import PointsWorld
from tests.support import pdfs
from tests.support.openapi import ValidatingClient
from tests.support.principals import acting

EXPLAINED = "未同意在网上公示姓名的村民只显示姓氏。"


def test_mask_name_keeps_the_surname_only() -> None:
    assert mask_name("王大妈") == "王**"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("王五") == "王*"
    assert mask_name("王") == "*"
    assert mask_name("") == "—"


def _two_on_notice(session: Session, pw: PointsWorld) -> int:
    """The villager (no consent) and the neighbour (agreed) on one notice; its id."""
    record = pw.approve(session, pw.report(session, pw.villager))
    pw.approve(session, pw.report(session, pw.neighbour))
    people.set_consent(session, acting(pw.neighbour), pw.neighbour, "public_name", True)
    # A later "no" overrides an earlier "yes": only the latest word counts.
    people.set_consent(session, acting(pw.villager), pw.villager, "public_name", True)
    people.set_consent(session, acting(pw.villager), pw.villager, "public_name", False)
    session.commit()
    assert record.notice_id is not None
    return record.notice_id


def _rows(html: str) -> str:
    return html.split('id="notice-records"')[1]


def test_the_anonymous_board_masks_who_did_not_agree(
    client: ValidatingClient, session: Session, pw: PointsWorld
) -> None:
    _two_on_notice(session, pw)
    html = client.get(f"/points/villages/{pw.village.id}/board").text
    rows = _rows(html)
    assert mask_name(pw.villager.name) in rows and pw.villager.name not in html
    assert pw.neighbour.name in rows
    assert EXPLAINED in html


def test_an_outsider_signed_in_sees_the_board_masked_too(
    client: ValidatingClient, session: Session, pw: PointsWorld
) -> None:
    _two_on_notice(session, pw)
    login(client, pw.world.cadre_b.phone)  # a cadre of another village
    html = client.get(f"/points/villages/{pw.village.id}/board").text
    assert pw.villager.name not in html and mask_name(pw.villager.name) in _rows(html)


def test_a_member_sees_every_name_in_full(
    client: ValidatingClient, session: Session, pw: PointsWorld
) -> None:
    _two_on_notice(session, pw)
    login(client, pw.shopkeeper.phone)
    html = client.get(f"/points/villages/{pw.village.id}/board").text
    rows = _rows(html)
    assert pw.villager.name in rows and pw.neighbour.name in rows
    assert EXPLAINED not in html
    found = _rows(
        client.get(f"/points/villages/{pw.village.id}/board", params={"q": pw.villager.name}).text
    )
    assert pw.villager.name in found


def test_an_anonymous_search_cannot_find_a_masked_name(
    client: ValidatingClient, session: Session, pw: PointsWorld
) -> None:
    _two_on_notice(session, pw)
    url = f"/points/villages/{pw.village.id}/board"
    rows = _rows(client.get(url, params={"q": pw.villager.name}).text)
    assert "1 条记录" not in rows and mask_name(pw.villager.name) not in rows
    assert pw.neighbour.name in _rows(client.get(url, params={"q": pw.neighbour.name}).text)
    # Nor a part of it beyond the surname the page shows.
    assert mask_name(pw.villager.name) not in _rows(
        client.get(url, params={"q": pw.villager.name[1:]}).text
    )
    # The surname alone finds what the page shows anyway.
    by_surname = service.notice_board(session, pw.village, search=pw.villager.name[:1])
    assert pw.villager.id in {r.person_id for r in by_surname.records.items}
    hidden = service.notice_board(session, pw.village, search=pw.villager.name)
    assert hidden.records.total == 0
    shown = service.notice_board(session, pw.village, search=pw.villager.name, full_names=True)
    assert shown.records.total == 1


def test_the_anonymous_pdf_masks_and_the_cadres_copy_does_not(
    client: ValidatingClient, session: Session, pw: PointsWorld
) -> None:
    notice_id = _two_on_notice(session, pw)
    url = f"/points/villages/{pw.village.id}/notices/{notice_id}.pdf"
    public = pdfs.text(client.get(url).content).replace("\n", "")
    assert pw.villager.name not in public and mask_name(pw.villager.name) in public
    assert pw.neighbour.name in public and EXPLAINED in public
    login(client, pw.cadre.phone)
    printed = pdfs.text(client.get(url).content).replace("\n", "")
    assert pw.villager.name in printed and pw.neighbour.name in printed
    assert EXPLAINED not in printed
