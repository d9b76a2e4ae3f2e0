"""The charity's management pages through HTTP: who reaches each one (its audience, others,
anonymous visitors), a project created through its form, an expense from its draft to its
payment by two other people's approval, a held match released by a reviewer, and refused forms
said on their page with nothing changed."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.charity import service
from gongchuang.charity.models import (
    Campaign,
    Certification,
    Charity,
    Expense,
    ExpenseStatus,
    FundCall,
    MatchStatus,
    Project,
    Proposal,
    ProposalStatus,
)
from gongchuang.charity.schemas import FundCallIn, FundIn
from gongchuang.core import organisations
from gongchuang.core.clock import SHANGHAI, utcnow
from gongchuang.core.models import Person
from gongchuang.core.permissions import SYSTEM
from tests.charity.giving import Giving, build_giving, give, quadratic_pot
from tests.conftest import csrf_token, login
from tests.support.openapi import ValidatingClient
from tests.support.principals import acting
from tests.support.world import World, make_person

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def post(client: ValidatingClient, url: str, data: dict[str, Any], **kw: Any) -> Any:
    return client.post(
        url, data={**data, "csrf_token": csrf_token(client)}, follow_redirects=False, **kw
    )


def from_page(url: str) -> dict[str, str]:
    """The header a browser sends with a form: the refusal comes back on that page."""
    return {"referer": f"http://testserver{url}"}


def count(session: Session, model: type[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def member(session: Session, giving: Giving, phone: str, name: str, roles: list[str]) -> Person:
    """Someone of the charity's organisation with these roles."""
    person = make_person(session, phone, name)
    organisations.add_member(session, SYSTEM, giving.ngo, phone=phone, roles=roles, check=False)
    return person


@pytest.fixture
def giving(session: Session, world: World) -> Giving:
    built = build_giving(session, world)
    session.commit()  # a refused request rolls back to here
    return built


@pytest.fixture
def campaigner(session: Session, giving: Giving) -> Person:
    """The platform's administrator of campaigns."""
    person = make_person(session, "13799990002", "平台运营")
    organisations.add_member(
        session, SYSTEM, giving.platform, phone=person.phone, roles=["admin"], check=False
    )
    session.commit()
    return person


@pytest.fixture
def fund_call(session: Session, world: World) -> FundCall:
    """Village B's community fund with a call open now."""
    fund = service.create_fund(
        session,
        acting(world.cadre_b),
        FundIn(
            organisation_id=world.village_b.id,
            name="乙村社区基金",
            region_id=world.village_b_region.id,
        ),
    )
    now = utcnow()
    call = service.open_call(
        session,
        acting(world.cadre_b),
        fund.id,
        FundCallIn(
            title="社区微创投",
            budget_fen=100_000,
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=30),
        ),
    )
    session.commit()
    return call


# --- who reaches what ------------------------------------------------------------------------


def test_each_page_answers_its_audience_and_no_one_else(
    client: ValidatingClient,
    session: Session,
    world: World,
    giving: Giving,
    campaigner: Person,
    fund_call: FundCall,
) -> None:
    donor = giving.donors[0]
    pages: list[tuple[str, Person, list[tuple[Person, int]]]] = [
        ("/charity/manage", giving.staff, [(donor, 403), (giving.reviewer, 403)]),
        (
            f"/charity/manage/projects/{giving.project.id}",
            giving.finance[0],  # approvers see the project whose expenses they approve
            [(donor, 404), (world.cadre_b, 404), (giving.reviewer, 404)],
        ),
        ("/charity/review", giving.reviewer, [(giving.staff, 403), (donor, 403)]),
        ("/charity/campaigns/manage", campaigner, [(giving.staff, 403), (donor, 403)]),
        ("/charity/charities/certification", world.county_staff, [(giving.staff, 403)]),
        ("/charity/funds/manage", world.cadre_b, [(donor, 403), (giving.finance[0], 403)]),
        (f"/charity/calls/{fund_call.id}", giving.staff, [(donor, 403)]),
    ]
    for url, _person, _others in pages:
        anonymous = client.get(url, follow_redirects=False)
        assert anonymous.status_code == 303, url
        assert anonymous.headers["location"].startswith("/login"), url
    for url, person, others in pages:
        login(client, person.phone)
        answer = client.get(url)
        assert answer.status_code == 200, (url, answer.text[-2000:])
        for other, status in others:
            login(client, other.phone)
            assert client.get(url).status_code == status, (url, other.name)


def test_the_charity_sees_who_gave_anonymous_donors_included(
    client: ValidatingClient, session: Session, giving: Giving
) -> None:
    give(session, giving.donors[0], giving.project, 5_000, anonymous=True)
    give(session, giving.donors[1], giving.project, 2_000)
    session.commit()
    login(client, giving.staff.phone)
    page = client.get(f"/charity/manage/projects/{giving.project.id}")
    assert page.status_code == 200
    assert "捐赠人0" in page.text and "捐赠人1" in page.text
    assert "匿名" in page.text
    assert "¥50.00" in page.text
    assert page.text.count('action="/charity/manage/donations/') == 2  # a refund form each


# --- projects --------------------------------------------------------------------------------


def project_form(world: World, **changes: Any) -> dict[str, Any]:
    return {
        "title": "山区学校饮水工程",
        "summary": "为三所小学安装净水设备。",
        "region_id": str(world.village_a_region.id),
        "goal_yuan": "1000",
        "line_name": ["净水设备", "安装", "", "", ""],
        "line_yuan": ["600", "300.50", "", "", ""],
        **changes,
    }


def test_a_project_created_through_the_form(
    client: ValidatingClient, session: Session, world: World, giving: Giving
) -> None:
    login(client, giving.staff.phone)
    home = client.get("/charity/manage")
    assert f'action="/charity/manage/charities/{giving.charity.id}/projects"' in home.text
    answer = post(
        client, f"/charity/manage/charities/{giving.charity.id}/projects", project_form(world)
    )
    assert answer.status_code == 303, answer.text
    project_id = int(answer.headers["location"].rsplit("/", 1)[1])
    project = session.get(Project, project_id)
    assert project is not None and project.goal_fen == 100_000 and project.status == "draft"
    lines = service.budget_lines(session, project_id)
    assert [(line.name, line.budget_fen) for line in lines] == [
        ("净水设备", 60_000),
        ("安装", 30_050),
    ]
    page = client.get(answer.headers["location"])
    assert page.status_code == 200 and "山区学校饮水工程" in page.text

    # Opened, then enrolled into the running campaign, by the page's forms.
    opened = post(client, f"/charity/manage/projects/{project_id}/status", {"status": "open"})
    assert opened.status_code == 303
    enrolled = post(
        client,
        f"/charity/manage/projects/{project_id}/campaigns",
        {"campaign_id": str(giving.campaign.id)},
    )
    assert enrolled.status_code == 303
    assert [c.id for c in service.campaigns_of_project(session, project_id)] == [giving.campaign.id]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"goal_yuan": "abc"}, "goal_yuan"),
        ({"goal_yuan": "800"}, "line_yuan"),  # the budget lines come to ¥900.50
        ({"line_name": ["", "", "", "", ""], "line_yuan": ["", "", "", "", ""]}, "line_yuan"),
        ({"line_name": ["净水设备", "", "", "", ""]}, "line_name"),  # the second row unnamed
    ],
)
def test_a_refused_project_is_said_on_its_page_and_nothing_is_created(
    client: ValidatingClient,
    session: Session,
    world: World,
    giving: Giving,
    changes: dict[str, Any],
    field: str,
) -> None:
    login(client, giving.staff.phone)
    before = count(session, Project)
    answer = post(
        client,
        f"/charity/manage/charities/{giving.charity.id}/projects",
        project_form(world, **changes),
        headers=from_page("/charity/manage"),
    )
    assert answer.status_code == 422, answer.text[-2000:]
    assert 'id="form-problem-banner"' in answer.text
    assert f'"field": "{field}"' in answer.text
    assert count(session, Project) == before


def test_an_organisation_registers_as_a_charity_and_is_certified_by_the_department(
    client: ValidatingClient, session: Session, world: World, giving: Giving
) -> None:
    login(client, world.cadre_a.phone)
    home = client.get("/charity/manage")
    assert 'action="/charity/manage/charities"' in home.text
    bad = post(
        client,
        "/charity/manage/charities",
        {"organisation_id": str(world.village_a.id), "registration_number": "123"},
        headers=from_page("/charity/manage"),
    )
    assert bad.status_code == 422 and '"field": "registration_number"' in bad.text
    answer = post(
        client,
        "/charity/manage/charities",
        {
            "organisation_id": str(world.village_a.id),
            "registration_number": "53431322MJ00000012",
            "expense_approvers": "2",
        },
    )
    assert answer.status_code == 303
    charity = session.scalar(select(Charity).where(Charity.organisation_id == world.village_a.id))
    assert charity is not None and charity.certification == Certification.pending

    login(client, world.county_staff.phone)
    page = client.get("/charity/charities/certification")
    assert "53431322MJ00000012" in page.text
    certified = post(
        client, f"/charity/charities/{charity.id}/certification", {"certification": "certified"}
    )
    assert certified.status_code == 303
    session.refresh(charity)
    assert charity.certification == Certification.certified


# --- expenses --------------------------------------------------------------------------------


def test_an_expense_goes_from_draft_to_paid_by_forms_never_approved_by_its_drafter(
    client: ValidatingClient, session: Session, giving: Giving
) -> None:
    head = member(session, giving, "13799990003", "机构负责人", ["admin"])
    give(session, giving.donors[0], giving.project, 50_000)
    session.commit()
    line = service.budget_lines(session, giving.project.id)[0]
    page_url = f"/charity/manage/projects/{giving.project.id}"

    login(client, head.phone)
    drafted = post(
        client,
        f"{page_url}/expenses",
        {
            "budget_line_id": str(line.id),
            "amount_yuan": "120.50",
            "payee": "县城粮油店",
            "description": "十月食材",
            "invoice_number": "No.0012345",
        },
        files={"invoice": ("invoice.pdf", PDF, "application/pdf")},
    )
    assert drafted.status_code == 303, drafted.text[-2000:]
    expense = session.scalar(select(Expense).where(Expense.project_id == giving.project.id))
    assert expense is not None and expense.amount_fen == 12_050
    assert expense.status == ExpenseStatus.draft and expense.invoice_file_id is not None
    page = client.get(page_url)
    assert f'action="/charity/manage/expenses/{expense.id}/submit"' in page.text
    assert f'action="/charity/manage/expenses/{expense.id}/pay"' not in page.text

    assert post(client, f"/charity/manage/expenses/{expense.id}/submit", {}).status_code == 303
    session.refresh(expense)
    assert expense.status == ExpenseStatus.pending

    # The drafter holds APPROVE too, and is refused: the page says why.
    refused = post(
        client, f"/charity/manage/expenses/{expense.id}/approve", {}, headers=from_page(page_url)
    )
    assert refused.status_code == 403
    assert "这笔支出是您提交的，须由其他人审批" in refused.text
    session.refresh(expense)
    assert expense.status == ExpenseStatus.pending
    assert service.approvals_of(session, expense.id) == []

    for approver in giving.finance:
        login(client, approver.phone)
        page = client.get(page_url)
        assert f'action="/charity/manage/expenses/{expense.id}/approve"' in page.text
        # The approver opens the invoice scan the drafter uploaded.
        invoice = client.get(f"/charity/manage/expenses/{expense.id}/invoice")
        assert invoice.status_code == 200 and invoice.content.startswith(b"%PDF")
        answer = post(client, f"/charity/manage/expenses/{expense.id}/approve", {})
        assert answer.status_code == 303
    session.refresh(expense)
    assert expense.status == ExpenseStatus.approved

    login(client, head.phone)
    assert post(client, f"/charity/manage/expenses/{expense.id}/pay", {}).status_code == 303
    session.refresh(expense)
    session.refresh(giving.project)
    assert expense.status == ExpenseStatus.paid
    assert giving.project.spent_fen == 12_050
    page = client.get(page_url)
    assert f'action="/charity/manage/expenses/{expense.id}/' not in page.text


def test_a_refused_expense_form_keeps_nothing(
    client: ValidatingClient, session: Session, giving: Giving
) -> None:
    line = service.budget_lines(session, giving.project.id)[0]
    page_url = f"/charity/manage/projects/{giving.project.id}"
    login(client, giving.staff.phone)
    answer = post(
        client,
        f"{page_url}/expenses",
        {"budget_line_id": str(line.id), "amount_yuan": "abc", "payee": "x", "description": "y"},
        headers=from_page(page_url),
    )
    assert answer.status_code == 422 and '"field": "amount_yuan"' in answer.text
    assert count(session, Expense) == 0


# --- review ----------------------------------------------------------------------------------


def test_a_held_match_is_released_on_the_review_page(
    client: ValidatingClient, session: Session, giving: Giving
) -> None:
    newcomer = make_person(session, "13811112222", "新用户甲")
    donation = give(session, newcomer, giving.project, 100)
    [match] = service.matches_of_donation(session, donation.id)
    assert match.status == MatchStatus.frozen
    session.commit()

    login(client, giving.reviewer.phone)
    page = client.get("/charity/review")
    assert f'action="/charity/review/matches/{match.id}"' in page.text
    assert "新用户甲" not in page.text and "新***" in page.text  # the donor masked
    assert "新注册账户的小额捐赠" in page.text  # the signal in words
    answer = post(client, f"/charity/review/matches/{match.id}", {"decision": "release"})
    assert answer.status_code == 303
    session.refresh(match)
    assert match.status == MatchStatus.credited
    session.refresh(giving.project)
    assert giving.project.matched_fen == 100

    # Found again by its receipt number, and clawed back after an audit.
    found = client.get(f"/charity/review?code={donation.code}")
    assert f'action="/charity/review/matches/{match.id}/claw-back"' in found.text
    clawed = post(client, f"/charity/review/matches/{match.id}/claw-back", {"note": "审计发现刷单"})
    assert clawed.status_code == 303
    session.refresh(match)
    assert match.status == MatchStatus.clawed_back


# --- campaigns -------------------------------------------------------------------------------


def local(moment: Any) -> str:
    return str(moment.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M"))


def test_a_campaign_and_its_pot_are_created_by_forms_in_beijing_time(
    client: ValidatingClient, session: Session, giving: Giving, campaigner: Person
) -> None:
    login(client, campaigner.phone)
    answer = post(
        client,
        f"/charity/campaigns/manage/{giving.platform.id}/campaigns",
        {
            "name": "重阳敬老日",
            "kind": "giving_day",
            "starts_local": "2030-10-01T08:00",
            "ends_local": "2030-10-03T20:00",
        },
    )
    assert answer.status_code == 303, answer.text[-2000:]
    campaign = session.scalar(select(Campaign).where(Campaign.name == "重阳敬老日"))
    assert campaign is not None
    assert local(campaign.starts_at) == "2030-10-01T08:00"
    assert campaign.starts_at.utcoffset() in (None, timedelta(0))

    pot = post(
        client,
        f"/charity/campaigns/manage/campaigns/{campaign.id}/pots",
        {
            "sponsor": "爱心药店",
            "total_yuan": "5000",
            "rule": "random",
            "ratio_min_pct": "10",
            "ratio_max_pct": "100",
            "min_donation_yuan": "1",
            "cap_donor_day_yuan": "100",
        },
    )
    assert pot.status_code == 303, pot.text[-2000:]
    [added] = service.pots_of(session, campaign.id)
    assert (added.total_fen, added.cap_donor_day_fen, added.ratio_max_pct) == (500_000, 10_000, 100)
    page = client.get("/charity/campaigns/manage")
    assert "爱心药店" in page.text and "¥5000.00" in page.text


def test_a_campaign_ending_before_it_starts_is_refused_and_not_created(
    client: ValidatingClient, session: Session, giving: Giving, campaigner: Person
) -> None:
    login(client, campaigner.phone)
    before = count(session, Campaign)
    answer = post(
        client,
        f"/charity/campaigns/manage/{giving.platform.id}/campaigns",
        {
            "name": "倒序活动",
            "kind": "giving_day",
            "starts_local": "2030-10-03T08:00",
            "ends_local": "2030-10-01T08:00",
        },
        headers=from_page("/charity/campaigns/manage"),
    )
    assert answer.status_code == 422
    assert 'id="form-problem-banner"' in answer.text
    assert '"field": "ends_local"' in answer.text
    assert count(session, Campaign) == before


# --- community funds -------------------------------------------------------------------------


def test_a_proposal_sent_and_decided_through_the_forms(
    client: ValidatingClient, session: Session, world: World, giving: Giving, fund_call: FundCall
) -> None:
    login(client, giving.staff.phone)
    page = client.get(f"/charity/calls/{fund_call.id}")
    assert f'<option value="{giving.ngo.id}">' in page.text
    sent = post(
        client,
        f"/charity/calls/{fund_call.id}/proposals",
        {
            "organisation_id": str(giving.ngo.id),
            "title": "老人助餐",
            "plan": "每周三次为独居老人送餐。",
            "requested_yuan": "300",
        },
    )
    assert sent.status_code == 303, sent.text[-2000:]
    proposal = session.scalar(select(Proposal).where(Proposal.call_id == fund_call.id))
    assert proposal is not None and proposal.requested_fen == 30_000

    login(client, world.cadre_b.phone)
    keeper = client.get("/charity/funds/manage")
    assert f'action="/charity/funds/manage/proposals/{proposal.id}/decision"' in keeper.text
    declined = post(
        client,
        f"/charity/funds/manage/proposals/{proposal.id}/decision",
        {"decision": "decline", "granted_yuan": "300", "note": "预算已满"},
    )
    assert declined.status_code == 303, declined.text[-2000:]
    session.refresh(proposal)
    assert proposal.status == ProposalStatus.declined


def test_a_call_closing_before_it_opens_is_refused(
    client: ValidatingClient, session: Session, world: World, fund_call: FundCall
) -> None:
    login(client, world.cadre_b.phone)
    before = count(session, FundCall)
    answer = post(
        client,
        f"/charity/funds/manage/funds/{fund_call.fund_id}/calls",
        {
            "title": "倒序征集",
            "budget_yuan": "100",
            "opens_local": "2030-10-03T08:00",
            "closes_local": "2030-10-01T08:00",
        },
        headers=from_page("/charity/funds/manage"),
    )
    assert answer.status_code == 422 and '"field": "closes_local"' in answer.text
    assert count(session, FundCall) == before


def test_an_ended_quadratic_pot_is_shared_out_by_its_button(
    client: ValidatingClient, session: Session, giving: Giving, campaigner: Person
) -> None:
    campaign, pot = quadratic_pot(session, giving)
    service.enrol(session, acting(giving.staff), campaign.id, giving.project.id)
    for donor in giving.donors[:3]:
        give(session, donor, giving.project, 1_000)
    session.commit()
    login(client, campaigner.phone)
    running = client.get("/charity/campaigns/manage")
    assert f'action="/charity/campaigns/manage/pots/{pot.id}/share-out"' not in running.text

    # Ended just now, after the donations were paid.
    campaign.ends_at = utcnow()
    session.commit()
    time.sleep(0.01)
    ended = client.get("/charity/campaigns/manage")
    assert f'action="/charity/campaigns/manage/pots/{pot.id}/share-out"' in ended.text
    session.refresh(giving.project)
    matched_before = giving.project.matched_fen
    answer = post(client, f"/charity/campaigns/manage/pots/{pot.id}/share-out", {})
    assert answer.status_code == 303
    session.refresh(giving.project)
    share = giving.project.matched_fen - matched_before
    assert 0 < share <= 10_000
    after = client.get("/charity/campaigns/manage")
    assert f'action="/charity/campaigns/manage/pots/{pot.id}/share-out"' not in after.text
    assert f"{giving.project.title}: ¥{share // 100}.{share % 100:02d}" in after.text
