"""Community funds (社区基金, 五社联动): a residents' committee or foundation keeps a fund, opens
calls for proposals, and grants community organisations what the fund has received.

A grant moves two counters, the call's (never more than its budget) and the fund's (never more
than it has received), each by one conditional UPDATE inside one savepoint: refused, neither has
moved. The proposal's row is locked before it is decided or reported on, so that two keepers
deciding at once, or two reports at once, are taken one after the other."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.charity.models import (
    PROPOSAL_STATUS_LABELS,
    EntryKind,
    Fund,
    FundCall,
    GrantReport,
    Proposal,
    ProposalStatus,
)
from gongchuang.charity.permissions import CharityPerm
from gongchuang.charity.schemas import (
    FundCallIn,
    FundIn,
    GrantReportIn,
    ProposalDecisionIn,
    ProposalIn,
)
from gongchuang.charity.service._common import (
    check_own_file,
    fund_to_keep,
    person_of,
    require,
    synced,
)
from gongchuang.charity.service.ledger import fund_account, write_movement
from gongchuang.core import audit, events
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, InvalidInput, NotFound, said
from gongchuang.core.i18n import N_
from gongchuang.core.models import Membership, Organisation, Region
from gongchuang.core.money import fen_to_yuan
from gongchuang.core.permissions import Principal
from gongchuang.topics.charity import GrantMade

CALLS = cast(Table, FundCall.__table__)
FUNDS = cast(Table, Fund.__table__)


def _organisation(session: Session, organisation_id: int) -> Organisation:
    # Checked before the permission: a platform administrator holds every permission, even on
    # an organisation that does not exist.
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound()
    return organisation


def create_fund(session: Session, actor: Principal, command: FundIn) -> Fund:
    organisation = _organisation(session, command.organisation_id)
    require(session, actor, CharityPerm.MANAGE, organisation.id)
    if session.get(Region, command.region_id) is None:
        raise InvalidInput(
            N_("No such region"), errors=[{"field": "region_id", "message": N_("no such region")}]
        )
    fund = Fund(
        organisation_id=organisation.id,
        region_id=command.region_id,
        name=command.name,
        description=command.description,
    )
    session.add(fund)
    session.flush()
    audit.record(
        session,
        actor,
        "charity.fund_created",
        "charity_fund",
        fund.id,
        after=audit.snapshot(fund, ("organisation_id", "region_id", "name")),
    )
    return fund


def open_call(session: Session, actor: Principal, fund_id: int, command: FundCallIn) -> FundCall:
    fund = fund_to_keep(session, actor, fund_id)
    call = FundCall(
        fund_id=fund.id,
        title=command.title,
        description=command.description,
        budget_fen=command.budget_fen,
        opens_at=command.opens_at,
        closes_at=command.closes_at,
    )
    session.add(call)
    session.flush()
    audit.record(
        session,
        actor,
        "charity.fund_call_opened",
        "charity_fund_call",
        call.id,
        after=audit.snapshot(call, ("fund_id", "title", "budget_fen", "opens_at", "closes_at")),
    )
    return call


def is_open(call: FundCall, now: datetime | None = None) -> bool:
    moment = now or utcnow()
    return call.opens_at <= moment < call.closes_at


def submit_proposal(
    session: Session, actor: Principal, call_id: int, command: ProposalIn
) -> Proposal:
    """A community organisation proposes to an open call, once per call."""
    call = session.get(FundCall, call_id)
    if call is None:
        raise NotFound()
    organisation = _organisation(session, command.organisation_id)
    require(session, actor, CharityPerm.PROPOSE, organisation.id)
    if not is_open(call):
        raise Conflict(N_("This call is not open for proposals"))
    fund = _fund_of(session, call)
    if fund.organisation_id == organisation.id:
        raise Conflict(N_("The organisation that keeps the fund cannot propose to its own call"))
    proposal = Proposal(
        call_id=call.id,
        organisation_id=organisation.id,
        submitted_by=person_of(actor),
        title=command.title,
        plan=command.plan,
        requested_fen=command.requested_fen,
        status=ProposalStatus.submitted,
    )
    try:
        with session.begin_nested():
            session.add(proposal)
            session.flush()
    except IntegrityError:
        raise Conflict(N_("This organisation has already sent a proposal to this call")) from None
    audit.record(
        session,
        actor,
        "charity.proposal_submitted",
        "charity_proposal",
        proposal.id,
        after=audit.snapshot(proposal, ("call_id", "organisation_id", "title", "requested_fen")),
    )
    return proposal


def _proposal_to_change(session: Session, proposal_id: int) -> Proposal:
    """The proposal, its row locked until the commit and read afresh."""
    proposal = session.scalar(
        select(Proposal)
        .where(Proposal.id == proposal_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if proposal is None:
        raise NotFound()
    return proposal


def _is_member(session: Session, person_id: int, organisation_id: int) -> bool:
    found = session.scalar(
        select(Membership.id).where(
            Membership.person_id == person_id, Membership.organisation_id == organisation_id
        )
    )
    return found is not None


def decide_proposal(
    session: Session, actor: Principal, proposal_id: int, command: ProposalDecisionIn
) -> Proposal:
    """The fund's keeper grants a proposal (the fund pays the organisation at once, in the
    ledger) or declines it. Nobody decides on a proposal of an organisation they belong to."""
    proposal = _proposal_to_change(session, proposal_id)
    call = _call_of(session, proposal)
    fund = fund_to_keep(session, actor, call.fund_id)
    if proposal.status != ProposalStatus.submitted:
        raise Conflict(
            N_("This proposal is already decided: “%(status)s”"),
            status=said(PROPOSAL_STATUS_LABELS[proposal.status]),
        )
    decider = person_of(actor)
    if _is_member(session, decider, proposal.organisation_id):
        raise Conflict(
            N_(
                "You are a member of the organisation that sent this proposal: someone else "
                "must decide on it (conflict of interest)"
            )
        )
    before = audit.snapshot(proposal, ("status",))
    if command.decision == "grant":
        granted = cast(int, command.granted_fen)  # the schema requires it for a grant
        _grant(session, proposal, call, fund, granted)
        proposal.status = ProposalStatus.granted
        proposal.granted_fen = granted
    else:
        proposal.status = ProposalStatus.declined
    proposal.decided_by = decider
    proposal.decided_at = utcnow()
    proposal.decision_note = command.note
    audit.record(
        session,
        actor,
        "charity.proposal_decided",
        "charity_proposal",
        proposal.id,
        before=before,
        after=audit.snapshot(proposal, ("status", "granted_fen", "decision_note")),
    )
    return proposal


def _grant(session: Session, proposal: Proposal, call: FundCall, fund: Fund, granted: int) -> None:
    if granted > proposal.requested_fen:
        raise InvalidInput(
            N_("A grant cannot be more than was asked for (¥%(requested)s)"),
            requested=fen_to_yuan(proposal.requested_fen),
            errors=[{"field": "granted_fen", "message": N_("more than was asked for")}],
        )
    session.flush()  # the UPDATEs below are the tables', not the ORM's: no autoflush
    # One savepoint for both counters: if the fund refuses, the call's counter goes back too.
    with session.begin_nested():
        call_row = session.execute(
            update(CALLS)
            .where(CALLS.c.id == call.id, CALLS.c.granted_fen + granted <= CALLS.c.budget_fen)
            .values(granted_fen=CALLS.c.granted_fen + granted)
            .returning(CALLS.c.granted_fen)
        ).first()
        if call_row is None:
            left = session.execute(
                select(CALLS.c.budget_fen - CALLS.c.granted_fen).where(CALLS.c.id == call.id)
            ).scalar_one()
            raise Conflict(
                N_("This call has only ¥%(left)s left to grant"),
                left=fen_to_yuan(max(0, int(left))),
                errors=[{"field": "granted_fen", "message": N_("more than the call has left")}],
            )
        fund_row = session.execute(
            update(FUNDS)
            .where(FUNDS.c.id == fund.id, FUNDS.c.granted_fen + granted <= FUNDS.c.received_fen)
            .values(granted_fen=FUNDS.c.granted_fen + granted)
            .returning(FUNDS.c.granted_fen)
        ).first()
        if fund_row is None:
            received, already = session.execute(
                select(FUNDS.c.received_fen, FUNDS.c.granted_fen).where(FUNDS.c.id == fund.id)
            ).one()
            raise Conflict(
                N_(
                    "The fund has received only ¥%(received)s so far, of which ¥%(left)s is "
                    "not granted yet"
                ),
                received=fen_to_yuan(int(received)),
                left=fen_to_yuan(max(0, int(received) - int(already))),
                errors=[{"field": "granted_fen", "message": N_("more than the fund has")}],
            )
    synced(session, FundCall, call.id, granted_fen=call_row.granted_fen)
    synced(session, Fund, fund.id, granted_fen=fund_row.granted_fen)
    write_movement(
        session,
        kind=EntryKind.grant,
        source=f"proposal:{proposal.id}",
        debit=fund_account(fund.id),
        credit=f"grantee:{proposal.organisation_id}",
        amount_fen=granted,
        fund_id=fund.id,
        memo=proposal.title,
    )
    events.publish(
        session,
        GrantMade(
            fund_id=fund.id,
            proposal_id=proposal.id,
            organisation_id=proposal.organisation_id,
            amount_fen=granted,
        ),
    )


def report_on_grant(
    session: Session, actor: Principal, proposal_id: int, command: GrantReportIn
) -> GrantReport:
    """The granted organisation reports what it did; what all its reports say it spent never
    adds up to more than the grant."""
    proposal = _proposal_to_change(session, proposal_id)
    require(session, actor, CharityPerm.PROPOSE, proposal.organisation_id)
    if proposal.status != ProposalStatus.granted or proposal.granted_fen is None:
        raise Conflict(N_("Only a granted proposal is reported on"))
    check_own_file(session, actor, command.file_id, "file_id")
    reported = int(
        session.scalar(
            select(func.coalesce(func.sum(GrantReport.spent_fen), 0)).where(
                GrantReport.proposal_id == proposal.id
            )
        )
        or 0
    )
    if reported + command.spent_fen > proposal.granted_fen:
        raise InvalidInput(
            N_("The reports would add up to more than the grant: ¥%(left)s of it is left"),
            left=fen_to_yuan(max(0, proposal.granted_fen - reported)),
            errors=[{"field": "spent_fen", "message": N_("more than is left of the grant")}],
        )
    report = GrantReport(
        proposal_id=proposal.id,
        submitted_by=person_of(actor),
        text=command.text,
        spent_fen=command.spent_fen,
        file_id=command.file_id,
    )
    session.add(report)
    session.flush()
    audit.record(
        session,
        actor,
        "charity.grant_reported",
        "charity_grant_report",
        report.id,
        after=audit.snapshot(report, ("proposal_id", "spent_fen", "file_id")),
    )
    return report


def _fund_of(session: Session, call: FundCall) -> Fund:
    fund = session.get(Fund, call.fund_id)
    if fund is None:
        raise LookupError(f"fund {call.fund_id} of call {call.id}")
    return fund


def _call_of(session: Session, proposal: Proposal) -> FundCall:
    call = session.get(FundCall, proposal.call_id)
    if call is None:
        raise LookupError(f"call {proposal.call_id} of proposal {proposal.id}")
    return call


# --- queries ----------------------------------------------------------------------------------


def funds(session: Session, region_id: int | None = None) -> list[Fund]:
    """Every fund, or those in a region and the regions under it."""
    query = select(Fund).order_by(Fund.name, Fund.id)
    if region_id is not None:
        region = session.get(Region, region_id)
        if region is None:
            return []
        query = query.join(Region, Region.id == Fund.region_id).where(
            Region.path.startswith(region.path)
        )
    return list(session.scalars(query))


def fund(session: Session, fund_id: int) -> Fund:
    """A fund as anyone sees it: funds are public."""
    found = session.get(Fund, fund_id)
    if found is None:
        raise NotFound()
    return found


def calls_of(session: Session, fund_id: int) -> list[FundCall]:
    return list(
        session.scalars(
            select(FundCall).where(FundCall.fund_id == fund_id).order_by(FundCall.opens_at.desc())
        )
    )


def proposals_of(session: Session, call_id: int) -> list[Proposal]:
    return list(
        session.scalars(select(Proposal).where(Proposal.call_id == call_id).order_by(Proposal.id))
    )


def reports_of(session: Session, proposal_id: int) -> list[GrantReport]:
    return list(
        session.scalars(
            select(GrantReport)
            .where(GrantReport.proposal_id == proposal_id)
            .order_by(GrantReport.id)
        )
    )


def grants_of_fund(session: Session, fund_id: int) -> list[Proposal]:
    return list(
        session.scalars(
            select(Proposal)
            .join(FundCall, FundCall.id == Proposal.call_id)
            .where(FundCall.fund_id == fund_id, Proposal.status == ProposalStatus.granted)
            .order_by(Proposal.decided_at.desc(), Proposal.id.desc())
        )
    )
