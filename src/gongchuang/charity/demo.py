"""Demo data for charity with matched giving: a county NGO certified by the county department,
three projects (one closed after raising its money), the platform's 99公益日 giving day, its
daily 小红花 match and a regional special already shared out by quadratic funding; about eighty
paid donations (a few anonymous, some with messages), one match frozen for review, one donation
refunded, an expense paid after two approvals and one waiting, and a village community fund
whose call has granted one proposal and holds another.

Everything goes through `charity.service`; the only direct writes move timestamps backwards,
so that last week's donations fall in the regional special's window, which ended yesterday."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gongchuang.charity import service
from gongchuang.charity.models import Campaign, Donation, Match, MatchStatus, Pot, Project
from gongchuang.charity.schemas import (
    BudgetLineIn,
    CampaignIn,
    CertificationIn,
    CharityIn,
    DonateIn,
    ExpenseIn,
    FundCallIn,
    FundIn,
    GrantReportIn,
    PotIn,
    ProjectIn,
    ProjectStatusIn,
    ProposalDecisionIn,
    ProposalIn,
    RecurringIn,
    RefundDonationIn,
)
from gongchuang.core import organisations, payments, people
from gongchuang.core.clock import utcnow
from gongchuang.core.models import (
    Membership,
    Organisation,
    OrganisationKind,
    Payment,
    Person,
    Region,
)
from gongchuang.core.permissions import SYSTEM, Principal

NGO_NAME = "新化县乡村助学公益基金会"
REGISTRATION = "53431322MJY0012345"
PLATFORM_NAME = "共创公益平台"
TEAM_NAME = "青山示范镇志愿服务队"

MESSAGES = [
    "希望孩子们吃得饱、吃得好！",
    "一点心意，加油！",
    "从新化走出去的人，支持家乡。",
    "愿每个孩子都有书读。",
    "天冷了，给孩子们添件衣服。",
    "",
    "",
    "",
]


def _as(person: Person) -> Principal:
    return Principal(
        person_id=person.id, name=person.name, is_platform_admin=person.is_platform_admin
    )


def _pay(session: Session, donation: Donation) -> Donation:
    payment = session.get(Payment, donation.payment_id)
    if payment is None:
        raise LookupError("the demo donation's payment")
    payments.sandbox_pay(session, payment.out_trade_no, payer_id=donation.donor_id)
    session.refresh(donation)
    return donation


def _give(
    session: Session, donor: Person, project: Project, yuan: float, **terms: object
) -> Donation:
    donation = service.donate(
        session,
        _as(donor),
        project.id,
        DonateIn(amount_fen=round(yuan * 100), **terms),
    )
    return _pay(session, donation)


def _ensure_role(session: Session, organisation: Organisation, person: Person, role: str) -> None:
    """Give `person` the role in `organisation`, keeping the roles they already hold there."""
    membership = session.scalar(
        select(Membership).where(
            Membership.organisation_id == organisation.id, Membership.person_id == person.id
        )
    )
    if membership is None:
        organisations.add_member(
            session, SYSTEM, organisation, phone=person.phone, roles=[role], check=False
        )
    elif role not in membership.roles:
        organisations.set_roles(
            session, SYSTEM, organisation, membership.id, [*membership.roles, role]
        )


def _organisation(session: Session, name: str) -> Organisation | None:
    return session.scalar(select(Organisation).where(Organisation.name == name))


def load_demo(
    session: Session,
    rng: random.Random,
    *,
    accounts: dict[str, Person],
    county: Region,
    village: Organisation,
    department: Organisation,
    donors: list[Person],
) -> str:
    """`accounts`: the README's logins by phone; `village`: the first demo village (its cadre
    keeps the community fund); `department`: the county department whose staff certify;
    `donors`: demo people who give."""
    now = utcnow()
    # A small demo world (the tests') has fewer people: they give more than once.
    givers = [donors[index % len(donors)] for index in range(80)]
    admin = accounts["13800000000"]
    cadre = accounts["13800000001"]
    villager = accounts["13800000002"]
    certifier = accounts["13800000003"]
    social_worker = accounts["13800000007"]
    staff = _as(social_worker)

    # --- the charity, certified by the county department ---------------------------------------
    ngo = organisations.create_organisation(
        session,
        SYSTEM,
        name=NGO_NAME,
        kind=OrganisationKind.ngo,
        region=county,
        description="在新化县山区学校开展营养午餐、图书角和冬衣项目（示范数据）。",
    )
    _ensure_role(session, ngo, social_worker, "staff")
    finance = [
        people.register_person(session, SYSTEM, name=name, phone=phone, home_region_id=county.id)
        for name, phone in (("蒋会计", "13700000301"), ("曾出纳", "13700000302"))
    ]
    for person in finance:
        _ensure_role(session, ngo, person, "finance")
    _ensure_role(session, department, certifier, "department_staff")
    charity = service.register_charity(
        session,
        staff,
        CharityIn(organisation_id=ngo.id, registration_number=REGISTRATION, expense_approvers=2),
    )
    service.certify(session, _as(certifier), charity.id, CertificationIn(certification="certified"))

    def project(title: str, summary: str, goal_yuan: int, lines: list[tuple[str, int]]) -> Project:
        created = service.create_project(
            session,
            staff,
            charity.id,
            ProjectIn(
                title=title,
                summary=summary,
                region_id=village.region_id,
                goal_fen=goal_yuan * 100,
                budget_lines=[BudgetLineIn(name=n, budget_fen=y * 100) for n, y in lines],
            ),
        )
        service.set_project_status(session, staff, created.id, ProjectStatusIn(status="open"))
        return created

    lunch = project(
        "乡村儿童营养午餐",
        "为青山示范镇三所村小的孩子提供每天一顿热乎的营养午餐，每餐标准5元。",
        200_000,
        [("食材", 140_000), ("厨房设备", 40_000), ("运营", 20_000)],
    )
    books = project(
        "留守儿童图书角",
        "在村小和村部建图书角，每个图书角配500本适龄图书和书架。",
        50_000,
        [("图书采购", 40_000), ("书架", 10_000)],
    )
    coats = project(
        "山区学校冬衣",
        "为山区学校的孩子每人送一件冬季棉衣，筹款已结束，棉衣已发放。",
        80_000,
        [("棉衣采购", 75_000), ("物流", 5_000)],
    )

    # --- the platform's campaigns ---------------------------------------------------------------
    platform = session.scalar(
        select(Organisation).where(Organisation.kind == OrganisationKind.platform).limit(1)
    ) or organisations.create_organisation(
        session,
        SYSTEM,
        name=PLATFORM_NAME,
        kind=OrganisationKind.platform,
        region=county,
        description="平台运营方：组织公益日、配捐和区域专场（示范数据）。",
    )
    _ensure_role(session, platform, admin, "admin")
    _ensure_role(session, platform, admin, "reviewer")
    operator = _as(admin)

    # The regional special ran last week: open while last week's donations come in (they are
    # then dated back into its window), closed yesterday, shared out at the end.
    regional = service.create_campaign(
        session,
        operator,
        platform.id,
        CampaignIn(
            name="新化县公益专场",
            kind="regional",
            description="新化县的公益项目专场：小额捐赠人越多，分到的配捐越多（二次方配捐）。",
            region_id=county.id,
            starts_at=now - timedelta(days=8),
            ends_at=now + timedelta(hours=1),
        ),
    )
    quadratic_pot = service.add_pot(
        session,
        operator,
        regional.id,
        PotIn(sponsor="新化县慈善总会", total_fen=1_000_000, rule="quadratic"),
    )
    for enrolled in (lunch, books, coats):
        service.enrol(session, staff, regional.id, enrolled.id)
    last_week: list[Donation] = []
    for donor in givers[:30]:
        target = rng.choice([lunch, books, coats, coats])
        last_week.append(_give(session, donor, target, rng.choice([20, 50, 100, 200, 500])))
    # Two large gifts from people of the county working elsewhere (乡贤) for the coats.
    last_week.append(
        _give(session, givers[28], coats, 40_000, anonymous=True, message="在外乡贤，心系家乡。")
    )
    last_week.append(_give(session, givers[29], coats, 30_000, message="给孩子们添件冬衣。"))
    for donation in last_week:
        at = now - timedelta(days=rng.randint(2, 7), minutes=rng.randint(0, 600))
        session.execute(
            update(Donation)
            .where(Donation.id == donation.id)
            .values(created_at=at, paid_at=at + timedelta(minutes=2))
        )
    session.execute(
        update(Campaign).where(Campaign.id == regional.id).values(ends_at=now - timedelta(days=1))
    )
    # The winter coats raised what they needed: the project closed.
    service.set_project_status(session, staff, coats.id, ProjectStatusIn(status="closed"))

    giving_day = service.create_campaign(
        session,
        operator,
        platform.id,
        CampaignIn(
            name="99公益日",
            kind="giving_day",
            description="一年一度的公益日：捐款随机配捐10%到100%。",
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=1),
        ),
    )
    service.add_pot(
        session,
        operator,
        giving_day.id,
        PotIn(
            sponsor="腾讯公益配捐",
            total_fen=10_000_000,
            rule="random",
            ratio_min_pct=10,
            ratio_max_pct=100,
            cap_donor_day_fen=10_000,
            cap_project_fen=2_000_000,
        ),
    )
    daily = service.create_campaign(
        session,
        operator,
        platform.id,
        CampaignIn(
            name="小红花日配捐",
            kind="daily_match",
            description="每天500元配捐额度，每笔捐款最多配捐1元。",
            starts_at=now - timedelta(days=30),
            ends_at=now + timedelta(days=30),
        ),
    )
    service.add_pot(
        session,
        operator,
        daily.id,
        PotIn(
            sponsor="小红花基金",
            total_fen=3_000_000,
            rule="fixed",
            ratio_min_pct=100,
            daily_budget_fen=50_000,
            min_donation_fen=1,
            max_match_fen=100,
        ),
    )
    for enrolled in (lunch, books):
        service.enrol(session, staff, giving_day.id, enrolled.id)
    service.enrol(session, staff, daily.id, lunch.id)

    # --- today's giving ----------------------------------------------------------------------
    today: list[Donation] = [
        _give(session, givers[30], lunch, 10_000, anonymous=True, message="匿名支持营养午餐。")
    ]
    for index, donor in enumerate(givers[31:80]):
        today.append(
            _give(
                session,
                donor,
                rng.choice([lunch, lunch, books]),
                rng.choice([10, 20, 50, 100, 200, 500, 1000]),
                anonymous=index % 7 == 3,
                message=rng.choice(MESSAGES),
            )
        )
    # 王大妈 gives to the reading corner twice (the second gift is not matched again: one match
    # per donor and project); her first gift to the lunches is left to the browser journey.
    today.append(_give(session, villager, books, 50, message="村里的孩子，大家一起帮。"))
    today.append(_give(session, villager, books, 20))
    service.start_recurring(
        session, _as(villager), lunch.id, RecurringIn(amount_fen=3_000, day_of_month=15)
    )
    # A refund: the donor asked for their gift back (its match goes back to the pot).
    service.refund_donation(
        session, staff, today[2].code, RefundDonationIn(reason="捐赠人申请退款：重复捐赠")
    )
    # An account registered minutes ago gives tiny amounts: the daily match is frozen.
    newcomer = people.register_person(
        session, SYSTEM, name="新用户", phone="13700000309", home_region_id=county.id
    )
    _give(session, newcomer, lunch, 0.5)
    _give(session, newcomer, books, 0.2)

    # --- spending -------------------------------------------------------------------------------
    food, kitchen, _running = service.budget_lines(session, lunch.id)
    bought = service.create_expense(
        session,
        staff,
        lunch.id,
        ExpenseIn(
            budget_line_id=food.id,
            amount_fen=1_200_000,
            payee="新化县青山示范镇粮油店",
            description="3月食材采购：大米、食用油、鸡蛋和蔬菜，三所村小共420名学生。",
            invoice_number="43002600000012345678",
        ),
    )
    service.submit_expense(session, staff, bought.id)
    for person in finance:
        service.approve_expense(session, _as(person), bought.id)
    service.pay_expense(session, staff, bought.id)
    stove = service.create_expense(
        session,
        staff,
        lunch.id,
        ExpenseIn(
            budget_line_id=kitchen.id,
            amount_fen=350_000,
            payee="新化县示范厨具店",
            description="溪口村小厨房更换燃气灶和消毒柜。",
            invoice_number="43002600000012345999",
        ),
    )
    service.submit_expense(session, staff, stove.id)
    service.approve_expense(session, _as(finance[0]), stove.id)

    # --- the village's community fund ----------------------------------------------------------
    keeper = _as(cadre)
    community = service.create_fund(
        session,
        keeper,
        FundIn(
            organisation_id=village.id,
            name="油茶示范村社区基金",
            description="村民和在外乡贤捐助，支持村里的社区微项目。",
            region_id=village.region_id,
        ),
    )
    villagers = list(
        session.scalars(
            select(Person)
            .join(Membership, Membership.person_id == Person.id)
            .where(Membership.organisation_id == village.id, Person.phone.like("139%"))
            .order_by(Person.id)
            .limit(12)
        )
    )
    for person in villagers:
        contribution = service.donate_to_fund(
            session,
            _as(person),
            community.id,
            DonateIn(amount_fen=rng.choice([200, 500, 1000]) * 100),
        )
        _pay(session, contribution)
    received = service.fund(session, community.id).received_fen
    if received < 400_000:
        # The village's own cadre tops it up, so that the grant below is covered.
        top_up = service.donate_to_fund(
            session, keeper, community.id, DonateIn(amount_fen=400_000 - received)
        )
        _pay(session, top_up)
    call = service.open_call(
        session,
        keeper,
        community.id,
        FundCallIn(
            title="2027年社区微项目",
            description="每个项目最多资助5000元，用于村里的公共服务和环境改善。",
            budget_fen=2_000_000,
            opens_at=now - timedelta(days=3),
            closes_at=now + timedelta(days=27),
        ),
    )
    team = _organisation(session, TEAM_NAME)
    if team is None:
        raise LookupError("the volunteer demo's team")
    _ensure_role(session, team, social_worker, "staff")
    granted = service.submit_proposal(
        session,
        staff,
        call.id,
        ProposalIn(
            organisation_id=team.id,
            title="独居老人助餐送餐",
            plan="志愿者每周两次为村里12位独居老人送餐、测血压、聊聊天。",
            requested_fen=300_000,
        ),
    )
    service.decide_proposal(
        session,
        keeper,
        granted.id,
        ProposalDecisionIn(decision="grant", granted_fen=300_000, note="村民代表会议通过。"),
    )
    service.report_on_grant(
        session,
        staff,
        granted.id,
        GrantReportIn(text="第一个月送餐16次，购买保温餐盒和血压计。", spent_fen=86_000),
    )
    service.submit_proposal(
        session,
        staff,
        call.id,
        ProposalIn(
            organisation_id=ngo.id,
            title="村小周末读书会",
            plan="每周六在村部图书角办读书会，志愿者带孩子们读书、写读后感。",
            requested_fen=200_000,
        ),
    )

    # --- the regional special's end -------------------------------------------------------------
    shares = service.share_out(session, operator, quadratic_pot.id)
    frozen = session.scalar(
        select(Match.id).where(Match.status == MatchStatus.frozen, Match.project_id == lunch.id)
    )
    pots = len(
        list(
            session.scalars(
                select(Pot.id).where(Pot.campaign_id.in_([regional.id, giving_day.id, daily.id]))
            )
        )
    )
    return (
        f"charity: {NGO_NAME}, 3 projects, 3 campaigns ({pots} pots), "
        f"{len(last_week) + len(today) + 2} donations, "
        f"{'1 match' if frozen else 'no match'} frozen for review, "
        f"¥{sum(shares.values()) // 100} shared out by quadratic funding"
    )
