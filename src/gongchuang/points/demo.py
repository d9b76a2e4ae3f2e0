"""A year of plausible points governance in the demo villages, made with the real services.

History is replayed week by week: records are reported and approved with past timestamps, put
on that week's notice, and `settle_due` runs at the moment each notice closed, so balances,
rankings and dashboard aggregates come from the same code that runs in production. The current
weeks are left live: records waiting for approval, a notice still open, an open objection.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gongchuang.core import organisations
from gongchuang.core.clock import SHANGHAI, local_midnight, utcnow
from gongchuang.core.models import Membership, Organisation, Person
from gongchuang.core.permissions import SYSTEM, Principal
from gongchuang.points import service, shop
from gongchuang.points.models import (
    Approval,
    HouseholdMember,
    Objection,
    PointRecord,
    PointsAccount,
    PointsEntry,
    PublicNotice,
    RecordStatus,
    RewardFundEntry,
    RuleCatalogue,
)

GOODS = [
    ("肥皂", 5, 300, 200),
    ("洗衣粉", 10, 800, 120),
    ("食用油（1升）", 30, 1800, 60),
    ("大米（5公斤）", 50, 3500, 40),
    ("毛巾", 8, 600, 100),
    ("电饭煲", 200, 15000, 5),
]
NOTES = ["", "", "", "村组统一组织", "有照片为证", "邻里反映", "网格员核实"]
OBJECTIONS = [
    "当天我也在场，他没有参加劳动。",
    "这件事是两家一起做的，分数不应只记一户。",
    "照片不是当天拍的。",
]
ANSWERS_DISMISSED = "经村委会核实，记录属实，驳回异议。"
ANSWERS_UPHELD = "经核实，异议成立，该记录予以撤销。"


def _people(session: Session, village: Organisation) -> list[tuple[Person, list[str]]]:
    rows = session.execute(
        select(Person, Membership.roles)
        .join(Membership, Membership.person_id == Person.id)
        .where(Membership.organisation_id == village.id)
        .order_by(Person.id)
    ).all()
    return [(p, list(r or [])) for p, r in rows]


def _principal(person: Person) -> Principal:
    return Principal(person_id=person.id, name=person.name, via="demo")


def load_demo(
    session: Session, rng: random.Random, villages: list[Organisation], weeks: int = 52
) -> str:
    """`villages[0]` keeps households in the Youxiqiao way, as does `villages[1]`; the last
    keeps personal accounts with quarterly resets (the Guangdong pilot)."""
    total = 0
    for index, village in enumerate(villages):
        template = "guangdong" if index == len(villages) - 1 and index > 0 else "youxiqiao"
        total += _village(session, rng, village, template, weeks)
    return f"points: {len(villages)} villages, {total} records"


def _village(
    session: Session, rng: random.Random, village: Organisation, template: str, weeks: int
) -> int:
    catalogue = service.create_catalogue(session, SYSTEM, village, template_code=template)
    members = _people(session, village)
    cadres = [p for p, roles in members if {"cadre", "admin"} & set(roles)]
    leaders = [p for p, roles in members if "group_leader" in roles]
    plain = [p for p, roles in members if roles == ["member"]]
    if not cadres:
        cadres = [_promote(session, village, plain.pop(0), "cadre")]
    if template == "youxiqiao" and not leaders:
        leaders = [_promote(session, village, plain.pop(0), "group_leader")]
    villagers = [p for p, _ in members]
    if template == "youxiqiao":
        _households(session, rng, village, villagers)
    service.update_settings(
        session, SYSTEM, village, min_redeem_balance=10 if template == "youxiqiao" else 0
    )
    for name, price, cost, stock in GOODS:
        shop.add_item(
            session,
            SYSTEM,
            village,
            name=name,
            price_points=price,
            unit_cost_fen=cost,
            stock=stock,
        )
    shop.add_donation(
        session, SYSTEM, village, amount_fen=3_000_000, donor="新化县乡村振兴基金（示范）"
    )
    shop.add_donation(session, SYSTEM, village, amount_fen=500_000, donor="在外乡贤刘先生（示范）")
    rules = list(service.current_rules(session, catalogue))
    now = utcnow()
    today = now.astimezone(SHANGHAI).date()
    approvers = catalogue.approval_roles
    count = 0
    for week in range(weeks, -1, -1):
        week_start = today - timedelta(days=7 * week + 6)
        live = week == 0
        for person in villagers:
            # Not everyone takes part every week; the documented demo logins are keen.
            if rng.random() > (0.9 if person.phone.startswith("138") else 0.55):
                continue
            for _ in range(rng.choice([1, 1, 2])):
                rule = rng.choice(rules)
                if rule.points < 0 and rng.random() < 0.6:
                    continue  # deductions are rarer than good deeds
                day = week_start + timedelta(days=rng.randrange(7))
                if day > today:
                    day = today
                if (
                    rule.cap_count is not None
                    and service._counted_against_cap(session, rule, person.id, day)
                    >= rule.cap_count
                ):
                    continue
                household = service.household_of(session, village.id, person.id)
                if catalogue.account_unit == "household" and household is None:
                    continue
                reporter = (
                    person
                    if "self" in rule.reporters and rng.random() < 0.6
                    else rng.choice(cadres + leaders)
                )
                record = PointRecord(
                    organisation_id=village.id,
                    rule_id=rule.id,
                    rule_code=rule.code,
                    category_id=rule.category_id,
                    person_id=person.id,
                    household_id=household.id if household else None,
                    points=rule.points,
                    original_points=rule.points,
                    occurred_on=day,
                    note=rng.choice(NOTES),
                    reported_by_person_id=reporter.id,
                    on_behalf=reporter.id != person.id and rng.random() < 0.1,
                    status=RecordStatus.pending,
                    submitted_at=local_midnight(day) + timedelta(hours=rng.randint(8, 20)),
                )
                session.add(record)
                count += 1
        session.flush()
        week_records = list(
            session.scalars(
                select(PointRecord).where(
                    PointRecord.organisation_id == village.id,
                    PointRecord.status == RecordStatus.pending,
                )
            )
        )
        if live:
            _leave_live(session, rng, village, catalogue, week_records, cadres, leaders)
            continue
        approved_at = local_midnight(week_start + timedelta(days=7)) + timedelta(hours=10)
        notice = PublicNotice(
            organisation_id=village.id,
            number=f"{approved_at.astimezone(SHANGHAI):%Y%m%d}",
            opens_at=approved_at,
            closes_at=local_midnight(
                approved_at.astimezone(SHANGHAI).date() + timedelta(days=catalogue.notice_days + 1)
            ),
        )
        session.add(notice)
        session.flush()
        for record in week_records:
            deciders = _deciders(approvers, cadres, leaders, record)
            if deciders is None:
                record.status = RecordStatus.rejected
                continue
            if rng.random() < 0.03:
                record.status = RecordStatus.rejected
                session.add(
                    Approval(
                        record_id=record.id,
                        step=0,
                        role=approvers[0],
                        decided_by_person_id=deciders[0].id,
                        decision="reject",
                        reason="与事实不符",
                        decided_at=approved_at,
                    )
                )
                continue
            for step, decider in enumerate(deciders):
                session.add(
                    Approval(
                        record_id=record.id,
                        step=step,
                        role=approvers[step],
                        decided_by_person_id=decider.id,
                        decision="approve",
                        decided_at=approved_at,
                    )
                )
            record.status = RecordStatus.in_notice
            record.approval_step = len(approvers) - 1
            record.approved_at = approved_at
            record.notice_id = notice.id
        session.flush()
        _past_objection(session, rng, village, notice, cadres)
        service.settle_due(session, now=notice.closes_at)
        _redemptions(session, rng, village, notice.closes_at + timedelta(days=1))
    return count


def _promote(session: Session, village: Organisation, person: Person, role: str) -> Person:
    membership = session.scalar(
        select(Membership).where(
            Membership.person_id == person.id, Membership.organisation_id == village.id
        )
    )
    if membership is None:
        raise LookupError(f"{person.name} is not a member of {village.name}")
    organisations.set_roles(session, SYSTEM, village, membership.id, [role])
    return person


def _deciders(
    approvers: list[str], cadres: list[Person], leaders: list[Person], record: PointRecord
) -> list[Person] | None:
    chosen: list[Person] = []
    for role in approvers:
        pool = cadres if role == "cadre" else leaders
        candidates = [
            p
            for p in pool
            if p.id not in (record.person_id, record.reported_by_person_id) and p not in chosen
        ]
        if not candidates:
            return None
        chosen.append(candidates[record.id % len(candidates)])
    return chosen


def _households(
    session: Session, rng: random.Random, village: Organisation, villagers: list[Person]
) -> None:
    # The documented demo logins (138...) each head a household of their own.
    pending = [p for p in villagers if not p.phone.startswith("138")]
    for person in villagers:
        if person.phone.startswith("138"):
            service.create_household(
                session, SYSTEM, village, name=f"{person.name}户", member_phones=[person.phone]
            )
    while pending:
        size = min(len(pending), rng.choice([1, 2, 3, 3, 4]))
        group, pending = pending[:size], pending[size:]
        service.create_household(
            session,
            SYSTEM,
            village,
            name=f"{group[0].name}户",
            member_phones=[p.phone for p in group],
        )


def _past_objection(
    session: Session,
    rng: random.Random,
    village: Organisation,
    notice: PublicNotice,
    cadres: list[Person],
) -> None:
    if rng.random() > 0.3:
        return
    records = list(
        session.scalars(select(PointRecord).where(PointRecord.notice_id == notice.id).limit(50))
    )
    if not records:
        return
    record = rng.choice(records)
    others = [
        p for p, _ in _people(session, village) if p.id != record.person_id and p not in cadres
    ]
    if not others:
        return
    objector = rng.choice(others)
    decider = next((c for c in cadres if c.id != record.person_id), None)
    if decider is None:
        return
    uphold = rng.random() < 0.25
    objection = Objection(
        organisation_id=village.id,
        record_id=record.id,
        objector_person_id=objector.id,
        reason=rng.choice(OBJECTIONS),
        status="upheld" if uphold else "dismissed",
        answer=ANSWERS_UPHELD if uphold else ANSWERS_DISMISSED,
        adjusted_points=0 if uphold else None,
        decided_by_person_id=decider.id,
        raised_at=notice.opens_at + timedelta(days=2),
        decided_at=notice.opens_at + timedelta(days=4),
    )
    session.add(objection)
    if uphold:
        record.status = RecordStatus.cancelled
    session.flush()


def _redemptions(session: Session, rng: random.Random, village: Organisation, at: datetime) -> None:
    """A few households spend their points each week, as real shops see."""
    items = shop.items(session, village)
    accounts = service.accounts_by_id(session, village)
    catalogue = service.get_catalogue(session, village)
    for account in accounts:
        if rng.random() > 0.12 or account.balance < max(catalogue.min_redeem_balance, 5):
            continue
        affordable = [i for i in items if i.price_points <= account.balance and i.stock > 0]
        if not affordable:
            continue
        item = rng.choice(affordable)
        holder = _holder_person(session, account)
        if holder is None:
            continue
        redemption = shop.redeem(session, _principal(holder), village, account, item, 1)
        redemption.status = "handed_over"
        redemption.created_at = at
        redemption.handed_over_at = at + timedelta(hours=1)
        for model in (PointsEntry, RewardFundEntry):
            session.execute(
                update(model)
                .where(model.redemption_id == redemption.id)
                .values(created_at=at)
                .execution_options(synchronize_session=False)
            )
    session.flush()


def _holder_person(session: Session, account: PointsAccount) -> Person | None:
    if account.person_id:
        return session.get(Person, account.person_id)
    member = session.scalar(
        select(HouseholdMember).where(HouseholdMember.household_id == account.household_id)
    )
    return session.get(Person, member.person_id) if member else None


def _leave_live(
    session: Session,
    rng: random.Random,
    village: Organisation,
    catalogue: RuleCatalogue,
    records: list[PointRecord],
    cadres: list[Person],
    leaders: list[Person],
) -> None:
    """This week: half approved onto an open notice (one with an open objection), the rest
    still waiting for the approvers."""
    for index, record in enumerate(records):
        if index % 2:
            continue  # left pending for the demo approvers
        deciders = _deciders(catalogue.approval_roles, cadres, leaders, record)
        if deciders is None:
            continue
        for decider in deciders:
            service.decide(session, _principal(decider), village, record, "approve")
    in_notice = [r for r in records if r.status == RecordStatus.in_notice]
    if in_notice:
        record = in_notice[0]
        objector = next(
            (p for p, _ in _people(session, village) if p.id not in (record.person_id,)), None
        )
        if objector is not None:
            service.raise_objection(
                session, _principal(objector), village, record, rng.choice(OBJECTIONS)
            )
