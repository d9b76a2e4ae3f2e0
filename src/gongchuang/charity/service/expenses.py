"""Disbursement: a project's expenses, from a draft through several people's approval to the
payment that the public ledger shows.

Money is held by the database, not by a read in the code: submitting commits the amount on its
budget line, and paying adds it to what the project has spent, each by one conditional UPDATE
whose WHERE clause is the rule (the line has that much left; the project has received that much);
the tables' CHECK constraints are the last line. The expense's own row is locked first in every
change, then the budget line, then the project: always in that order, so two changes wait for
each other instead of deadlocking."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.charity.models import (
    EXPENSE_STATUS_LABELS,
    BudgetLine,
    EntryKind,
    Expense,
    ExpenseApproval,
    ExpenseStatus,
    Project,
)
from gongchuang.charity.permissions import CharityPerm
from gongchuang.charity.schemas import ExpenseIn, RejectIn
from gongchuang.charity.service._common import (
    charity_of,
    check_own_file,
    person_of,
    project_to_manage,
    synced,
)
from gongchuang.charity.service.ledger import project_account, write_movement
from gongchuang.core import audit
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, said
from gongchuang.core.i18n import N_
from gongchuang.core.money import fen_to_yuan
from gongchuang.core.permissions import Principal

# draft → pending (submitted) → approved → paid; a pending expense may be rejected instead, which
# gives its amount back to the budget line. Every move is checked here (`_check_move`).
EXPENSE_TRANSITIONS: dict[str, frozenset[str]] = {
    ExpenseStatus.draft: frozenset({ExpenseStatus.pending}),
    ExpenseStatus.pending: frozenset({ExpenseStatus.approved, ExpenseStatus.rejected}),
    ExpenseStatus.approved: frozenset({ExpenseStatus.paid}),
    ExpenseStatus.paid: frozenset(),
    ExpenseStatus.rejected: frozenset(),
}

# The tables themselves: the counters move by statements that bypass the ORM's unit of work.
LINES = cast(Table, BudgetLine.__table__)
PROJECTS = cast(Table, Project.__table__)

_AUDITED = ("status", "amount_fen", "budget_line_id", "payee", "invoice_number")


def _check_move(expense: Expense, to: ExpenseStatus) -> None:
    if to not in EXPENSE_TRANSITIONS[expense.status]:
        raise Conflict(
            N_("This expense cannot go from “%(before)s” to “%(after)s”"),
            before=said(EXPENSE_STATUS_LABELS[expense.status]),
            after=said(EXPENSE_STATUS_LABELS[to]),
        )


def expense_to_manage(
    session: Session, actor: Principal, expense_id: int, perm: CharityPerm = CharityPerm.MANAGE
) -> Expense:
    expense = session.get(Expense, expense_id)
    if expense is None:
        raise NotFound()
    project_to_manage(session, actor, expense.project_id, perm)
    return expense


def _expense_to_change(
    session: Session, actor: Principal, expense_id: int, perm: CharityPerm
) -> Expense:
    """The expense, its row locked until the commit (PostgreSQL; SQLite writes one at a time)
    and read afresh: whoever changes it next sees this change's outcome."""
    expense = session.scalar(
        select(Expense)
        .where(Expense.id == expense_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if expense is None:
        raise NotFound()
    project_to_manage(session, actor, expense.project_id, perm)
    return expense


def create_expense(
    session: Session, actor: Principal, project_id: int, command: ExpenseIn
) -> Expense:
    """A draft: it commits nothing until it is submitted."""
    project = project_to_manage(session, actor, project_id)
    line = session.get(BudgetLine, command.budget_line_id)
    if line is None or line.project_id != project.id:
        raise InvalidInput(
            N_("This project has no such budget line"),
            errors=[
                {"field": "budget_line_id", "message": N_("not a budget line of this project")}
            ],
        )
    check_own_file(session, actor, command.invoice_file_id, "invoice_file_id")
    expense = Expense(
        project_id=project.id,
        budget_line_id=line.id,
        amount_fen=command.amount_fen,
        payee=command.payee,
        description=command.description,
        invoice_number=command.invoice_number,
        invoice_file_id=command.invoice_file_id,
        status=ExpenseStatus.draft,
        submitted_by=person_of(actor),
    )
    session.add(expense)
    session.flush()
    audit.record(
        session,
        actor,
        "charity.expense_created",
        "charity_expense",
        expense.id,
        after=audit.snapshot(expense, _AUDITED),
    )
    return expense


def _line_left_fen(session: Session, line_id: int) -> int:
    row = session.execute(
        select(LINES.c.budget_fen, LINES.c.committed_fen).where(LINES.c.id == line_id)
    ).one()
    return max(0, int(row.budget_fen) - int(row.committed_fen))


def submit_expense(session: Session, actor: Principal, expense_id: int) -> Expense:
    """Ask for approval: the amount is committed on the budget line now, or refused whole."""
    expense = _expense_to_change(session, actor, expense_id, CharityPerm.MANAGE)
    _check_move(expense, ExpenseStatus.pending)
    if expense.submitted_by != actor.person_id:
        # The one who drafted it submits it, so "never approved by its submitter" means by
        # the person who wrote it.
        raise Conflict(N_("Only the person who drafted this expense can submit it"))
    if not expense.invoice_number and expense.invoice_file_id is None:
        raise InvalidInput(
            N_("An expense needs an invoice (its number or a scan) before it is submitted"),
            errors=[{"field": "invoice_number", "message": N_("an invoice is needed")}],
        )
    session.flush()  # the UPDATE below is the table's, not the ORM's: no autoflush
    amount = expense.amount_fen
    committed = session.execute(
        update(LINES)
        .where(
            LINES.c.id == expense.budget_line_id,
            LINES.c.committed_fen + amount <= LINES.c.budget_fen,
        )
        .values(committed_fen=LINES.c.committed_fen + amount)
        .returning(LINES.c.committed_fen)
    ).first()
    if committed is None:
        raise Conflict(
            N_("This budget line has only ¥%(left)s left: the expense is more than that"),
            left=fen_to_yuan(_line_left_fen(session, expense.budget_line_id)),
            errors=[{"field": "amount_fen", "message": N_("more than the budget line has left")}],
        )
    synced(session, BudgetLine, expense.budget_line_id, committed_fen=committed.committed_fen)
    before = audit.snapshot(expense, ("status",))
    expense.status = ExpenseStatus.pending
    expense.submitted_at = utcnow()
    audit.record(
        session,
        actor,
        "charity.expense_submitted",
        "charity_expense",
        expense.id,
        before=before,
        after=audit.snapshot(expense, ("status", "amount_fen")),
    )
    return expense


def approve_expense(session: Session, actor: Principal, expense_id: int) -> Expense:
    """One approval; the expense is approved when the charity's number of approvers is reached.
    Whoever submitted it never approves it, a platform administrator included."""
    expense = _expense_to_change(session, actor, expense_id, CharityPerm.APPROVE)
    _check_move(expense, ExpenseStatus.approved)
    approver = person_of(actor)
    if approver == expense.submitted_by:
        raise PermissionDenied(
            N_("You submitted this expense: it must be approved by other people")
        )
    already = Conflict(N_("You have already approved this expense"))
    if approvals_count(session, expense.id, approver) > 0:
        raise already
    try:
        # The unique constraint decides between two approvals by one person that both got here.
        with session.begin_nested():
            session.add(ExpenseApproval(expense_id=expense.id, approver_id=approver))
            session.flush()
    except IntegrityError:
        raise already from None
    approvals = approvals_count(session, expense.id)
    needed = charity_of(session, _project(session, expense)).expense_approvers
    before = audit.snapshot(expense, ("status",))
    if approvals >= needed:
        expense.status = ExpenseStatus.approved
        expense.decided_at = utcnow()
    audit.record(
        session,
        actor,
        "charity.expense_approved",
        "charity_expense",
        expense.id,
        before=before,
        after={"status": expense.status, "approvals": approvals, "needed": needed},
    )
    return expense


def reject_expense(
    session: Session, actor: Principal, expense_id: int, command: RejectIn
) -> Expense:
    """Refuse a submitted expense: what it committed goes back to its budget line."""
    expense = _expense_to_change(session, actor, expense_id, CharityPerm.APPROVE)
    _check_move(expense, ExpenseStatus.rejected)
    session.flush()
    amount = expense.amount_fen
    given_back = session.execute(
        update(LINES)
        .where(LINES.c.id == expense.budget_line_id, LINES.c.committed_fen >= amount)
        .values(committed_fen=LINES.c.committed_fen - amount)
        .returning(LINES.c.committed_fen)
    ).first()
    if given_back is None:
        # A pending expense always holds its amount on the line: this is a broken invariant.
        raise LookupError(
            f"budget line {expense.budget_line_id} does not hold expense {expense.id}"
        )
    synced(session, BudgetLine, expense.budget_line_id, committed_fen=given_back.committed_fen)
    before = audit.snapshot(expense, ("status",))
    expense.status = ExpenseStatus.rejected
    expense.rejection_reason = command.reason
    expense.decided_at = utcnow()
    audit.record(
        session,
        actor,
        "charity.expense_rejected",
        "charity_expense",
        expense.id,
        before=before,
        after={"status": expense.status, "reason": command.reason},
    )
    return expense


def pay_expense(session: Session, actor: Principal, expense_id: int) -> Expense:
    """Pay an approved expense out of what the project has received (donations and matches),
    and write the payment in the public ledger."""
    expense = _expense_to_change(session, actor, expense_id, CharityPerm.MANAGE)
    _check_move(expense, ExpenseStatus.paid)
    session.flush()
    amount = expense.amount_fen
    spent = session.execute(
        update(PROJECTS)
        .where(
            PROJECTS.c.id == expense.project_id,
            PROJECTS.c.spent_fen + amount <= PROJECTS.c.raised_fen + PROJECTS.c.matched_fen,
        )
        .values(spent_fen=PROJECTS.c.spent_fen + amount)
        .returning(PROJECTS.c.spent_fen)
    ).first()
    if spent is None:
        raise Conflict(
            N_(
                "Not enough money received yet: the project has ¥%(left)s left to spend, "
                "the expense is ¥%(amount)s"
            ),
            left=fen_to_yuan(_project_left_fen(session, expense.project_id)),
            amount=fen_to_yuan(amount),
        )
    synced(session, Project, expense.project_id, spent_fen=spent.spent_fen)
    write_movement(
        session,
        kind=EntryKind.expense,
        source=f"expense:{expense.id}",
        debit=project_account(expense.project_id),
        credit=f"payee:{expense.id}",
        amount_fen=amount,
        project_id=expense.project_id,
        memo=expense.payee,
    )
    before = audit.snapshot(expense, ("status",))
    expense.status = ExpenseStatus.paid
    expense.paid_at = utcnow()
    audit.record(
        session,
        actor,
        "charity.expense_paid",
        "charity_expense",
        expense.id,
        before=before,
        after={"status": expense.status, "amount_fen": amount, "payee": expense.payee},
    )
    return expense


def _project(session: Session, expense: Expense) -> Project:
    project = session.get(Project, expense.project_id)
    if project is None:
        raise LookupError(f"project {expense.project_id} of expense {expense.id}")
    return project


def _project_left_fen(session: Session, project_id: int) -> int:
    row = session.execute(
        select(PROJECTS.c.raised_fen, PROJECTS.c.matched_fen, PROJECTS.c.spent_fen).where(
            PROJECTS.c.id == project_id
        )
    ).one()
    return max(0, int(row.raised_fen) + int(row.matched_fen) - int(row.spent_fen))


# --- queries ----------------------------------------------------------------------------------


def approvals_count(session: Session, expense_id: int, approver_id: int | None = None) -> int:
    query = select(func.count()).where(ExpenseApproval.expense_id == expense_id)
    if approver_id is not None:
        query = query.where(ExpenseApproval.approver_id == approver_id)
    return int(session.scalar(query) or 0)


def expenses_of(session: Session, project_id: int) -> list[Expense]:
    return list(
        session.scalars(
            select(Expense).where(Expense.project_id == project_id).order_by(Expense.id.desc())
        )
    )


def approvals_of(session: Session, expense_id: int) -> list[ExpenseApproval]:
    return list(
        session.scalars(
            select(ExpenseApproval)
            .where(ExpenseApproval.expense_id == expense_id)
            .order_by(ExpenseApproval.id)
        )
    )
