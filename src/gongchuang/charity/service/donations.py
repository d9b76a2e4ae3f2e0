"""Giving: a donation to a project or a community fund, paid through the core's payments
(purpose "charity.donation"), matched when the money arrives, refunded with its matches
taken back.

The public never sees who gave anonymously; the charity does (the Charity Law has it keep
donor records), and so does the donor's own receipt.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from gongchuang.charity.models import (
    Donation,
    DonationStatus,
    EntryKind,
    Fund,
    Match,
    MatchStatus,
    Project,
    ProjectStatus,
)
from gongchuang.charity.permissions import CharityPerm
from gongchuang.charity.schemas import DonateIn, RefundDonationIn
from gongchuang.charity.service import campaigns, ledger, matching, screening
from gongchuang.charity.service._common import (
    charity_of,
    may,
    may_raise,
    new_code,
    person_of,
    public_project,
)
from gongchuang.charity.service.rules import Signal, screen
from gongchuang.charity.service.screening import DonationOrigin, origin_hash
from gongchuang.core import audit, events, notifications, payments
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.models import Payment, PaymentRefund
from gongchuang.core.money import fen_to_yuan
from gongchuang.core.permissions import Principal
from gongchuang.topics.charity import DonationReceived, MatchFrozen

PURPOSE = "charity.donation"
# How long a donation waits for its payment before it is closed.
PAY_WITHIN = timedelta(minutes=30)


def donation_href(code: str) -> str:
    return f"/charity/donations/{code}"


def return_href(payment: Payment) -> str:
    return donation_href(payment.reference)


def donate(
    session: Session,
    actor: Principal,
    project_id: int,
    command: DonateIn,
    origin: DonationOrigin = DonationOrigin(),
) -> Donation:
    """A pending donation to an open project of a certified charity, and its payment."""
    donor_id = person_of(actor)
    project = public_project(session, project_id)
    if project.status != ProjectStatus.open:
        raise Conflict(N_("This project is not taking donations"))
    charity = charity_of(session, project)
    may_raise(charity)
    return _start(
        session,
        donor_id,
        command,
        origin,
        project_id=project.id,
        organisation_id=project.organisation_id,
        description=project.title,
    )


def donate_to_fund(
    session: Session,
    actor: Principal,
    fund_id: int,
    command: DonateIn,
    origin: DonationOrigin = DonationOrigin(),
) -> Donation:
    donor_id = person_of(actor)
    fund = session.get(Fund, fund_id)
    if fund is None:
        raise NotFound()
    return _start(
        session,
        donor_id,
        command.model_copy(update={"campaign_id": None}),
        origin,
        fund_id=fund.id,
        organisation_id=fund.organisation_id,
        description=fund.name,
    )


def _start(
    session: Session,
    donor_id: int,
    command: DonateIn,
    origin: DonationOrigin,
    *,
    organisation_id: int,
    description: str,
    project_id: int | None = None,
    fund_id: int | None = None,
    recurring_gift_id: int | None = None,
) -> Donation:
    now = utcnow()
    donation = Donation(
        code=new_code("D"),
        donor_id=donor_id,
        project_id=project_id,
        fund_id=fund_id,
        organisation_id=organisation_id,
        campaign_id=command.campaign_id,
        recurring_gift_id=recurring_gift_id,
        amount_fen=command.amount_fen,
        anonymous=command.anonymous,
        message=command.message,
        status=DonationStatus.pending,
        device_hash=origin_hash(origin.device),
        address_hash=origin_hash(origin.address),
        created_at=now,
    )
    session.add(donation)
    session.flush()
    payment = payments.start_payment(
        session,
        purpose=PURPOSE,
        reference=donation.code,
        payer_id=donor_id,
        amount_fen=donation.amount_fen,
        description=description[:127],
        expires_at=now + PAY_WITHIN,
    )
    donation.payment_id = payment.id
    session.flush()
    return donation


def start_recurring_donation(
    session: Session, *, donor_id: int, project: Project, command: DonateIn, gift_id: int
) -> Donation:
    """This month's donation of a monthly gift (the job `recurring.raise_due`)."""
    return _start(
        session,
        donor_id,
        command,
        DonationOrigin(),
        project_id=project.id,
        organisation_id=project.organisation_id,
        description=project.title,
        recurring_gift_id=gift_id,
    )


def own_donation(session: Session, actor: Principal, code: str) -> Donation:
    """The donor's own donation, or one the receiving organisation's staff may see."""
    donation = session.scalar(select(Donation).where(Donation.code == code))
    if donation is None:
        raise NotFound()
    if donation.donor_id == actor.person_id or may(
        session, actor, CharityPerm.MANAGE, donation.organisation_id
    ):
        return donation
    raise NotFound()


def checkout(session: Session, actor: Principal, code: str) -> str:
    donation = own_donation(session, actor, code)
    payment = payments.payment_of(session, donation.payment_id)
    if donation.status != DonationStatus.pending or payment is None:
        raise Conflict(N_("This donation is not waiting for payment"))
    if payment.expires_at <= utcnow():
        raise Conflict(N_("This donation was not paid in time: please give again"))
    return payments.checkout_href(payment)


def _donation_for(session: Session, payment: Payment) -> Donation:
    donation = session.scalar(
        select(Donation).where(Donation.code == payment.reference).with_for_update()
    )
    if donation is None:
        raise LookupError(f"donation {payment.reference}")
    return donation


# --- the payment's callbacks ------------------------------------------------------------------


def on_paid(session: Session, payment: Payment) -> None:
    """The money arrived: it is the project's (or the fund's), in the ledger, and matched by
    the pots of the project's campaigns that are running now."""
    donation = _donation_for(session, payment)
    if donation.status in (DonationStatus.paid, DonationStatus.refunded) or (
        donation.payment_id != payment.id
    ):
        # A second payment for one donation: received and given back in full.
        payments.refund(
            session,
            payment,
            amount_fen=payment.amount_fen,
            reason="donation paid twice",
            requested_by=None,
        )
        return
    now = utcnow()
    donation.status = DonationStatus.paid
    donation.paid_at = now
    if donation.fund_id is not None:
        _received_by_fund(session, donation)
    else:
        _received_by_project(session, donation, now)
    events.publish(
        session,
        DonationReceived(
            organisation_id=donation.organisation_id,
            project_id=donation.project_id,
            fund_id=donation.fund_id,
            donation_code=donation.code,
            amount_fen=donation.amount_fen,
        ),
    )
    notifications.notify(
        session,
        donation.donor_id,
        kind="charity.donation_received",
        title=N_("Thank you: your donation of ¥%(amount)s was received"),
        params={"amount": fen_to_yuan(donation.amount_fen)},
        link=donation_href(donation.code),
    )


def _move_donation(session: Session, donation: Donation, kind: EntryKind) -> None:
    """The donation's money in the public ledger: from the donors to its project or fund, or
    back to the donors (a refund)."""
    recipient = (
        ledger.project_account(donation.project_id)
        if donation.project_id is not None
        else ledger.fund_account(donation.fund_id or 0)
    )
    into = kind != EntryKind.refund
    ledger.write_movement(
        session,
        kind=kind,
        source=f"donation:{donation.id}",
        debit=ledger.DONORS if into else recipient,
        credit=recipient if into else ledger.DONORS,
        amount_fen=donation.amount_fen,
        project_id=donation.project_id,
        fund_id=donation.fund_id,
        memo=donation.code,
    )


def _received_by_fund(session: Session, donation: Donation) -> None:
    fund_id = donation.fund_id
    if fund_id is None:
        raise LookupError("fund of donation")
    session.execute(
        update(Fund)
        .where(Fund.id == fund_id)
        .values(received_fen=Fund.received_fen + donation.amount_fen)
        .execution_options(synchronize_session=False)
    )
    _move_donation(session, donation, EntryKind.donation)


def _received_by_project(session: Session, donation: Donation, now) -> None:  # type: ignore[no-untyped-def]
    project_id = donation.project_id
    if project_id is None:
        raise LookupError("project of donation")
    first_gift = not session.scalar(
        select(
            exists().where(
                Donation.project_id == project_id,
                Donation.donor_id == donation.donor_id,
                Donation.status == DonationStatus.paid,
                Donation.id != donation.id,
            )
        )
    )
    # The project's row first (every transaction on a project's money locks it in this order).
    session.execute(
        update(Project)
        .where(Project.id == project_id)
        .values(
            raised_fen=Project.raised_fen + donation.amount_fen,
            donors_count=Project.donors_count + (1 if first_gift else 0),
        )
        .execution_options(synchronize_session=False)
    )
    _move_donation(session, donation, EntryKind.donation)
    project = session.get(Project, project_id)
    if project is None:
        raise LookupError("project")
    for pot in campaigns.matching_pots(session, project_id, now):
        signals = screen(screening.facts(session, donation, project, pot, now), screening.POLICY)
        match = matching.match_donation(session, donation, project, pot, signals, now)
        if match is not None and match.status == MatchStatus.frozen:
            events.publish(
                session,
                MatchFrozen(
                    pot_id=pot.id,
                    match_id=match.id,
                    project_id=project_id,
                    amount_fen=match.amount_fen,
                    signals=list(match.signals),
                ),
            )


def on_refunded(session: Session, payment: Payment, refund: PaymentRefund) -> None:
    """The provider confirmed the refund. The donation's money and matches were taken back
    when the refund was asked for (`refund_donation`); a stray second payment given back has
    nothing more to undo."""
    donation = session.scalar(select(Donation).where(Donation.code == payment.reference))
    if donation is None or donation.payment_id != payment.id:
        return
    notifications.notify(
        session,
        donation.donor_id,
        kind="charity.donation_refunded",
        title=N_("Your donation %(code)s was refunded"),
        params={"code": donation.code},
        link=donation_href(donation.code),
    )


def refund_donation(
    session: Session, actor: Principal, code: str, command: RefundDonationIn
) -> Donation:
    """The charity gives a donation back in full (the donor asked, or it was a mistake). The
    project must still hold the money; its matches go back to their pots, and the donor's
    refund after a match is remembered by the anti-gaming rules."""
    donation = session.scalar(select(Donation).where(Donation.code == code).with_for_update())
    if donation is None or not may(session, actor, CharityPerm.MANAGE, donation.organisation_id):
        raise NotFound()
    if donation.status != DonationStatus.paid:
        raise Conflict(N_("Only a received donation can be refunded"))
    payment = payments.payment_of(session, donation.payment_id)
    if payment is None:
        raise Conflict(N_("Only a received donation can be refunded"))
    if donation.project_id is not None:
        _take_back_from_project(session, donation)
    else:
        _take_back_from_fund(session, donation)
    payments.refund(
        session,
        payment,
        amount_fen=donation.amount_fen,
        reason=command.reason,
        requested_by=actor.person_id,
    )
    donation.status = DonationStatus.refunded
    donation.refunded_at = utcnow()
    audit.record(
        session,
        actor,
        "charity.donation_refunded",
        "charity_donation",
        donation.id,
        before={"status": DonationStatus.paid},
        after={"status": DonationStatus.refunded, "reason": command.reason},
    )
    return donation


def _take_back_from_project(session: Session, donation: Donation) -> None:
    project_id = donation.project_id
    if project_id is None:
        raise LookupError("project of donation")
    taken = session.execute(
        update(Project)
        .where(
            Project.id == project_id,
            Project.raised_fen >= donation.amount_fen,
            Project.spent_fen <= Project.raised_fen + Project.matched_fen - donation.amount_fen,
        )
        .values(raised_fen=Project.raised_fen - donation.amount_fen)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount == 0:  # type: ignore[attr-defined]
        raise Conflict(N_("The project has already spent this money: it cannot be refunded"))
    _move_donation(session, donation, EntryKind.refund)
    for match in session.scalars(
        select(Match)
        .where(Match.donation_id == donation.id, Match.status != MatchStatus.clawed_back)
        .order_by(Match.id)
    ):
        matching.claw_back(
            session,
            match,
            "refund of the donation",
            signal=Signal.refund_after_match,
            memo="refund of the donation",
        )


def _take_back_from_fund(session: Session, donation: Donation) -> None:
    fund_id = donation.fund_id
    if fund_id is None:
        raise LookupError("fund of donation")
    taken = session.execute(
        update(Fund)
        .where(
            Fund.id == fund_id,
            Fund.received_fen - Fund.granted_fen >= donation.amount_fen,
        )
        .values(received_fen=Fund.received_fen - donation.amount_fen)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount == 0:  # type: ignore[attr-defined]
        raise Conflict(N_("The fund has already granted this money: it cannot be refunded"))
    _move_donation(session, donation, EntryKind.refund)


def close_unpaid(session: Session, limit: int = 500) -> int:
    """Donations whose payment expired are closed (the job), their payments first."""
    now = utcnow()
    rows = session.execute(
        select(Donation.id, Donation.payment_id)
        .join(Payment, Payment.id == Donation.payment_id)
        .where(Donation.status == DonationStatus.pending, Payment.expires_at <= now)
        .order_by(Donation.id)
        .limit(limit)
    ).all()
    if not rows:
        return 0
    closed_payments = payments.close_payments(session, [row.payment_id for row in rows])
    closing = [row.id for row in rows if row.payment_id in closed_payments]
    if closing:
        session.execute(
            update(Donation)
            .where(Donation.id.in_(closing), Donation.status == DonationStatus.pending)
            .values(status=DonationStatus.closed)
            .execution_options(synchronize_session=False)
        )
    return len(closing)
