"""Matched giving and spending raced by real threads, each committing for real on a fresh
PostgreSQL database: a pot smaller than what its donors would take is given out exactly, never
below zero in any slice, and no cap's counter passes its cap (one donor's ten donations to ten
projects at once included); one donor's two donations to one project paid at once are matched
once; two approvers at once both count; a refund racing a payout on a project's last money lets
exactly one through."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.charity import service
from gongchuang.charity.models import (
    Donation,
    Expense,
    ExpenseApproval,
    ExpenseStatus,
    Match,
    MatchCounter,
    PotShard,
    Project,
)
from gongchuang.charity.schemas import DonateIn, ExpenseIn, RefundDonationIn
from gongchuang.core import payments
from gongchuang.core.clock import utcnow
from gongchuang.core.db import Database
from gongchuang.core.errors import Conflict
from gongchuang.core.models import Payment
from gongchuang.core.permissions import Principal
from tests.charity.giving import build_giving, give, open_project
from tests.support.databases import fresh_database
from tests.support.principals import acting
from tests.support.world import build_world, make_person

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    with fresh_database(tmp_path, "charity_race") as database:
        yield database


def race(callables: Sequence[Callable[[], object]]) -> tuple[int, list[BaseException]]:
    """Run every callable in its own thread, released together; (how many succeeded, errors)."""
    barrier = threading.Barrier(len(callables))
    done: list[int] = []
    errors: list[BaseException] = []

    def run(fn: Callable[[], object]) -> None:
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
        thread.join(timeout=60)
    return len(done), errors


def as_principal(person_id: int) -> Principal:
    return Principal(person_id=person_id, name=f"person#{person_id}")


def donate_and_pay(db: Database, donor_id: int, project_id: int, fen: int) -> None:
    """One donor's act, as two requests would make it: give (committed), then pay."""
    with db.transaction() as session:
        donation = service.donate(
            session, as_principal(donor_id), project_id, DonateIn(amount_fen=fen)
        )
        payment_id = donation.payment_id
    with db.transaction() as session:
        payment = session.get(Payment, payment_id)
        if payment is None:
            raise LookupError("payment")
        payments.sandbox_pay(session, payment.out_trade_no, payer_id=donor_id)


def payment_of(session: Session, donation: Donation) -> Payment:
    payment = session.get(Payment, donation.payment_id)
    if payment is None:
        raise LookupError("payment")
    return payment


def pot_figures(db: Database, pot_id: int) -> tuple[int, list[int], int, list[tuple[int, int]]]:
    """(initial total, each slice's remaining, sum of live matches, counters' (used, cap))."""
    with db.transaction() as session:
        shards = list(session.scalars(select(PotShard).where(PotShard.pot_id == pot_id)))
        matched = int(
            session.scalar(
                select(func.coalesce(func.sum(Match.amount_fen), 0)).where(Match.pot_id == pot_id)
            )
            or 0
        )
        counters = [
            (c.used_fen, c.cap_fen)
            for c in session.scalars(select(MatchCounter).where(MatchCounter.pot_id == pot_id))
        ]
        return (
            sum(s.initial_fen for s in shards),
            [s.remaining_fen for s in shards],
            matched,
            counters,
        )


def test_a_pot_smaller_than_its_donors_is_given_out_exactly_within_every_cap(
    db: Database,
) -> None:
    with db.transaction() as session:
        world = build_world(session)
        # ¥100 for 40 donors who would each take ¥5 (their day's cap) of a 1:1 match.
        giving = build_giving(session, world, total_fen=10_000, cap_donor_day_fen=500)
        projects = [giving.project] + [
            open_project(session, world, giving.charity, giving.staff) for _ in range(9)
        ]
        for project in projects[1:]:
            service.enrol(session, acting(giving.staff), giving.campaign.id, project.id)
        donors = [make_person(session, f"1360000{n:04d}", f"捐赠人{n}") for n in range(41)]
        for donor in donors:
            donor.created_at = utcnow() - timedelta(days=30)
        session.flush()
        pot_id = giving.pot.id
        project_ids = [p.id for p in projects]
        donor_ids = [d.id for d in donors]
    crowd = [partial(donate_and_pay, db, d, project_ids[0], 1_000) for d in donor_ids[:40]]
    # The 41st donor gives to all ten projects at once: their day's cap still holds.
    eager = donor_ids[40]
    spread = [partial(donate_and_pay, db, eager, p, 1_000) for p in project_ids]
    done, errors = race(crowd + spread)
    assert errors == [] and done == 50

    total, slices, matched, counters = pot_figures(db, pot_id)
    assert all(left >= 0 for left in slices)
    assert matched == total - sum(slices)
    assert matched == total == 10_000  # demand (¥205) was more than the pot: all given out
    assert all(0 <= used <= cap for used, cap in counters)
    with db.transaction() as session:
        eager_matched = int(
            session.scalar(
                select(func.coalesce(func.sum(Match.amount_fen), 0)).where(Match.donor_id == eager)
            )
            or 0
        )
        raised = session.scalar(select(func.sum(Project.raised_fen))) or 0
        credited = session.scalar(select(func.sum(Project.matched_fen))) or 0
    assert eager_matched <= 500
    assert raised == 50 * 1_000
    assert credited == matched  # every match credited (no signal fired), none lost


def test_the_per_donor_day_cap_holds_for_ten_donations_at_once(db: Database) -> None:
    with db.transaction() as session:
        world = build_world(session)
        giving = build_giving(session, world, total_fen=1_000_000, cap_donor_day_fen=500)
        projects = [giving.project] + [
            open_project(session, world, giving.charity, giving.staff) for _ in range(9)
        ]
        for project in projects[1:]:
            service.enrol(session, acting(giving.staff), giving.campaign.id, project.id)
        donor_id = giving.donors[0].id
        project_ids = [p.id for p in projects]
        pot_id = giving.pot.id
    done, errors = race([partial(donate_and_pay, db, donor_id, p, 1_000) for p in project_ids])
    assert errors == [] and done == 10
    total, slices, matched, counters = pot_figures(db, pot_id)
    assert matched == 500  # the cap, not 10 × ¥10
    assert matched == total - sum(slices)
    assert all(0 <= used <= cap for used, cap in counters)


def test_two_donations_to_one_project_paid_at_once_are_matched_once(db: Database) -> None:
    with db.transaction() as session:
        world = build_world(session)
        giving = build_giving(session, world)
        donor = giving.donors[0]
        pending = [
            service.donate(session, acting(donor), giving.project.id, DonateIn(amount_fen=2_000))
            for _ in range(2)
        ]
        trades = [payment_of(session, d).out_trade_no for d in pending]
        donor_id, pot_id = donor.id, giving.pot.id

    def pay(trade: str) -> Callable[[], object]:
        def run() -> None:
            with db.transaction() as session:
                payments.sandbox_pay(session, trade, payer_id=donor_id)

        return run

    done, errors = race([pay(trade) for trade in trades])
    assert errors == [] and done == 2
    with db.transaction() as session:
        matches = list(session.scalars(select(Match).where(Match.pot_id == pot_id)))
        paid = session.scalar(
            select(func.count()).select_from(Donation).where(Donation.status == "paid")
        )
    assert paid == 2
    assert len(matches) == 1 and matches[0].amount_fen == 2_000


def test_approvals_at_once_and_a_refund_racing_a_payout(db: Database) -> None:
    with db.transaction() as session:
        world = build_world(session)
        giving = build_giving(session, world)
        # A project in no campaign: it holds exactly what one donation brought.
        project = open_project(session, world, giving.charity, giving.staff)
        donation = give(session, giving.donors[0], project, 10_000)
        staff = acting(giving.staff)
        food = service.budget_lines(session, project.id)[0]
        expense = service.create_expense(
            session,
            staff,
            project.id,
            ExpenseIn(
                budget_line_id=food.id,
                amount_fen=10_000,
                payee="粮油店",
                description="食材",
                invoice_number="INV-1",
            ),
        )
        service.submit_expense(session, staff, expense.id)
        expense_id, project_id, code = expense.id, project.id, donation.code
        finance = [person.id for person in giving.finance]
        staff_id = giving.staff.id

    def approve(person_id: int) -> Callable[[], object]:
        def run() -> None:
            with db.transaction() as session:
                service.approve_expense(session, as_principal(person_id), expense_id)

        return run

    done, errors = race([approve(person_id) for person_id in finance])
    assert errors == [] and done == 2
    with db.transaction() as session:
        approved = session.get(Expense, expense_id)
        approvals = session.scalar(
            select(func.count())
            .select_from(ExpenseApproval)
            .where(ExpenseApproval.expense_id == expense_id)
        )
        assert approved is not None and approved.status == ExpenseStatus.approved
    assert approvals == 2

    def refund() -> None:
        with db.transaction() as session:
            service.refund_donation(
                session, as_principal(staff_id), code, RefundDonationIn(reason="捐赠人申请")
            )

    def payout() -> None:
        with db.transaction() as session:
            service.pay_expense(session, as_principal(staff_id), expense_id)

    done, errors = race([refund, payout])
    assert done == 1
    assert len(errors) == 1 and isinstance(errors[0], Conflict)
    with db.transaction() as session:
        held = session.get(Project, project_id)
        assert held is not None
        assert 0 <= held.spent_fen <= held.raised_fen + held.matched_fen
        paid_out = session.get(Expense, expense_id)
        refunded = session.scalar(select(Donation).where(Donation.code == code))
        assert paid_out is not None and refunded is not None
        # Exactly one of the two happened.
        assert (paid_out.status == ExpenseStatus.paid) != (refunded.status == "refunded")
