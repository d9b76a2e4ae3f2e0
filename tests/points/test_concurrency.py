"""Redemptions, records and objections raced by real threads against a committed database
(PostgreSQL in the PostgreSQL run): stock never oversells, balances never go negative, a rule's
cap and one open objection per villager hold when one villager sends several at once, and a
decision sent several times at once (an approval level, a hand-over or a cancel, a reversal, an
objection's answer, a period's rollover, a settlement run) is taken once: nothing is paid out or
given back twice, and what loses is told why."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, select, text

from gongchuang.core import organisations
from gongchuang.core.clock import utcnow
from gongchuang.core.db import Database
from gongchuang.core.errors import Conflict, InvalidInput, PermissionDenied
from gongchuang.core.models import AuditEntry, Notification, Organisation, OutboxMessage, Person
from gongchuang.core.permissions import SYSTEM
from gongchuang.migrate import alembic_config
from gongchuang.points import service, shop
from gongchuang.points.models import (
    Approval,
    EntryKind,
    HouseholdMember,
    MonthlyStat,
    Objection,
    ObjectionStatus,
    PointRecord,
    PointsAccount,
    PointsEntry,
    PublicNotice,
    RecordStatus,
    Redemption,
    RedemptionStatus,
    RewardFundEntry,
    RuleCatalogue,
    RuleCategory,
    ShopItem,
    StockMovement,
)
from gongchuang.topics.volunteer import HoursVerified
from tests.points.conftest import PointsWorld, join, pw
from tests.support.databases import fresh_database, fresh_database_url
from tests.support.principals import acting
from tests.support.world import build_world, make_person


@pytest.fixture
def db(tmp_path: Path):
    with fresh_database(tmp_path, "points_race") as database:
        yield database


def race(callables) -> tuple[int, list[BaseException]]:
    barrier = threading.Barrier(len(callables))
    done: list[int] = []
    errors: list[BaseException] = []

    def run(fn) -> None:
        barrier.wait()
        try:
            fn()
            done.append(1)
        except BaseException as exc:  # collected for the assertions
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in callables]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return len(done), errors


def setup_village(db: Database, people: int, stock: int) -> tuple[int, int, list[int]]:
    with db.transaction() as session:
        world = build_world(session)
        village = world.village_a
        ids = []
        for n in range(people):
            person = make_person(session, f"135{n:08d}", f"村民{n}")
            organisations.add_member(
                session, SYSTEM, village, phone=person.phone, roles=["member"], check=False
            )
            ids.append(person.id)
        service.create_catalogue(session, SYSTEM, village, template_code="guangdong")
        service.update_settings(session, SYSTEM, village, base_points=10)
        service.roll_periods(session)
        shop.add_donation(session, SYSTEM, village, amount_fen=1_000_000, donor="乡贤")
        item = shop.add_item(
            session, SYSTEM, village, name="肥皂", price_points=5, unit_cost_fen=300, stock=stock
        )
        return village.id, item.id, ids


def redeem_as(db: Database, village_id: int, item_id: int, person_id: int):
    def attempt() -> None:
        with db.transaction() as session:
            village = service.get_village_for(session, SYSTEM, village_id)
            person = session.get(Person, person_id)
            account = service.account_of_person(session, village, person_id)
            item = shop.get_item(session, village, item_id)
            shop.redeem(session, acting(person), village, account, item, 1)

    return attempt


def test_fifty_redemptions_against_stock_ten(db: Database) -> None:
    village_id, item_id, people = setup_village(db, 50, stock=10)
    succeeded, errors = race([redeem_as(db, village_id, item_id, p) for p in people])
    assert succeeded == 10
    assert len(errors) == 40 and all(isinstance(e, Conflict) for e in errors), errors[:3]
    with db.transaction(write=False) as session:
        assert session.scalar(select(ShopItem.stock).where(ShopItem.id == item_id)) == 0
        assert session.scalar(select(func.count(Redemption.id))) == 10


def test_one_household_cannot_overspend(db: Database) -> None:
    village_id, item_id, people = setup_village(db, 1, stock=100)
    succeeded, errors = race([redeem_as(db, village_id, item_id, people[0]) for _ in range(12)])
    assert succeeded == 2 and len(errors) == 10
    with db.transaction(write=False) as session:
        balance = session.scalar(
            select(PointsAccount.balance).where(PointsAccount.person_id == people[0])
        )
        ledger = session.scalar(
            select(func.sum(PointsEntry.delta))
            .join(PointsAccount, PointsAccount.id == PointsEntry.account_id)
            .where(PointsAccount.person_id == people[0])
        )
        assert balance == ledger == 0
        assert session.scalar(select(ShopItem.stock).where(ShopItem.id == item_id)) == 98


# --- one villager racing themselves ---------------------------------------------------------


def _points_world(db: Database, prepare) -> tuple[dict[str, int], object]:  # type: ignore[no-untyped-def]
    """The points test world (`pw`), committed so that other connections see it, with what
    `prepare(session, pw)` adds to it."""
    with db.transaction() as session:
        built: PointsWorld = pw.__wrapped__(session, build_world(session))
        prepared = prepare(session, built)
        people = ("villager", "neighbour", "shopkeeper", "leader", "leader2", "cadre", "cadre2")
        ids = {name: getattr(built, name).id for name in people}
        return {"village": built.village.id, **ids}, prepared


def test_objections_sent_at_once_by_one_villager_leave_one_open(db: Database) -> None:
    def a_record_in_notice(session, built: PointsWorld) -> int:  # type: ignore[no-untyped-def]
        record = built.approve(session, built.report(session, built.villager))
        assert record.status == RecordStatus.in_notice
        return record.id

    ids, record_id = _points_world(db, a_record_in_notice)

    def object_() -> None:
        with db.transaction() as session:
            village = service.get_village_for(session, SYSTEM, ids["village"])
            record = service.get_record(session, village, record_id)
            neighbour = session.get(Person, ids["neighbour"])
            service.raise_objection(session, acting(neighbour), village, record, "没有参加")

    succeeded, errors = race([object_ for _ in range(6)])
    assert succeeded == 1
    assert len(errors) == 5 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    assert {e.message for e in errors} == {"You have already objected to this record"}
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count(Objection.id))) == 1


def test_records_sent_at_once_stay_within_the_rules_cap(db: Database) -> None:
    """Once a month: six self-reports sent together must not make six records."""

    def once_a_month(session, built: PointsWorld) -> int:  # type: ignore[no-untyped-def]
        rule = service.get_rule(session, built.catalogue, "GY01")
        service.revise_rule(
            session,
            acting(built.cadre),
            built.village,
            "GY01",
            service.RuleInput(
                category_id=rule.category_id,
                title=rule.title,
                points=rule.points,
                evidence_required=True,
                cap_count=1,
                cap_period="month",
                reporters=["self", "cadre"],
            ),
        )
        return built.photo(session, built.villager)

    ids, photo = _points_world(db, once_a_month)

    def report() -> None:
        with db.transaction() as session:
            village = service.get_village_for(session, SYSTEM, ids["village"])
            villager = session.get(Person, ids["villager"])
            service.submit_record(
                session,
                acting(villager),
                village,
                service.RecordRequest("GY01", villager.id, service.today_local(), "", photo),
            )

    succeeded, errors = race([report for _ in range(6)])
    assert succeeded == 1
    assert len(errors) == 5 and all(isinstance(e, InvalidInput) for e in errors), errors[:2]
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count(PointRecord.id))) == 1


def test_volunteer_hours_verified_at_once_stay_within_the_rules_cap(db: Database) -> None:
    """Two shifts verified together are two messages that workers handle side by side: the
    volunteer rule's cap holds for them as for records sent by hand."""

    def once_a_month(session, built: PointsWorld) -> None:  # type: ignore[no-untyped-def]
        rule = service.get_rule(session, built.catalogue, "GY04")
        service.revise_rule(
            session,
            acting(built.cadre),
            built.village,
            "GY04",
            service.RuleInput(
                category_id=rule.category_id,
                title=rule.title,
                points=rule.points,
                cap_count=1,
                cap_period="month",
                reporters=list(rule.reporters),
            ),
        )

    ids, _ = _points_world(db, once_a_month)

    def verified(shift: int):  # type: ignore[no-untyped-def]
        def handle() -> None:
            with db.transaction() as session:
                service.record_volunteer_hours(
                    session,
                    HoursVerified(
                        person_id=ids["villager"],
                        organisation_id=ids["village"],
                        minutes=180,
                        served_on=service.today_local(),
                        verified_by=ids["leader"],
                        signup_id=shift,
                    ),
                )

        return handle

    succeeded, errors = race([verified(n) for n in range(10)])
    assert succeeded == 10, errors[:2]  # hours over the cap are skipped, not failed
    with db.transaction(write=False) as session:
        made = session.scalars(select(PointRecord.points).where(PointRecord.rule_code == "GY04"))
        assert made.all() == [3]


# --- decisions taken once: each sent several times at the same moment ------------------------


def as_person(db: Database, ids: dict[str, int], who: str, act):  # type: ignore[no-untyped-def]
    """`act(session, principal, village)` in a transaction of its own, done by `who`."""

    def attempt() -> None:
        with db.transaction() as session:
            village = service.get_village_for(session, SYSTEM, ids["village"])
            person = session.get(Person, ids[who])
            assert person is not None
            act(session, acting(person), village)

    return attempt


def deciding(record_id: int, decision: str = "approve"):  # type: ignore[no-untyped-def]
    def act(session, actor, village) -> None:  # type: ignore[no-untyped-def]
        record = service.get_record(session, village, record_id)
        service.decide(session, actor, village, record, decision)

    return act


def with_base_points(session, built: PointsWorld) -> None:  # type: ignore[no-untyped-def]
    """Fifty points in every household's account."""
    service.update_settings(session, SYSTEM, built.village, base_points=50)
    service.roll_periods(session)


def settled_record(session, built: PointsWorld) -> PointRecord:  # type: ignore[no-untyped-def]
    """The villager's record of 3 points counted into a balance of 50."""
    with_base_points(session, built)
    record = built.approve(session, built.report(session, built.villager))
    service.settle_due(session, now=utcnow() + timedelta(days=30))
    assert record.status == RecordStatus.settled
    return record


def villager_balance(session, ids: dict[str, int]) -> int:  # type: ignore[no-untyped-def]
    """The villager's household balance, checked against its ledger."""
    village = session.get(Organisation, ids["village"])
    account = service.account_of_person(session, village, ids["villager"], create=False)
    assert account is not None
    ledger = session.scalar(
        select(func.sum(PointsEntry.delta)).where(PointsEntry.account_id == account.id)
    )
    assert account.balance == ledger
    return account.balance


def count(session, entity, *where) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(entity).where(*where)) or 0


def awaiting_handover(session, built: PointsWorld) -> int:  # type: ignore[no-untyped-def]
    """Two bars of soap (10 points, 6 yuan) redeemed by the villager, not yet handed over."""
    with_base_points(session, built)
    account = service.account_of_person(session, built.village, built.villager.id)
    assert account is not None
    return shop.redeem(session, acting(built.villager), built.village, account, built.soap, 2).id


def on_redemption(action: str, redemption_id: int):  # type: ignore[no-untyped-def]
    def act(session, actor, village) -> None:  # type: ignore[no-untyped-def]
        redemption = shop.get_redemption(session, village, redemption_id)
        getattr(shop, action)(session, actor, village, redemption)

    return act


def refunds(session, redemption_id: int) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """Points, stock and money given back for the redemption: entries of each ledger."""
    return (
        count(session, PointsEntry, PointsEntry.redemption_id == redemption_id,
              PointsEntry.kind == EntryKind.redemption_cancelled),
        count(session, StockMovement, StockMovement.redemption_id == redemption_id,
              StockMovement.kind == "redemption_cancelled"),
        count(session, RewardFundEntry, RewardFundEntry.redemption_id == redemption_id,
              RewardFundEntry.kind == "redemption_cancelled"),
    )  # fmt: skip


def test_cancels_sent_at_once_give_back_once(db: Database) -> None:
    ids, redemption_id = _points_world(db, awaiting_handover)
    cancel = on_redemption("cancel_redemption", redemption_id)
    succeeded, errors = race(
        [as_person(db, ids, w, cancel) for w in ("villager", "shopkeeper") * 3]
    )
    assert succeeded == 1
    assert len(errors) == 5 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    assert {e.message for e in errors} == {"Only a redemption not yet handed over can be cancelled"}
    with db.transaction(write=False) as session:
        assert refunds(session, redemption_id) == (1, 1, 1)
        assert villager_balance(session, ids) == 50
        assert session.scalar(select(ShopItem.stock)) == 10
        assert shop.fund_balance(session, ids["village"]) == 100_000


def test_hand_over_racing_a_cancel_is_one_or_the_other(db: Database) -> None:
    ids, redemption_id = _points_world(db, awaiting_handover)
    hand_over = as_person(db, ids, "shopkeeper", on_redemption("hand_over", redemption_id))
    cancel = as_person(db, ids, "villager", on_redemption("cancel_redemption", redemption_id))
    succeeded, errors = race([hand_over, cancel] * 3)
    assert succeeded == 1
    assert len(errors) == 5 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    with db.transaction(write=False) as session:
        redemption = session.get(Redemption, redemption_id)
        assert redemption is not None
        state = (
            redemption.status,
            refunds(session, redemption_id),
            villager_balance(session, ids),
            session.scalar(select(ShopItem.stock)),
        )
        if redemption.status == RedemptionStatus.handed_over:
            assert state == (RedemptionStatus.handed_over, (0, 0, 0), 40, 8)
            assert redemption.handed_over_by_person_id == ids["shopkeeper"]
        else:
            assert state == (RedemptionStatus.cancelled, (1, 1, 1), 50, 10)
            assert redemption.handed_over_at is None


def test_reversals_sent_at_once_take_the_points_back_once(db: Database) -> None:
    ids, record_id = _points_world(db, lambda s, b: settled_record(s, b).id)

    def reverse(session, actor, village) -> None:  # type: ignore[no-untyped-def]
        record = service.get_record(session, village, record_id)
        service.reverse_record(session, actor, village, record, "重复登记")

    succeeded, errors = race([as_person(db, ids, w, reverse) for w in ("cadre", "cadre2") * 3])
    assert succeeded == 1
    assert len(errors) == 5 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    assert {e.message for e in errors} == {"Only a settled record can be reversed"}
    with db.transaction(write=False) as session:
        assert villager_balance(session, ids) == 50
        reversals = select(PointsEntry.delta).where(
            PointsEntry.record_id == record_id, PointsEntry.kind == EntryKind.reversal
        )
        assert session.scalars(reversals).all() == [-3]
        assert session.scalar(select(PointRecord.status)) == RecordStatus.reversed
        totals = session.execute(
            select(func.sum(MonthlyStat.records), func.sum(MonthlyStat.points))
        )
        assert tuple(totals.one()) == (0, 0)


def test_an_objection_answered_at_once_is_decided_once(db: Database) -> None:
    def objected(session, built: PointsWorld) -> int:  # type: ignore[no-untyped-def]
        record = built.approve(session, built.report(session, built.villager))
        objection = service.raise_objection(
            session, acting(built.neighbour), built.village, record, "没有参加"
        )
        return objection.id

    ids, objection_id = _points_world(db, objected)

    def answer(uphold: bool):  # type: ignore[no-untyped-def]
        def act(session, actor, village) -> None:  # type: ignore[no-untyped-def]
            objection = service.get_objection(session, village, objection_id)
            service.decide_objection(
                session,
                actor,
                village,
                objection,
                uphold=uphold,
                answer="经核实",
                adjusted_points=1 if uphold else None,
            )

        return act

    uphold = as_person(db, ids, "cadre", answer(True))
    dismiss = as_person(db, ids, "cadre2", answer(False))
    succeeded, errors = race([uphold, dismiss] * 3)
    assert succeeded == 1
    assert len(errors) == 5 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    assert {e.message for e in errors} == {"This objection has already been decided"}
    with db.transaction(write=False) as session:
        objection = session.get(Objection, objection_id)
        assert objection is not None
        record = session.get(PointRecord, objection.record_id)
        assert record is not None
        expected = {
            ObjectionStatus.upheld: (ids["cadre"], 1),
            ObjectionStatus.dismissed: (ids["cadre2"], 3),
        }
        assert (objection.decided_by_person_id, record.points) == expected[objection.status]
        assert record.status == RecordStatus.in_notice
        decided = AuditEntry.action.in_(["points.objection.uphold", "points.objection.dismiss"])
        assert count(session, AuditEntry, decided) == 1
        assert count(session, OutboxMessage, OutboxMessage.topic == "points.objection.decided") == 1
        answers = (Notification.person_id == ids["neighbour"], Notification.body == "经核实")
        assert count(session, Notification, *answers) == 1


def test_objections_upheld_at_once_on_a_settled_record_reverse_it_once(db: Database) -> None:
    """Two objections to one settled record upheld together (one strikes it out, one adjusts
    it), each answer sent three times: the record's points come off once."""

    def settled_with_open_objections(session, built: PointsWorld) -> list[int]:  # type: ignore[no-untyped-def]
        record = settled_record(session, built)
        # What objections raised in the notice's last moment leave when they commit just after
        # the settlement job read the record: open on a settled record. The service's own
        # checks no longer let them in, so they are written as the late ones were.
        late = [
            Objection(
                organisation_id=built.village.id,
                record_id=record.id,
                objector_person_id=person.id,
                reason="公示最后一刻提出",
                status=ObjectionStatus.open,
            )
            for person in (built.neighbour, built.shopkeeper)
        ]
        session.add_all(late)
        session.flush()
        return [o.id for o in late]

    ids, (striking, adjusting) = _points_world(db, settled_with_open_objections)

    def uphold(objection_id: int, points: int | None):  # type: ignore[no-untyped-def]
        def act(session, actor, village) -> None:  # type: ignore[no-untyped-def]
            objection = service.get_objection(session, village, objection_id)
            service.decide_objection(
                session,
                actor,
                village,
                objection,
                uphold=True,
                answer="属实",
                adjusted_points=points,
            )

        return act

    strike = as_person(db, ids, "cadre", uphold(striking, None))
    adjust = as_person(db, ids, "cadre2", uphold(adjusting, 1))
    succeeded, errors = race([strike, adjust] * 3)
    assert succeeded == 2
    assert len(errors) == 4 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    with db.transaction(write=False) as session:
        # Either order ends with the record struck out: +3, then -3 (or -3, +1, -1).
        assert session.scalar(select(PointRecord.status)) == RecordStatus.reversed
        net = select(func.sum(PointsEntry.delta)).where(PointsEntry.record_id.is_not(None))
        assert session.scalar(net) == 0
        assert villager_balance(session, ids) == 50
        totals = session.execute(
            select(func.sum(MonthlyStat.records), func.sum(MonthlyStat.points))
        )
        assert tuple(totals.one()) == (0, 0)


def test_a_level_approved_at_once_by_two_leaders_is_decided_once(db: Database) -> None:
    ids, record_id = _points_world(db, lambda s, b: b.report(s, b.villager).id)
    leaders = [as_person(db, ids, w, deciding(record_id)) for w in ("leader", "leader2") * 3]
    succeeded, errors = race(leaders)
    assert succeeded == 1
    # The record moved on to the cadres' level, which is not the group leaders'.
    assert len(errors) == 5 and all(isinstance(e, PermissionDenied) for e in errors), errors[:2]
    with db.transaction(write=False) as session:
        approvals = session.execute(select(Approval.step, Approval.decision)).all()
        assert [tuple(a) for a in approvals] == [(0, "approve")]
        record = session.get(PointRecord, record_id)
        assert record is not None
        assert (record.status, record.approval_step) == (RecordStatus.pending, 1)


def test_the_last_level_approved_at_once_posts_the_record_once(db: Database) -> None:
    def at_the_cadres_level(session, built: PointsWorld) -> int:  # type: ignore[no-untyped-def]
        record = built.report(session, built.villager)
        service.decide(session, acting(built.leader), built.village, record, "approve")
        return record.id

    ids, record_id = _points_world(db, at_the_cadres_level)
    cadres = [as_person(db, ids, w, deciding(record_id)) for w in ("cadre", "cadre2") * 3]
    succeeded, errors = race(cadres)
    assert succeeded == 1
    assert len(errors) == 5 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    assert {e.message for e in errors} == {"This record is not waiting for approval"}
    with db.transaction(write=False) as session:
        approvals = session.execute(select(Approval.step, Approval.decision)).all()
        assert sorted(tuple(a) for a in approvals) == [(0, "approve"), (1, "approve")]
        assert session.scalar(select(PointRecord.status)) == RecordStatus.in_notice
        approved = OutboxMessage.topic == "points.record.approved"
        assert count(session, OutboxMessage, approved) == 1


def test_one_approver_sending_the_batch_and_the_single_form_at_once_approves_once(
    db: Database,
) -> None:
    """Both levels are the cadres': one cadre approves a record at one of them only."""

    def two_cadre_levels(session, built: PointsWorld) -> list[int]:  # type: ignore[no-untyped-def]
        service.update_settings(session, SYSTEM, built.village, approval_roles=["cadre", "cadre"])
        return [built.report(session, built.villager).id for _ in range(5)]

    ids, record_ids = _points_world(db, two_cadre_levels)

    def batch(order: list[int]):  # type: ignore[no-untyped-def]
        return lambda session, actor, village: service.approve_many(session, actor, village, order)

    forms = [batch(record_ids), batch(record_ids[::-1]), deciding(record_ids[2])]
    succeeded, errors = race([as_person(db, ids, "cadre", form) for form in forms * 2])
    assert succeeded == 1
    assert len(errors) == 5 and all(isinstance(e, PermissionDenied) for e in errors), errors[:2]
    with db.transaction(write=False) as session:
        approvals = sorted(
            tuple(a) for a in session.execute(select(Approval.record_id, Approval.step))
        )
        # All five by the batch, or the one by the single form; each at the first level.
        assert approvals in ([(r, 0) for r in record_ids], [(record_ids[2], 0)])
        approved = {r for r, _ in approvals}
        steps = sorted(
            tuple(s) for s in session.execute(select(PointRecord.id, PointRecord.approval_step))
        )
        assert steps == [(r, int(r in approved)) for r in record_ids]


def test_the_days_first_approvals_at_once_share_its_notice(db: Database) -> None:
    def waiting_for_cadres(session, built: PointsWorld) -> list[int]:  # type: ignore[no-untyped-def]
        records = [built.report(session, built.villager) for _ in range(6)]
        for record in records:
            service.decide(session, acting(built.leader), built.village, record, "approve")
        return [r.id for r in records]

    ids, record_ids = _points_world(db, waiting_for_cadres)
    cadres = [
        as_person(db, ids, ("cadre", "cadre2")[n % 2], deciding(record_id))
        for n, record_id in enumerate(record_ids)
    ]
    succeeded, errors = race(cadres)
    assert succeeded == 6, errors[:2]
    with db.transaction(write=False) as session:
        notices = session.scalars(select(PublicNotice.id)).all()
        assert len(notices) == 1
        posted = session.execute(select(PointRecord.status, PointRecord.notice_id)).all()
        assert {tuple(p) for p in posted} == {(RecordStatus.in_notice, notices[0])}


def test_a_households_first_uses_at_once_open_one_account(db: Database) -> None:
    """A household card shown at the shop while settlement opens accounts: one account."""
    ids, household_id = _points_world(
        db, lambda s, b: service.household_of(s, b.village.id, b.neighbour.id).id
    )

    def first_use() -> None:
        with db.transaction() as session:
            account = service.account_for_holder(session, ids["village"], f"h:{household_id}")
            assert account is not None and account.balance == 0

    succeeded, errors = race([first_use for _ in range(6)])
    assert succeeded == 6, errors[:2]
    with db.transaction(write=False) as session:
        assert count(session, PointsAccount, PointsAccount.household_id == household_id) == 1


def test_one_villager_filed_into_two_households_at_once(db: Database) -> None:
    def a_newcomer(session, built: PointsWorld) -> int:  # type: ignore[no-untyped-def]
        join(session, built.village, "13700000099", "甲新村民", ["member"])
        household = service.household_of(session, built.village.id, built.villager.id)
        return household.id

    ids, household_id = _points_world(db, a_newcomer)

    def new_household(n: int):  # type: ignore[no-untyped-def]
        def act(session, actor, village) -> None:  # type: ignore[no-untyped-def]
            service.create_household(
                session, actor, village, name=f"新户{n}", member_phones=["13700000099"]
            )

        return act

    def into_existing(session, actor, village) -> None:  # type: ignore[no-untyped-def]
        household = service.get_household(session, village, household_id)
        service.add_household_member(session, actor, village, household, "13700000099")

    filings = [as_person(db, ids, "cadre", new_household(n)) for n in range(3)]
    filings += [as_person(db, ids, "cadre2", into_existing) for _ in range(3)]
    succeeded, errors = race(filings)
    assert succeeded == 1
    assert len(errors) == 5 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    assert {(e.message, e.params["name"]) for e in errors} == {
        ("%(name)s already belongs to a household", "甲新村民")
    }
    with db.transaction(write=False) as session:
        newcomer = select(Person.id).where(Person.phone == "13700000099").scalar_subquery()
        assert count(session, HouseholdMember, HouseholdMember.person_id == newcomer) == 1


def test_a_rule_catalogue_set_up_twice_at_once(db: Database) -> None:
    with db.transaction() as session:
        village_id = build_world(session).village_b.id

    def set_up() -> None:
        with db.transaction() as session:
            village = service.get_village_for(session, SYSTEM, village_id)
            service.create_catalogue(session, SYSTEM, village, template_code="youxiqiao")

    succeeded, errors = race([set_up for _ in range(4)])
    assert succeeded == 1
    assert len(errors) == 3 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    assert {e.message for e in errors} == {"This village already has a rule catalogue"}
    with db.transaction(write=False) as session:
        assert count(session, RuleCatalogue) == 1
        assert count(session, RuleCategory) == 5


def test_a_period_rolled_by_two_workers_at_once_grants_base_points_once(db: Database) -> None:
    ids, _ = _points_world(
        db, lambda s, b: service.update_settings(s, SYSTEM, b.village, base_points=50)
    )

    def roll() -> None:
        with db.transaction() as session:
            service.roll_periods(session)

    succeeded, errors = race([roll for _ in range(4)])
    assert succeeded == 4, errors[:2]
    with db.transaction(write=False) as session:
        grants = session.execute(
            select(PointsEntry.account_id, func.count())
            .where(PointsEntry.kind == EntryKind.base)
            .group_by(PointsEntry.account_id)
        ).all()
        assert len(grants) == 5 and all(n == 1 for _, n in grants)
        assert villager_balance(session, ids) == 50


def test_settlement_run_twice_at_once_counts_each_record_once(db: Database) -> None:
    def in_notice(session, built: PointsWorld) -> None:  # type: ignore[no-untyped-def]
        for _ in range(3):
            built.approve(session, built.report(session, built.villager))

    ids, _ = _points_world(db, in_notice)
    later = utcnow() + timedelta(days=30)

    def settle() -> None:
        with db.transaction() as session:
            service.settle_due(session, now=later)

    succeeded, errors = race([settle for _ in range(4)])
    assert succeeded == 4, errors[:2]
    with db.transaction(write=False) as session:
        assert count(session, PointsEntry, PointsEntry.kind == EntryKind.settlement) == 3
        assert villager_balance(session, ids) == 9
        settled = OutboxMessage.topic == "points.notice.settled"
        assert count(session, OutboxMessage, settled) == 1


# --- what the old races left ------------------------------------------------------------------


def test_repeated_approvals_left_by_old_races_are_settled_before_the_index(
    tmp_path: Path,
) -> None:
    with fresh_database_url(tmp_path, "approvals_once") as url:
        database = Database(url)
        try:
            with database.transaction() as session:
                built: PointsWorld = pw.__wrapped__(session, build_world(session))
                record = built.report(session, built.villager)
                service.decide(session, acting(built.leader), built.village, record, "approve")
                record_id = record.id
        finally:
            database.dispose()
        config = alembic_config(url)
        command.downgrade(config, "c1a0ac7e0005")
        database = Database(url)
        try:
            with database.transaction() as session:
                # The leader's approval stored twice more, as double taps did.
                columns = (
                    "record_id, step, role, decided_by_person_id, decision, reason, decided_at"
                )
                for _ in range(2):
                    session.execute(
                        text(
                            f"INSERT INTO points_approval ({columns}) "
                            f"SELECT {columns} FROM points_approval WHERE record_id = :r"
                            " ORDER BY id LIMIT 1"
                        ),
                        {"r": record_id},
                    )
        finally:
            database.dispose()
        command.upgrade(config, "head")
        database = Database(url)
        try:
            with database.transaction(write=False) as session:
                kept = session.execute(
                    select(Approval.step, Approval.decided_by_person_id, Approval.decision)
                ).all()
                assert [tuple(k) for k in kept] == [(0, built.leader.id, "approve")]
        finally:
            database.dispose()
