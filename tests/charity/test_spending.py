"""Spending: expenses within their budget lines, approved by others than their submitter, paid
from money received, with one balanced pair in the ledger each; community funds granting what
they have received, to open calls, once per organisation, never by an interested keeper. Every
refusal leaves counters, statuses and the ledger as they were."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.charity import service
from gongchuang.charity.models import (
    BudgetLine,
    Expense,
    ExpenseApproval,
    ExpenseStatus,
    Fund,
    FundCall,
    GrantReport,
    LedgerEntry,
    Project,
    Proposal,
    ProposalStatus,
)
from gongchuang.charity.schemas import (
    BudgetLineIn,
    ExpenseIn,
    GrantReportIn,
    ProjectIn,
    ProposalDecisionIn,
    ProposalIn,
    RejectIn,
)
from gongchuang.core import auth
from gongchuang.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from gongchuang.core.models import OutboxMessage, Person
from gongchuang.core.permissions import Principal
from tests.charity.conftest import (
    CharityWorld,
    FundWorld,
    fund_receives,
    join,
    open_fund_call,
    receive,
)
from tests.support.principals import acting
from tests.support.world import make_person


def state(session: Session) -> dict[str, Any]:
    """What a refusal must leave alone, read from the tables (not from loaded objects)."""
    session.flush()
    rows = lambda *columns: session.execute(select(*columns).order_by(columns[0])).all()  # noqa: E731
    count = lambda model: session.scalar(select(func.count()).select_from(model))  # noqa: E731
    return {
        "lines": rows(BudgetLine.id, BudgetLine.committed_fen),
        "projects": rows(Project.id, Project.raised_fen, Project.matched_fen, Project.spent_fen),
        "expenses": rows(Expense.id, Expense.status, Expense.decided_at, Expense.paid_at),
        "approvals": count(ExpenseApproval),
        "ledger": rows(LedgerEntry.id, LedgerEntry.account, LedgerEntry.amount_fen),
        "funds": rows(Fund.id, Fund.received_fen, Fund.granted_fen),
        "calls": rows(FundCall.id, FundCall.granted_fen),
        "proposals": rows(Proposal.id, Proposal.status, Proposal.granted_fen),
        "reports": count(GrantReport),
    }


def as_(person: Person) -> Principal:
    """The person acting in their own name, a platform administrator as one."""
    return auth.principal_for(person, via="session")


def draft(
    session: Session, cw: CharityWorld, amount_fen: int, *, by: Person | None = None, **kw: Any
) -> Expense:
    terms: dict[str, Any] = {
        "budget_line_id": cw.supplies.id,
        "payee": "新华书店",
        "description": "儿童读物一批",
        "invoice_number": "04400000001",
    }
    terms.update(kw)
    return service.create_expense(
        session, as_(by or cw.manager), cw.project.id, ExpenseIn(amount_fen=amount_fen, **terms)
    )


def submitted(session: Session, cw: CharityWorld, amount_fen: int, **kw: Any) -> Expense:
    expense = draft(session, cw, amount_fen, **kw)
    return service.submit_expense(session, as_(kw.get("by") or cw.manager), expense.id)


def approved(session: Session, cw: CharityWorld, amount_fen: int) -> Expense:
    expense = submitted(session, cw, amount_fen)
    for person in cw.finance:
        service.approve_expense(session, acting(person), expense.id)
    return expense


# --- expenses ---------------------------------------------------------------------------------


def test_submitting_commits_on_the_budget_line(
    session: Session, charity_world: CharityWorld
) -> None:
    cw = charity_world
    expense = submitted(session, cw, 20_000)
    assert expense.status == ExpenseStatus.pending
    assert expense.submitted_at is not None
    session.refresh(cw.supplies)
    assert cw.supplies.committed_fen == 20_000


def test_an_expense_over_its_budget_line_is_refused(
    session: Session, charity_world: CharityWorld
) -> None:
    cw = charity_world
    submitted(session, cw, 35_000)
    expense = draft(session, cw, 15_001)
    before = state(session)
    with pytest.raises(Conflict) as refused:
        service.submit_expense(session, acting(cw.manager), expense.id)
    assert refused.value.params["left"] == "150.00"
    assert state(session) == before
    # What is left still fits.
    fits = draft(session, cw, 15_000)
    service.submit_expense(session, acting(cw.manager), fits.id)
    session.refresh(cw.supplies)
    assert cw.supplies.committed_fen == cw.supplies.budget_fen


def test_a_budget_line_of_another_project_is_refused(
    session: Session, charity_world: CharityWorld
) -> None:
    cw = charity_world
    other = service.create_project(
        session,
        acting(cw.manager),
        cw.charity.id,
        ProjectIn(
            title="另一个项目",
            region_id=cw.world.village_a_region.id,
            goal_fen=10_000,
            budget_lines=[BudgetLineIn(name="杂项", budget_fen=10_000)],
        ),
    )
    foreign_line = service.budget_lines(session, other.id)[0]
    before = state(session)
    with pytest.raises(InvalidInput) as refused:
        draft(session, cw, 1_000, budget_line_id=foreign_line.id)
    assert refused.value.errors[0]["field"] == "budget_line_id"
    with pytest.raises(InvalidInput) as refused:
        draft(session, cw, 1_000, invoice_file_id=987_654)
    assert refused.value.errors[0]["field"] == "invoice_file_id"
    assert state(session) == before


def test_an_expense_without_an_invoice_is_not_submitted(
    session: Session, charity_world: CharityWorld
) -> None:
    cw = charity_world
    expense = draft(session, cw, 1_000, invoice_number="")
    before = state(session)
    with pytest.raises(InvalidInput):
        service.submit_expense(session, acting(cw.manager), expense.id)
    assert state(session) == before


def test_the_submitter_never_approves_their_own_expense(
    session: Session, charity_world: CharityWorld
) -> None:
    cw = charity_world
    expense = submitted(session, cw, 10_000)  # by the cadre, who holds APPROVE too
    before = state(session)
    with pytest.raises(PermissionDenied):
        service.approve_expense(session, acting(cw.manager), expense.id)
    assert state(session) == before
    # Nor does a platform administrator who submitted one.
    admin = cw.world.admin
    own = submitted(session, cw, 5_000, by=admin)
    before = state(session)
    with pytest.raises(PermissionDenied):
        service.approve_expense(session, as_(admin), own.id)
    assert state(session) == before


def test_one_person_approves_once(session: Session, charity_world: CharityWorld) -> None:
    cw = charity_world
    expense = submitted(session, cw, 10_000)
    service.approve_expense(session, acting(cw.finance[0]), expense.id)
    before = state(session)
    with pytest.raises(Conflict):
        service.approve_expense(session, acting(cw.finance[0]), expense.id)
    assert state(session) == before
    assert [a.approver_id for a in service.approvals_of(session, expense.id)] == [cw.finance[0].id]
    assert expense.status == ExpenseStatus.pending


def test_approved_when_the_charitys_number_of_approvers_is_reached(
    session: Session, charity_world: CharityWorld
) -> None:
    cw = charity_world
    expense = submitted(session, cw, 10_000)
    service.approve_expense(session, acting(cw.finance[0]), expense.id)
    assert expense.status == ExpenseStatus.pending
    assert expense.decided_at is None
    service.approve_expense(session, acting(cw.finance[1]), expense.id)
    assert expense.status == ExpenseStatus.approved
    assert expense.decided_at is not None
    # Approved, it takes no more approvals.
    third = make_person(session, "13800009999", "财务三")
    session.flush()
    join(session, cw.world.village_a.id, third, "finance")
    before = state(session)
    with pytest.raises(Conflict):
        service.approve_expense(session, acting(third), expense.id)
    assert state(session) == before


def test_a_member_without_approve_cannot_approve(
    session: Session, charity_world: CharityWorld
) -> None:
    cw = charity_world
    expense = submitted(session, cw, 10_000)
    before = state(session)
    for person in (cw.world.villager_a, cw.world.cadre_b):
        with pytest.raises(NotFound):
            service.approve_expense(session, acting(person), expense.id)
    assert state(session) == before


def test_rejecting_gives_the_commitment_back(session: Session, charity_world: CharityWorld) -> None:
    cw = charity_world
    expense = submitted(session, cw, 30_000)
    service.approve_expense(session, acting(cw.finance[0]), expense.id)
    service.reject_expense(session, acting(cw.finance[1]), expense.id, RejectIn(reason="发票不符"))
    assert expense.status == ExpenseStatus.rejected
    assert expense.rejection_reason == "发票不符"
    session.refresh(cw.supplies)
    assert cw.supplies.committed_fen == 0
    before = state(session)
    with pytest.raises(Conflict):
        service.reject_expense(session, acting(cw.finance[1]), expense.id, RejectIn(reason="再次"))
    with pytest.raises(Conflict):
        service.pay_expense(session, acting(cw.manager), expense.id)
    assert state(session) == before


def test_paying_without_money_received_is_refused(
    session: Session, charity_world: CharityWorld
) -> None:
    cw = charity_world
    receive(session, cw.project, 9_999)
    expense = approved(session, cw, 10_000)
    before = state(session)
    with pytest.raises(Conflict) as refused:
        service.pay_expense(session, acting(cw.manager), expense.id)
    assert refused.value.params["left"] == "99.99"
    assert state(session) == before
    assert expense.status == ExpenseStatus.approved


def test_a_pending_expense_is_not_paid(session: Session, charity_world: CharityWorld) -> None:
    cw = charity_world
    receive(session, cw.project, 50_000)
    expense = submitted(session, cw, 10_000)
    before = state(session)
    with pytest.raises(Conflict):
        service.pay_expense(session, acting(cw.manager), expense.id)
    assert state(session) == before


def test_paying_writes_one_balanced_pair_in_the_ledger(
    session: Session, charity_world: CharityWorld
) -> None:
    cw = charity_world
    receive(session, cw.project, 50_000)
    expense = approved(session, cw, 12_345)
    ledger_before = state(session)["ledger"]
    service.pay_expense(session, acting(cw.manager), expense.id)
    assert expense.status == ExpenseStatus.paid
    assert expense.paid_at is not None
    session.refresh(cw.project)
    assert cw.project.spent_fen == 12_345
    pair = list(
        session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.source == f"expense:{expense.id}")
            .order_by(LedgerEntry.side)
        )
    )
    assert [(e.side, e.account, e.amount_fen) for e in pair] == [
        ("credit", f"payee:{expense.id}", 12_345),
        ("debit", f"project:{cw.project.id}", 12_345),
    ]
    assert pair[0].movement == pair[1].movement
    assert {e.kind for e in pair} == {"expense"}
    assert len(state(session)["ledger"]) == len(ledger_before) + 2
    assert service.unbalanced_movements(session) == []
    assert service.balance(session, f"project:{cw.project.id}").balance_fen == 50_000 - 12_345
    # Paid once: a second payment is refused and writes nothing.
    before = state(session)
    with pytest.raises(Conflict):
        service.pay_expense(session, acting(cw.manager), expense.id)
    assert state(session) == before


# --- community funds --------------------------------------------------------------------------


def propose(session: Session, fw: FundWorld, requested_fen: int = 50_000, **kw: Any) -> Proposal:
    call = kw.pop("call", fw.call)
    by = kw.pop("by", fw.proposer)
    return service.submit_proposal(
        session,
        acting(by),
        call.id,
        ProposalIn(
            organisation_id=kw.pop("organisation_id", fw.world.village_a.id),
            title="老人助餐点",
            plan="每周三次为独居老人送餐",
            requested_fen=requested_fen,
        ),
    )


def grant(session: Session, fw: FundWorld, proposal: Proposal, fen: int) -> Proposal:
    return service.decide_proposal(
        session,
        acting(fw.keeper),
        proposal.id,
        ProposalDecisionIn(decision="grant", granted_fen=fen, note="同意"),
    )


def test_a_grant_moves_the_counters_and_writes_one_pair(
    session: Session, fund_world: FundWorld
) -> None:
    fw = fund_world
    fund_receives(session, fw.fund, 80_000)
    proposal = grant(session, fw, propose(session, fw), 30_000)
    assert proposal.status == ProposalStatus.granted
    assert proposal.granted_fen == 30_000
    assert proposal.decided_by == fw.keeper.id
    session.refresh(fw.fund)
    session.refresh(fw.call)
    assert (fw.fund.granted_fen, fw.call.granted_fen) == (30_000, 30_000)
    pair = list(
        session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.source == f"proposal:{proposal.id}")
            .order_by(LedgerEntry.side)
        )
    )
    assert [(e.side, e.account, e.amount_fen) for e in pair] == [
        ("credit", f"grantee:{fw.world.village_a.id}", 30_000),
        ("debit", f"fund:{fw.fund.id}", 30_000),
    ]
    assert service.unbalanced_movements(session) == []
    assert session.scalar(select(func.count()).where(OutboxMessage.topic == "charity.grant_made"))
    assert [p.id for p in service.grants_of_fund(session, fw.fund.id)] == [proposal.id]


def test_a_grant_over_what_the_fund_received_is_refused(
    session: Session, fund_world: FundWorld
) -> None:
    fw = fund_world
    fund_receives(session, fw.fund, 10_000)
    proposal = propose(session, fw)
    before = state(session)
    with pytest.raises(Conflict) as refused:
        grant(session, fw, proposal, 20_000)
    assert refused.value.params["received"] == "100.00"
    assert state(session) == before
    assert proposal.status == ProposalStatus.submitted


def test_a_grant_over_the_calls_budget_or_the_request_is_refused(
    session: Session, fund_world: FundWorld
) -> None:
    fw = fund_world
    fund_receives(session, fw.fund, 500_000)
    proposal = propose(session, fw, requested_fen=200_000)
    before = state(session)
    with pytest.raises(Conflict) as refused:
        grant(session, fw, proposal, 100_001)  # the call has ¥1,000.00
    assert refused.value.params["left"] == "1000.00"
    with pytest.raises(InvalidInput):
        grant(session, fw, proposal, 200_001)  # more than asked for
    assert state(session) == before


def test_a_proposal_to_a_closed_call_is_refused(session: Session, fund_world: FundWorld) -> None:
    fw = fund_world
    closed = open_fund_call(session, fw.keeper, fw.fund, opened_days_ago=30, closes_in_days=-1)
    not_yet = open_fund_call(session, fw.keeper, fw.fund, opened_days_ago=-1, closes_in_days=9)
    before = state(session)
    for call in (closed, not_yet):
        with pytest.raises(Conflict):
            propose(session, fw, call=call)
    assert state(session) == before


def test_an_organisation_proposes_once_per_call(session: Session, fund_world: FundWorld) -> None:
    fw = fund_world
    propose(session, fw)
    before = state(session)
    with pytest.raises(Conflict):
        propose(session, fw, requested_fen=10_000)
    assert state(session) == before
    assert len(service.proposals_of(session, fw.call.id)) == 1


def test_the_keeper_does_not_propose_to_its_own_fund(
    session: Session, fund_world: FundWorld
) -> None:
    fw = fund_world
    before = state(session)
    with pytest.raises(Conflict):
        propose(session, fw, by=fw.keeper, organisation_id=fw.world.village_b.id)
    assert state(session) == before


def test_a_decider_from_the_proposing_organisation_is_refused(
    session: Session, fund_world: FundWorld
) -> None:
    fw = fund_world
    fund_receives(session, fw.fund, 80_000)
    # Keeps the fund for village B and belongs to village A, which proposes.
    both = make_person(session, "13800008888", "两边都在")
    session.flush()
    join(session, fw.world.village_b.id, both, "admin")
    join(session, fw.world.village_a.id, both, "member")
    proposal = propose(session, fw)
    before = state(session)
    for decision in (
        ProposalDecisionIn(decision="grant", granted_fen=10_000),
        ProposalDecisionIn(decision="decline", note="不合适"),
    ):
        with pytest.raises(Conflict):
            service.decide_proposal(session, acting(both), proposal.id, decision)
    assert state(session) == before


def test_a_decided_proposal_is_not_decided_again(session: Session, fund_world: FundWorld) -> None:
    fw = fund_world
    fund_receives(session, fw.fund, 80_000)
    proposal = propose(session, fw)
    service.decide_proposal(
        session, acting(fw.keeper), proposal.id, ProposalDecisionIn(decision="decline", note="否")
    )
    assert proposal.status == ProposalStatus.declined
    before = state(session)
    with pytest.raises(Conflict):
        grant(session, fw, proposal, 10_000)
    assert state(session) == before


def test_reports_never_say_more_was_spent_than_granted(
    session: Session, fund_world: FundWorld
) -> None:
    fw = fund_world
    fund_receives(session, fw.fund, 80_000)
    proposal = grant(session, fw, propose(session, fw), 20_000)
    proposer = acting(fw.proposer)
    service.report_on_grant(
        session, proposer, proposal.id, GrantReportIn(text="第一季度送餐", spent_fen=15_000)
    )
    before = state(session)
    with pytest.raises(InvalidInput) as refused:
        service.report_on_grant(
            session, proposer, proposal.id, GrantReportIn(text="第二季度", spent_fen=5_001)
        )
    assert refused.value.params["left"] == "50.00"
    assert state(session) == before
    service.report_on_grant(
        session, proposer, proposal.id, GrantReportIn(text="第二季度", spent_fen=5_000)
    )
    assert [r.spent_fen for r in service.reports_of(session, proposal.id)] == [15_000, 5_000]
