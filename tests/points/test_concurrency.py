"""Redemptions raced by real threads against a committed database (PostgreSQL in the
PostgreSQL run): stock never oversells and balances never go negative."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gongchuang.core import organisations
from gongchuang.core.db import Database
from gongchuang.core.errors import Conflict
from gongchuang.core.models import Person
from gongchuang.core.permissions import SYSTEM
from gongchuang.points import service, shop
from gongchuang.points.models import PointsAccount, PointsEntry, Redemption, ShopItem
from tests.points.conftest import acting
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
