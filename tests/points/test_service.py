"""The points rules as villagers and cadres meet them, through the real services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core import audit, files
from gongchuang.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from gongchuang.core.models import AuditEntry
from gongchuang.core.permissions import SYSTEM
from gongchuang.points import reports, service, shop
from gongchuang.points.models import (
    MonthlyParticipation,
    MonthlyStat,
    PointRecord,
    PointsEntry,
    PublicNotice,
    RecordStatus,
)
from tests.points.conftest import PointsWorld
from tests.support.principals import acting


def balance_of(session: Session, pw: PointsWorld, person) -> int:
    account = service.account_of_person(session, pw.village, person.id, create=False)
    return account.balance if account else 0


def close_notices(session: Session, record: PointRecord) -> PublicNotice:
    """As if the notice period had just run out."""
    notice = session.get(PublicNotice, record.notice_id)
    assert notice is not None
    notice.closes_at = service.utcnow() - timedelta(seconds=1)
    service.settle_due(session)
    return notice


def test_the_whole_cycle_reaches_the_household_balance(session: Session, pw: PointsWorld) -> None:
    record = pw.report(session, pw.villager)
    assert record.status == RecordStatus.pending and record.household_id is not None
    service.decide(session, acting(pw.leader), pw.village, record, "approve")
    assert record.status == RecordStatus.pending and record.approval_step == 1
    service.decide(session, acting(pw.cadre), pw.village, record, "approve")
    assert record.status == RecordStatus.in_notice
    notice = session.get(PublicNotice, record.notice_id)
    assert notice is not None
    assert notice.closes_at - notice.opens_at >= timedelta(days=7)
    # Nothing settles while the notice is up.
    assert service.settle_due(session, now=notice.closes_at - timedelta(seconds=1)).records == 0
    report = service.settle_due(session, now=notice.closes_at)
    assert (report.records, report.points, report.notices) == (1, 3, 1)
    assert (
        record.status == RecordStatus.settled
        or session.get(PointRecord, record.id).status == RecordStatus.settled
    )
    assert balance_of(session, pw, pw.villager) == 3
    # The ledger explains the balance; the aggregates and the audit chain saw it.
    entries = session.scalars(select(PointsEntry).where(PointsEntry.record_id == record.id)).all()
    assert [(e.kind, e.delta) for e in entries] == [("settlement", 3)]
    assert session.scalar(select(func.sum(MonthlyStat.points))) == 3
    assert session.scalar(select(func.sum(MonthlyParticipation.participants))) == 1
    assert (
        session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "points.record.settle")
        )
        == 1
    )
    # Settling again does nothing twice.
    assert service.settle_due(session, now=notice.closes_at + timedelta(days=1)).records == 0
    assert balance_of(session, pw, pw.villager) == 3
    audit.seal(session, wait=True)
    assert audit.verify_chain(session).ok


def test_household_members_count_to_one_account(session: Session, pw: PointsWorld) -> None:
    for person in (pw.neighbour, pw.shopkeeper):
        pw.approve(session, pw.report(session, person))
    record = session.scalars(select(PointRecord)).first()
    close_notices(session, record)
    assert balance_of(session, pw, pw.neighbour) == balance_of(session, pw, pw.shopkeeper) == 6


def test_approval_rules(session: Session, pw: PointsWorld) -> None:
    record = pw.report(session, pw.villager)
    with pytest.raises(PermissionDenied):  # level 1 belongs to the group leader
        service.decide(session, acting(pw.cadre), pw.village, record, "approve")
    own = pw.report(session, pw.leader)
    with pytest.raises(PermissionDenied):  # nobody approves their own record
        service.decide(session, acting(pw.leader), pw.village, own, "approve")
    with pytest.raises(InvalidInput):  # a rejection needs a reason
        service.decide(session, acting(pw.leader), pw.village, record, "reject", "")
    assert record.status == RecordStatus.pending
    service.decide(session, acting(pw.leader), pw.village, record, "return", "照片看不清")
    assert record.status == RecordStatus.returned
    with pytest.raises(Conflict):
        service.decide(session, acting(pw.leader), pw.village, record, "approve")
    service.resubmit(
        session,
        acting(pw.villager),
        pw.village,
        record,
        note="补充了照片",
        evidence_file_id=pw.photo(session, pw.villager),
    )
    assert (record.status, record.approval_step) == (RecordStatus.pending, 0)
    service.decide(session, acting(pw.leader), pw.village, record, "reject", "不属实")
    assert record.status == RecordStatus.rejected


def test_one_person_cannot_approve_two_levels(session: Session, pw: PointsWorld) -> None:
    service.update_settings(session, SYSTEM, pw.village, approval_roles=["cadre", "cadre"])
    record = pw.report(session, pw.villager)
    service.decide(session, acting(pw.cadre), pw.village, record, "approve")
    with pytest.raises(PermissionDenied):
        service.decide(session, acting(pw.cadre), pw.village, record, "approve")


def test_bad_input_changes_nothing(session: Session, pw: PointsWorld) -> None:
    before = session.scalar(select(func.count(PointRecord.id)))
    with pytest.raises(InvalidInput, match="Unknown rule"):
        pw.report(session, pw.villager, "NOPE")
    with pytest.raises(InvalidInput, match="needs a photo"):
        pw.report(session, pw.villager, evidence=False)
    pdf = files.save_upload(
        session, acting(pw.villager), filename="x.pdf", data=b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n"
    )
    with pytest.raises(InvalidInput, match="photo"):
        service.submit_record(
            session,
            acting(pw.villager),
            pw.village,
            service.RecordRequest("GY01", pw.villager.id, service.today_local(), "", pdf.id),
        )
    with pytest.raises(InvalidInput, match="future"):
        pw.report(session, pw.villager, day=service.today_local() + timedelta(days=1))
    with pytest.raises(PermissionDenied):  # only cadres report meeting attendance
        pw.report(session, pw.villager, "GY02", evidence=False)
    with pytest.raises(PermissionDenied):  # a villager cannot report for a neighbour
        service.submit_record(
            session,
            acting(pw.villager),
            pw.village,
            service.RecordRequest("GY01", pw.neighbour.id, service.today_local()),
        )
    assert session.scalar(select(func.count(PointRecord.id))) == before


def test_cap_per_person_per_period(session: Session, pw: PointsWorld) -> None:
    day = service.today_local().replace(day=1)
    for _ in range(8):
        pw.report(session, pw.villager, day=day)
    with pytest.raises(InvalidInput, match="at most 8 times per person a month") as caught:
        pw.report(session, pw.villager, day=day)
    # Said with the rule's title: villagers never see rule codes.
    assert "GY01" not in str(caught.value) and caught.value.errors[0]["field"] == "rule_code"
    assert session.scalar(select(func.count(PointRecord.id))) == 8


def test_cadre_records_on_behalf_and_for_a_meeting(session: Session, pw: PointsWorld) -> None:
    record = service.submit_record(
        session,
        acting(pw.cadre),
        pw.village,
        service.RecordRequest(
            "GY01",
            pw.neighbour.id,
            service.today_local(),
            evidence_file_id=pw.photo(session, pw.cadre),
            on_behalf=True,
        ),
    )
    assert record.on_behalf and record.reported_by_person_id == pw.cadre.id
    entry = session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    assert entry is not None and entry.action == "points.record.on_behalf"
    everyone = [pw.villager, pw.neighbour, pw.shopkeeper, pw.leader]
    batch = service.record_batch(
        session,
        acting(pw.cadre),
        pw.village,
        [service.RecordRequest("GY02", p.id, service.today_local(), "村民大会") for p in everyone],
    )
    assert len({r.batch_id for r in batch}) == 1 and len(batch) == 4


def test_batch_is_all_or_nothing(session: Session, pw: PointsWorld) -> None:
    requests = [
        service.RecordRequest("GY02", pw.villager.id, service.today_local()),
        service.RecordRequest("GY02", pw.world.outsider.id, service.today_local()),
        service.RecordRequest("XX99", pw.neighbour.id, service.today_local()),
    ]
    with pytest.raises(InvalidInput) as caught:
        service.record_batch(session, acting(pw.cadre), pw.village, requests)
    assert [e["line"] for e in caught.value.errors] == [2, 3]
    assert session.scalar(select(func.count(PointRecord.id))) == 0


def test_excel_import_names_bad_lines(session: Session, pw: PointsWorld) -> None:
    from gongchuang.core.spreadsheets import workbook_bytes

    today = service.today_local().isoformat()
    good = workbook_bytes(
        ["手机号", "规则编号", "日期", "备注"],
        [[pw.villager.phone, "GY02", today, "会议"], [pw.neighbour.phone, "gy02", today, ""]],
        "s",
    )
    assert len(service.import_records(session, acting(pw.cadre), pw.village, good, "a.xlsx")) == 2
    bad = workbook_bytes(
        ["手机号", "规则编号", "日期"],
        [
            [pw.villager.phone, "GY02", today],
            ["13999999999", "GY02", today],
            [pw.neighbour.phone, "GY02", "昨天"],
            [pw.leader.phone, "NOPE", today],
        ],
        "s",
    )
    with pytest.raises(InvalidInput) as caught:
        service.import_records(session, acting(pw.cadre), pw.village, bad, "b.xlsx")
    assert [e["line"] for e in caught.value.errors] == [3, 4, 5]
    assert session.scalar(select(func.count(PointRecord.id))) == 2


def test_objections(session: Session, pw: PointsWorld) -> None:
    kept = pw.approve(session, pw.report(session, pw.villager))
    struck = pw.approve(session, pw.report(session, pw.leader))
    adjusted = pw.approve(session, pw.report(session, pw.shopkeeper))
    with pytest.raises(InvalidInput):  # not against oneself
        service.raise_objection(session, acting(pw.villager), pw.village, kept, "我不同意")
    with pytest.raises(NotFound):  # outsiders have no say
        service.raise_objection(session, acting(pw.world.outsider), pw.village, kept, "x")
    first = service.raise_objection(session, acting(pw.neighbour), pw.village, kept, "没参加")
    second = service.raise_objection(session, acting(pw.neighbour), pw.village, struck, "没参加")
    third = service.raise_objection(session, acting(pw.villager), pw.village, adjusted, "算多了")
    notice = session.get(PublicNotice, kept.notice_id)
    assert notice is not None
    # Open objections hold their records back from settlement.
    assert service.settle_due(session, now=notice.closes_at).records == 0
    service.decide_objection(
        session, acting(pw.cadre), pw.village, first, uphold=False, answer="经核实属实"
    )
    service.decide_objection(
        session, acting(pw.cadre), pw.village, second, uphold=True, answer="不属实，撤销"
    )
    service.decide_objection(
        session,
        acting(pw.cadre),
        pw.village,
        third,
        uphold=True,
        answer="按一次计",
        adjusted_points=1,
    )
    with pytest.raises(Conflict):
        service.decide_objection(
            session, acting(pw.cadre), pw.village, first, uphold=True, answer="again"
        )
    report = service.settle_due(session, now=notice.closes_at)
    assert report.records == 2 and report.notices == 1
    assert session.get(PointRecord, struck.id).status == RecordStatus.cancelled
    assert balance_of(session, pw, pw.villager) == 3
    assert balance_of(session, pw, pw.leader) == 0
    assert balance_of(session, pw, pw.shopkeeper) == 1


def test_objection_after_the_notice_closed_is_refused(session: Session, pw: PointsWorld) -> None:
    record = pw.approve(session, pw.report(session, pw.villager))
    notice = session.get(PublicNotice, record.notice_id)
    assert notice is not None
    notice.closes_at = service.utcnow() - timedelta(seconds=1)
    with pytest.raises(Conflict, match="objections are over"):
        service.raise_objection(session, acting(pw.neighbour), pw.village, record, "迟到的异议")


def test_deductions_and_reversals_never_take_a_balance_below_zero(
    session: Session, pw: PointsWorld
) -> None:
    good = pw.approve(session, pw.report(session, pw.villager))
    litter = service.submit_record(
        session,
        acting(pw.cadre),
        pw.village,
        service.RecordRequest(
            "HJ03", pw.villager.id, service.today_local(), "", pw.photo(session, pw.cadre)
        ),
    )
    pw.approve(session, litter)
    close_notices(session, good)
    # +3 then -5: the balance stops at zero and the entry says what was due.
    assert balance_of(session, pw, pw.villager) == 0
    deduction = session.scalar(select(PointsEntry).where(PointsEntry.record_id == litter.id))
    assert deduction is not None and deduction.delta == -3 and "due -5" in deduction.note
    service.reverse_record(session, acting(pw.cadre), pw.village, litter, "误记")
    assert balance_of(session, pw, pw.villager) == 3
    assert litter.status == RecordStatus.reversed
    kinds = session.scalars(
        select(PointsEntry.kind).where(PointsEntry.record_id == litter.id).order_by(PointsEntry.id)
    ).all()
    assert kinds == ["settlement", "reversal"]
    with pytest.raises(Conflict):
        service.reverse_record(session, acting(pw.cadre), pw.village, litter, "again")


def test_rule_revision_keeps_old_records(session: Session, pw: PointsWorld) -> None:
    old = pw.report(session, pw.villager)
    rule = service.get_rule(session, pw.catalogue, "GY01")
    revised = service.revise_rule(
        session,
        acting(pw.cadre),
        pw.village,
        "GY01",
        service.RuleInput(
            category_id=rule.category_id,
            title="参加村组义务劳动（每半天）",
            points=5,
            evidence_required=True,
            cap_count=8,
            reporters=["self", "cadre"],
        ),
    )
    assert (revised.version, revised.points) == (2, 5)
    new = pw.report(session, pw.villager)
    assert (old.points, old.rule_id) == (3, rule.id)
    assert (new.points, new.rule_id) == (5, revised.id)
    service.set_rule_active(session, acting(pw.cadre), pw.village, "GY01", False)
    with pytest.raises(InvalidInput, match="Unknown rule"):
        pw.report(session, pw.villager)
    with pytest.raises(NotFound):  # a villager cannot edit rules
        service.set_rule_active(session, acting(pw.villager), pw.village, "GY01", True)


def test_settings_are_validated_whole(session: Session, pw: PointsWorld) -> None:
    with pytest.raises(InvalidInput) as caught:
        service.update_settings(
            session, acting(pw.cadre), pw.village, notice_days=0, reset_period="weekly"
        )
    assert {e["field"] for e in caught.value.errors} == {"notice_days", "reset_period"}
    assert pw.catalogue.notice_days == 7


def settled_balance(session: Session, pw: PointsWorld, person, times: int) -> None:
    records = [pw.approve(session, pw.report(session, person)) for _ in range(times)]
    close_notices(session, records[0])


def test_redemption_checks_balance_stock_fund_and_minimum(
    session: Session, pw: PointsWorld
) -> None:
    settled_balance(session, pw, pw.villager, 4)  # 12 points
    account = service.account_of_person(session, pw.village, pw.villager.id)
    assert account is not None and account.balance == 12
    redemption = shop.redeem(session, acting(pw.villager), pw.village, account, pw.soap, 2)
    assert (account.balance, pw.soap.stock, redemption.points) == (2, 8, 10)
    assert shop.fund_balance(session, pw.village.id) == 100_000 - 600
    with pytest.raises(Conflict, match="Not enough points"):
        shop.redeem(session, acting(pw.villager), pw.village, account, pw.soap, 1)
    with pytest.raises(NotFound):  # only the household spends its points
        shop.redeem(session, acting(pw.neighbour), pw.village, account, pw.soap, 1)
    with pytest.raises(NotFound):  # only the shopkeeper hands over
        shop.hand_over(session, acting(pw.villager), pw.village, redemption)
    shop.cancel_redemption(session, acting(pw.villager), pw.village, redemption)
    assert (account.balance, pw.soap.stock) == (12, 10) or (
        session.get(type(account), account.id).balance,
        session.get(type(pw.soap), pw.soap.id).stock,
    ) == (12, 10)
    assert shop.fund_balance(session, pw.village.id) == 100_000
    service.update_settings(session, SYSTEM, pw.village, min_redeem_balance=20)
    with pytest.raises(Conflict, match="starts at a balance of 20"):
        shop.redeem(session, acting(pw.villager), pw.village, account, pw.soap, 1)
    service.update_settings(session, SYSTEM, pw.village, min_redeem_balance=0)
    shop.restock(session, SYSTEM, pw.village, pw.soap, -9)
    with pytest.raises(Conflict, match="Out of stock"):
        shop.redeem(session, acting(pw.villager), pw.village, account, pw.soap, 2)
    dear = shop.add_item(
        session, SYSTEM, pw.village, name="电饭煲", price_points=1, unit_cost_fen=200_000, stock=1
    )
    with pytest.raises(Conflict, match="reward fund"):
        shop.redeem(session, acting(pw.villager), pw.village, account, dear, 1)
    final = shop.redeem(session, acting(pw.villager), pw.village, account, pw.soap, 1)
    shop.hand_over(session, acting(pw.shopkeeper), pw.village, final)
    assert final.status == "handed_over"
    with pytest.raises(Conflict):
        shop.cancel_redemption(session, acting(pw.villager), pw.village, final)


def test_shopkeeper_redeems_by_household_card(session: Session, pw: PointsWorld) -> None:
    settled_balance(session, pw, pw.villager, 2)
    household = service.household_of(session, pw.village.id, pw.villager.id)
    assert household is not None
    found = shop.household_by_card(session, pw.village, household.card_code)
    account = service.account_for_holder(session, pw.village.id, f"h:{found.id}")
    assert account is not None
    redemption = shop.redeem(
        session, acting(pw.shopkeeper), pw.village, account, pw.soap, 1, via_card=True
    )
    assert redemption.via_card and account.balance == 1
    with pytest.raises(NotFound):  # a villager cannot use someone's card
        shop.redeem(session, acting(pw.neighbour), pw.village, account, pw.soap, 1, via_card=True)


def test_rankings_share_ranks_and_show_tiers(session: Session, pw: PointsWorld) -> None:
    service.update_settings(
        session, SYSTEM, pw.village, star_tiers=[{"name": "一星户", "min_points": 6}]
    )
    records = [pw.approve(session, pw.report(session, p)) for p in (pw.villager, pw.villager)]
    records += [pw.approve(session, pw.report(session, p)) for p in (pw.leader, pw.leader)]
    records.append(pw.approve(session, pw.report(session, pw.neighbour)))
    close_notices(session, records[0])
    rows = reports.ranking(session, pw.village, "month", service.today_local())
    assert [(r.rank, r.points, r.tier) for r in rows] == [
        (1, 6, "一星户"),
        (1, 6, "一星户"),
        (3, 3, ""),
    ]
    assert {r.label for r in rows[:2]} == {"甲村民户", "甲组长户"}


def test_dashboard_figures_and_roll_up(session: Session, pw: PointsWorld) -> None:
    record = pw.approve(session, pw.report(session, pw.villager))
    service.raise_objection(session, acting(pw.neighbour), pw.village, record, "有疑问")
    objection = service.objections(session, pw.village)[0]
    service.decide_objection(
        session, acting(pw.cadre), pw.village, objection, uphold=False, answer="属实"
    )
    close_notices(session, record)
    year = service.today_local().year
    village = reports.village_dashboard(session, pw.village, year)
    assert (village.totals.points, village.totals.records) == (3, 1)
    assert (village.totals.objections, village.totals.upheld) == (1, 0)
    assert village.totals.participation > 0
    assert village.top_rules[0][0] == "GY01"
    assert village.fund is not None and village.fund.balance_fen == 100_000
    county = pw.world.county
    rollup = reports.region_dashboard(session, county, year)
    assert rollup.totals.points == 3 and [v.name for v in rollup.villages] == [pw.village.name]
    assert reports.region_dashboard_from_records(session, county, year) == {pw.village.id: 3}
    staff = acting(pw.world.county_staff)
    assert reports.get_region_for(session, staff, county.code) == county
    with pytest.raises(NotFound):
        reports.get_region_for(session, acting(pw.cadre), county.code)


def test_periods_grant_base_points_and_reset(session: Session, pw: PointsWorld) -> None:
    service.update_settings(session, SYSTEM, pw.village, reset_period="quarter", base_points=10)
    today = service.today_local()
    assert service.roll_periods(session, today) == 1
    assert balance_of(session, pw, pw.villager) == 10
    assert service.roll_periods(session, today) == 0  # once per period
    next_quarter = service.period_bounds("quarter", today)[1]
    settled_balance(session, pw, pw.villager, 1)
    assert balance_of(session, pw, pw.villager) == 13
    service.roll_periods(session, next_quarter)
    assert balance_of(session, pw, pw.villager) == 10  # reset, then the new base
    kinds = session.scalars(
        select(PointsEntry.kind)
        .where(PointsEntry.kind.in_(["base", "reset"]))
        .order_by(PointsEntry.id)
    ).all()
    households = len(service.households(session, pw.village))
    assert kinds.count("base") == 2 * households and kinds.count("reset") == households


def test_notice_pdf_names_people_but_not_phones(session: Session, pw: PointsWorld) -> None:
    import io

    from pypdf import PdfReader

    record = pw.approve(session, pw.report(session, pw.villager))
    notice = session.get(PublicNotice, record.notice_id)
    assert notice is not None
    records = service.notice_records(session, notice)
    data = reports.notice_pdf(session, pw.village, notice, records, base_url="http://x")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    assert pw.villager.name in text and "参加村组义务劳动" in text and "+3" in text
    assert pw.villager.phone not in text and pw.villager.phone[-4:] not in text
    cards = reports.household_cards_pdf(
        session, pw.village, service.households(session, pw.village), "http://x"
    )
    assert "甲村民户" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(cards)).pages)


def test_approving_a_selection_is_all_or_nothing(session: Session, pw: PointsWorld) -> None:
    mine = pw.report(session, pw.leader)
    others = [pw.report(session, p) for p in (pw.villager, pw.neighbour)]
    with pytest.raises(PermissionDenied) as caught:
        service.approve_many(
            session, acting(pw.leader), pw.village, [mine.id] + [r.id for r in others]
        )
    assert [e["field"] for e in caught.value.errors] == [f"record {mine.id}"]
    assert all(r.approval_step == 0 for r in others)
    assert service.approve_many(session, acting(pw.leader), pw.village, [r.id for r in others]) == 2
    assert service.approve_many(session, acting(pw.cadre), pw.village, [r.id for r in others]) == 2
    assert {r.status for r in others} == {RecordStatus.in_notice}
    assert len({r.notice_id for r in others}) == 1
    audit.seal(session, wait=True)
    assert audit.verify_chain(session).ok
