"""Monthly giving: a donor gives the same amount to a project every month until they cancel.
On the day, a donation is raised and the donor is asked to pay it (WeChat Pay's contract
deduction, 委托代扣, needs a contract of its own with WeChat and is not used: the donor pays
each month from the reminder, so no money leaves without their act)."""

from __future__ import annotations

import calendar
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.charity.models import Certification, Project, ProjectStatus, RecurringGift
from gongchuang.charity.schemas import DonateIn, RecurringIn
from gongchuang.charity.service import donations
from gongchuang.charity.service._common import charity_of, may_raise, person_of, public_project
from gongchuang.core import audit, notifications, payments
from gongchuang.core.clock import local_today, utcnow
from gongchuang.core.errors import Conflict, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.models import Payment
from gongchuang.core.money import fen_to_yuan
from gongchuang.core.permissions import Principal


def next_due(after: date, day_of_month: int) -> date:
    """The next `day_of_month` strictly after `after` (days 1-28 exist in every month)."""
    if after.day < day_of_month:
        return after.replace(day=day_of_month)
    year, month = (after.year + 1, 1) if after.month == 12 else (after.year, after.month + 1)
    return date(year, month, min(day_of_month, calendar.monthrange(year, month)[1]))


def start_recurring(
    session: Session, actor: Principal, project_id: int, command: RecurringIn
) -> RecurringGift:
    donor_id = person_of(actor)
    project = public_project(session, project_id)
    if project.status != ProjectStatus.open:
        raise Conflict(N_("This project is not taking donations"))
    may_raise(charity_of(session, project))
    today = local_today()
    gift = RecurringGift(
        donor_id=donor_id,
        project_id=project.id,
        amount_fen=command.amount_fen,
        anonymous=command.anonymous,
        day_of_month=command.day_of_month,
        next_due_on=today
        if today.day == command.day_of_month
        else next_due(today, command.day_of_month),
    )
    try:
        with session.begin_nested():
            session.add(gift)
            session.flush()
    except IntegrityError:
        raise Conflict(
            N_("You already give to this project every month: change or cancel that gift first")
        ) from None
    audit.record(
        session,
        actor,
        "charity.recurring_started",
        "charity_recurring_gift",
        gift.id,
        after={"amount_fen": gift.amount_fen, "day_of_month": gift.day_of_month},
    )
    return gift


def cancel_recurring(session: Session, actor: Principal, gift_id: int) -> RecurringGift:
    gift = session.get(RecurringGift, gift_id)
    if gift is None or gift.donor_id != actor.person_id:
        raise NotFound()
    if gift.cancelled_at is not None:
        raise Conflict(N_("This monthly gift is already cancelled"))
    gift.cancelled_at = utcnow()
    audit.record(
        session,
        actor,
        "charity.recurring_cancelled",
        "charity_recurring_gift",
        gift.id,
        before={"cancelled_at": None},
        after={"cancelled_at": gift.cancelled_at},
    )
    return gift


def _taking_donations(session: Session, project: Project) -> bool:
    """Open, and its charity still certified (a suspended charity's monthly gifts end)."""
    return (
        project.status == ProjectStatus.open
        and charity_of(session, project).certification == Certification.certified
    )


def gifts_of(session: Session, donor_id: int) -> list[RecurringGift]:
    return list(
        session.scalars(
            select(RecurringGift)
            .where(RecurringGift.donor_id == donor_id)
            .order_by(RecurringGift.cancelled_at.is_not(None), RecurringGift.id.desc())
        )
    )


def raise_due(session: Session, limit: int = 500) -> int:
    """The job: this month's donation of every active gift due today (or missed), and a
    reminder to pay it. A gift whose project stopped taking donations is cancelled, and the
    donor told."""
    today = local_today()
    raised = 0
    for gift in session.scalars(
        select(RecurringGift)
        .where(RecurringGift.cancelled_at.is_(None), RecurringGift.next_due_on <= today)
        .order_by(RecurringGift.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ):
        project = session.get(Project, gift.project_id)
        gift.next_due_on = next_due(today, gift.day_of_month)
        if project is None or not _taking_donations(session, project):
            gift.cancelled_at = utcnow()
            notifications.notify(
                session,
                gift.donor_id,
                kind="charity.recurring_ended",
                title=N_("Your monthly gift ended: the project is no longer taking donations"),
                link="/charity/mine",
            )
            continue
        donation = donations.start_recurring_donation(
            session,
            donor_id=gift.donor_id,
            project=project,
            command=DonateIn(amount_fen=gift.amount_fen, anonymous=gift.anonymous),
            gift_id=gift.id,
        )
        payment = session.get(Payment, donation.payment_id)
        notifications.notify(
            session,
            gift.donor_id,
            kind="charity.recurring_due",
            title=N_("Your monthly gift of ¥%(amount)s is due: tap to pay"),
            params={"amount": fen_to_yuan(gift.amount_fen)},
            link=payments.checkout_href(payment)
            if payment
            else donations.donation_href(donation.code),
        )
        raised += 1
    return raised
