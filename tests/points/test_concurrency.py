"""Redemptions, records and objections raced by real threads against a committed database
(PostgreSQL in the PostgreSQL run): stock never oversells, balances never go negative, a rule's
cap and one open objection per villager hold when one villager sends several at once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gongchuang.core import organisations
from gongchuang.core.db import Database
from gongchuang.core.errors import Conflict, InvalidInput
from gongchuang.core.models import Person
from gongchuang.core.permissions import SYSTEM
from gongchuang.points import service, shop
from gongchuang.points.models import (
    Objection,
    PointRecord,
    PointsAccount,
    PointsEntry,
    RecordStatus,
    Redemption,
    ShopItem,
)
from tests.points.conftest import PointsWorld, acting, pw
from tests.support.databases import fresh_database
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
        ids = {"village": built.village.id, "villager": built.villager.id}
        return {**ids, "neighbour": built.neighbour.id}, prepared


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
