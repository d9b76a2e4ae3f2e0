"""What an outside review of the charity pages found, each kept from coming back: an amount with
an exponent too large for decimal arithmetic answered a server error instead of a refusal, and
the memos the service writes in the public ledger ("quadratic funding", "refund of the
donation") were shown in English on Chinese pages, a date of year 1 typed in Beijing time
overflowed its conversion to UTC (a server error), and an audit's note (which may name the donor
of an anonymous gift, or their phone) was copied into the public ledger."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.charity import service
from gongchuang.charity.models import (
    Campaign,
    Donation,
    EntryKind,
    MatchStatus,
    RecurringGift,
)
from gongchuang.charity.pages._common import memo_words
from gongchuang.charity.pages.manage import moment_from_local
from gongchuang.charity.schemas import ClawBackIn
from gongchuang.charity.service import ledger
from gongchuang.core import organisations
from gongchuang.core.errors import InvalidInput
from gongchuang.core.forms import fen_from_yuan
from gongchuang.core.i18n import current_locale
from gongchuang.core.middleware import LANGUAGE_COOKIE
from gongchuang.core.permissions import SYSTEM
from tests.charity.conftest import CharityWorld, FundWorld
from tests.charity.giving import Giving, build_giving, give
from tests.conftest import csrf_token, login
from tests.support.openapi import ValidatingClient
from tests.support.principals import acting
from tests.support.world import World, make_person

# Decimal reads it exactly; multiplying it by 100 overflows the default context.
OVERFLOWING = "1e999999999"


@pytest.fixture
def giving(session: Session, world: World) -> Giving:
    built = build_giving(session, world)
    session.commit()  # a refused request rolls back to here
    return built


def post(client: ValidatingClient, url: str, data: Mapping[str, object], **kw: Any) -> Response:
    return client.post(
        url, data={**data, "csrf_token": csrf_token(client)}, follow_redirects=False, **kw
    )


def count(session: Session, column: Any) -> int:
    return session.scalar(select(func.count(column))) or 0


def test_an_overflowing_amount_is_refused_beside_its_field_on_every_giving_form(
    client: ValidatingClient, session: Session, giving: Giving, fund_world: FundWorld
) -> None:
    login(client, giving.donors[0].phone)
    project = f"/charity/projects/{giving.project.id}"
    for url, data in [
        (f"{project}/donate", {"amount_yuan": OVERFLOWING}),
        (f"{project}/monthly", {"amount_yuan": OVERFLOWING, "day_of_month": "5"}),
        (f"/charity/funds/{fund_world.fund.id}/donate", {"amount_yuan": OVERFLOWING}),
    ]:
        answer = post(client, url, data)
        assert answer.status_code == 422, (url, answer.status_code)
        assert "amount_yuan" in answer.text
    assert count(session, Donation.id) == 0
    assert count(session, RecurringGift.id) == 0


def test_an_overflowing_amount_is_refused_on_the_charitys_own_forms(
    client: ValidatingClient, session: Session, charity_world: CharityWorld
) -> None:
    login(client, charity_world.manager.phone)
    project = f"/charity/manage/projects/{charity_world.project.id}"
    expense = post(
        client,
        f"{project}/expenses",
        {
            "budget_line_id": str(charity_world.supplies.id),
            "amount_yuan": OVERFLOWING,
            "payee": "粮油店",
            "description": "大米",
        },
    )
    assert expense.status_code == 422 and "amount_yuan" in expense.text
    line = post(client, f"{project}/budget-lines", {"name": "运费", "budget_yuan": OVERFLOWING})
    assert line.status_code == 422 and "budget_yuan" in line.text


def test_the_services_own_ledger_memos_are_said_in_the_readers_language(
    client: ValidatingClient, session: Session, giving: Giving
) -> None:
    project_id = giving.project.id
    for kind, memo in [
        (EntryKind.donation, "quadratic funding"),
        (EntryKind.refund, "refund of the donation"),
    ]:
        ledger.write_movement(
            session,
            kind=kind,
            source=f"review-finding:{memo}",
            debit=ledger.DONORS,
            credit=ledger.project_account(project_id),
            amount_fen=100,
            project_id=project_id,
            memo=memo,
        )
    session.commit()

    chinese = client.get(f"/charity/projects/{project_id}/ledger")
    assert chinese.status_code == 200
    assert "二次方配捐" in chinese.text and "已退款" in chinese.text
    assert "quadratic funding" not in chinese.text
    assert "refund of the donation" not in chinese.text

    client.cookies.set(LANGUAGE_COOKIE, "en")
    english = client.get(f"/charity/projects/{project_id}/ledger")
    assert "Quadratic funding" in english.text and "Refunded" in english.text


def test_a_memo_a_person_typed_is_shown_as_typed() -> None:
    token = current_locale.set("zh_CN")
    try:
        assert memo_words("review") == "审核员"
        assert memo_words("Quadratic funding") == "Quadratic funding"  # not the service's words
        assert memo_words("新化县青山示范镇粮油店") == "新化县青山示范镇粮油店"
    finally:
        current_locale.reset(token)


def test_an_audits_note_stays_with_the_reviewers_not_in_the_public_ledger(
    client: ValidatingClient, session: Session, giving: Giving
) -> None:
    donation = give(session, giving.donors[0], giving.project, 3_000, anonymous=True)
    [match] = service.matches_of_donation(session, donation.id)
    note = "匿名捐赠人张三13812345678与捐赠人李四同一设备"
    service.claw_back_after_audit(session, acting(giving.reviewer), match.id, ClawBackIn(note=note))
    session.commit()
    assert match.status == MatchStatus.clawed_back and match.review_note == note

    project_id = giving.project.id
    page = client.get(f"/charity/projects/{project_id}/ledger")
    assert page.status_code == 200
    assert "13812345678" not in page.text and "张三" not in page.text
    assert "审核员" in page.text  # the service's own memo, in the reader's language
    api = client.get(f"/api/v1/charity/projects/{project_id}/ledger")
    assert api.status_code == 200
    assert "13812345678" not in api.text and "张三" not in api.text


@pytest.mark.parametrize("typed", ["0001-01-01T00:00", "0001-01-01T07:59"])
def test_a_date_before_utcs_year_one_is_refused_beside_its_field(typed: str) -> None:
    with pytest.raises(InvalidInput):
        moment_from_local(typed, "starts_local")


def test_a_campaign_starting_in_year_one_is_refused_on_the_form_not_a_server_error(
    client: ValidatingClient, session: Session, giving: Giving
) -> None:
    campaigner = make_person(session, "13799990042", "平台运营")
    organisations.add_member(
        session, SYSTEM, giving.platform, phone=campaigner.phone, roles=["admin"], check=False
    )
    session.commit()
    login(client, campaigner.phone)
    before = count(session, Campaign.id)
    answer = post(
        client,
        f"/charity/campaigns/manage/{giving.platform.id}/campaigns",
        {
            "name": "远古活动",
            "kind": "giving_day",
            "starts_local": "0001-01-01T00:00",
            "ends_local": "2030-10-01T08:00",
        },
    )
    assert answer.status_code == 422 and "starts_local" in answer.text
    assert count(session, Campaign.id) == before


def test_an_id_beyond_the_columns_range_is_refused_not_a_server_error(
    client: ValidatingClient, session: Session, charity_world: CharityWorld
) -> None:
    # Ten digits pass the form's check but overflow PostgreSQL's integer column.
    login(client, charity_world.manager.phone)
    project = f"/charity/manage/projects/{charity_world.project.id}"
    enrol = post(client, f"{project}/campaigns", {"campaign_id": "9999999999"})
    assert 400 <= enrol.status_code < 500
    expense = post(
        client,
        f"{project}/expenses",
        {"budget_line_id": "9999999999", "amount_yuan": "1", "payee": "粮油店"},
    )
    assert 400 <= expense.status_code < 500


@pytest.mark.parametrize("allow_zero", [False, True])
def test_the_amount_reader_refuses_an_overflowing_amount_and_reads_a_plain_one(
    allow_zero: bool,
) -> None:
    # allow_zero is the grant report's "spent" field, which reads money.yuan_to_fen directly.
    with pytest.raises(InvalidInput):
        fen_from_yuan(OVERFLOWING, "spent_yuan", allow_zero=allow_zero)
    assert fen_from_yuan("12.50", "spent_yuan", allow_zero=allow_zero) == 1_250
    if allow_zero:
        assert fen_from_yuan("0", "spent_yuan", allow_zero=True) == 0
    else:
        assert fen_from_yuan(" ", "amount_yuan") == ""
