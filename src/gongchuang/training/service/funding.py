"""A class's funding: expenses against the budget per trainee, and their reversal."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.core import audit
from gongchuang.core.errors import Conflict, InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.permissions import Principal
from gongchuang.core.text import clean_text
from gongchuang.training.models import ClassExpense, ClassTrainee, TraineeStatus, TrainingClass
from gongchuang.training.service.classes import class_to_manage, get_class_for

EXPENSE_ITEMS = {
    "teaching": N_("Teaching fees"),
    "lodging": N_("Board and lodging"),
    "materials": N_("Materials"),
    "venue": N_("Venue"),
    "travel": N_("Travel"),
    "other": N_("Other"),
}


def record_expense(
    session: Session,
    actor: Principal,
    class_id: int,
    *,
    item: str,
    amount_fen: int,
    note: str = "",
) -> ClassExpense:
    klass = class_to_manage(session, actor, class_id)
    if item not in EXPENSE_ITEMS:
        raise InvalidInput(
            N_("Unknown expense item"),
            errors=[{"field": "item", "message": N_("not a known expense item")}],
        )
    if not 0 < amount_fen <= 10_000_000_00:
        raise InvalidInput(
            N_("The amount must be more than zero"),
            errors=[{"field": "amount_fen", "message": N_("positive, in fen")}],
        )
    funding = funding_of(session, klass)
    if funding.spent_fen + amount_fen > funding.budget_fen:
        raise Conflict(
            N_("This would spend more than the class's funding (%(left)s yuan left)"),
            left=f"{funding.left_fen / 100:.2f}",
        )
    expense = ClassExpense(
        class_id=klass.id,
        item=item,
        amount_fen=amount_fen,
        note=note.strip()[:300],
        recorded_by_person_id=actor.person_id,
    )
    session.add(expense)
    session.flush()
    audit.record(
        session, actor, "training.expense", "training_class", klass.id,
        after={"item": item, "fen": amount_fen},
    )  # fmt: skip
    return expense


def reverse_expense(
    session: Session, actor: Principal, class_id: int, expense_id: int, reason: str
) -> ClassExpense:
    klass = get_class_for(session, actor, class_id, manage=True)
    original = session.get(ClassExpense, expense_id)
    if original is None or original.class_id != klass.id or original.amount_fen <= 0:
        raise NotFound()
    reversal = ClassExpense(
        class_id=klass.id,
        item=original.item,
        amount_fen=-original.amount_fen,
        note=clean_text(reason, "reason", max_length=300),
        reverses_id=original.id,
        recorded_by_person_id=actor.person_id,
    )
    try:
        # Once per expense, held by uq_training_class_expense_reverses_id: of two reversals
        # at once the second waits for the first and is then refused.
        with session.begin_nested():
            session.add(reversal)
            session.flush()
    except IntegrityError:
        if session.scalar(select(ClassExpense.id).where(ClassExpense.reverses_id == original.id)):
            raise Conflict(N_("This expense was already reversed")) from None
        raise
    audit.record(
        session, actor, "training.expense.reverse", "training_class", klass.id,
        after={"reverses": original.id},
    )  # fmt: skip
    return reversal


@dataclass(frozen=True)
class Funding:
    budget_fen: int
    spent_fen: int
    entries: list[ClassExpense]

    @property
    def left_fen(self) -> int:
        return self.budget_fen - self.spent_fen


def funding_of(session: Session, klass: TrainingClass) -> Funding:
    trainees = session.scalar(
        select(func.count(ClassTrainee.id)).where(
            ClassTrainee.class_id == klass.id, ClassTrainee.status != TraineeStatus.withdrawn
        )
    )
    entries = list(
        session.scalars(
            select(ClassExpense).where(ClassExpense.class_id == klass.id).order_by(ClassExpense.id)
        )
    )
    return Funding(
        budget_fen=klass.funding_per_trainee_fen * int(trainees or 0),
        spent_fen=sum(e.amount_fen for e in entries),
        entries=entries,
    )
