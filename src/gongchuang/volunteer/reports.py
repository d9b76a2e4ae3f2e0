"""What volunteer service shows: organisation dashboards, the federation's Excel of hours,
certificate PDFs and QR codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core import pdf, spreadsheets
from gongchuang.core.clock import utcnow
from gongchuang.core.i18n import gettext
from gongchuang.core.identity import mask_phone
from gongchuang.core.models import Organisation, Person
from gongchuang.volunteer import service
from gongchuang.volunteer.models import (
    Activity,
    Certificate,
    Feedback,
    HoursEntry,
    Shift,
    Signup,
    SignupStatus,
    VolunteerTotal,
)


def subtree_ids(session: Session, organisation: Organisation) -> list[int]:
    """The organisation and every organisation below it (federation → district → team)."""
    found = [organisation.id]
    frontier = [organisation.id]
    while frontier:
        frontier = list(
            session.scalars(select(Organisation.id).where(Organisation.parent_id.in_(frontier)))
        )
        frontier = [i for i in frontier if i not in found]
        found += frontier
    return found


def _month(day: date) -> str:
    return f"{day:%Y-%m}"


@dataclass
class OrgDashboard:
    months: list[str]
    hours_by_month: list[float]
    active_by_month: list[int]
    total_hours: float
    volunteers: int
    retention: int | None  # % of last quarter's volunteers who served again this quarter
    no_show_rate: int | None
    rating: float | None
    top_activities: list[tuple[str, float]]

    @property
    def partial_month(self) -> int:
        """The last month is the one still running: its figures count up to today."""
        return len(self.months) - 1

    def chart_data(self) -> dict[str, Any]:
        return {
            "months": self.months,
            "partial": self.partial_month,
            "hours": self.hours_by_month,
            "active": self.active_by_month,
            "labels": {
                "hours": gettext("Hours"),
                "active": gettext("Active volunteers"),
                "partial": gettext("so far"),
            },
        }


def org_dashboard(session: Session, organisation: Organisation) -> OrgDashboard:
    ids = subtree_ids(session, organisation)
    today = service.local_day(utcnow())
    first = date(today.year - (1 if today.month < 12 else 0), today.month % 12 + 1, 1)
    months: list[str] = []
    cursor = first
    for _ in range(12):
        months.append(_month(cursor))
        cursor = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
    rows = session.execute(
        select(HoursEntry.served_on, HoursEntry.person_id, HoursEntry.minutes).where(
            HoursEntry.organisation_id.in_(ids), HoursEntry.served_on >= first
        )
    ).all()
    minutes = dict.fromkeys(months, 0)
    active: dict[str, set[int]] = {m: set() for m in months}
    quarter_now: set[int] = set()
    quarter_before: set[int] = set()
    for served_on, person_id, amount in rows:
        key = _month(served_on)
        if key in minutes:
            minutes[key] += amount
            if amount > 0:
                active[key].add(person_id)
        age = (today - served_on).days
        if amount > 0 and age < 91:
            quarter_now.add(person_id)
        elif amount > 0 and age < 182:
            quarter_before.add(person_id)
    statuses = dict(
        session.execute(
            select(Signup.status, func.count(Signup.id))
            .join(Shift, Shift.id == Signup.shift_id)
            .join(Activity, Activity.id == Shift.activity_id)
            .where(Activity.organisation_id.in_(ids), Shift.ends_at <= utcnow())
            .group_by(Signup.status)
        ).all()
    )
    came = sum(
        statuses.get(s, 0)
        for s in (SignupStatus.checked_out, SignupStatus.verified, SignupStatus.checked_in)
    )
    absent = statuses.get(SignupStatus.no_show, 0)
    rating = session.scalar(
        select(func.avg(Feedback.rating))
        .join(Activity, Activity.id == Feedback.activity_id)
        .where(Activity.organisation_id.in_(ids))
    )
    top = session.execute(
        select(Activity.title, func.sum(HoursEntry.minutes))
        .join(Signup, Signup.id == HoursEntry.signup_id)
        .join(Shift, Shift.id == Signup.shift_id)
        .join(Activity, Activity.id == Shift.activity_id)
        .where(HoursEntry.organisation_id.in_(ids))
        .group_by(Activity.title)
        .order_by(func.sum(HoursEntry.minutes).desc())
        .limit(5)
    ).all()
    return OrgDashboard(
        months=months,
        hours_by_month=[round(minutes[m] / 60, 1) for m in months],
        active_by_month=[len(active[m]) for m in months],
        total_hours=round(sum(minutes.values()) / 60, 1),
        volunteers=len({p for s in active.values() for p in s}),
        retention=round(100 * len(quarter_now & quarter_before) / len(quarter_before))
        if quarter_before
        else None,
        no_show_rate=round(100 * absent / (came + absent)) if came + absent else None,
        rating=round(float(rating), 1) if rating is not None else None,
        top_activities=[(title, round((m or 0) / 60, 1)) for title, m in top],
    )


def hours_workbook(
    session: Session, organisation: Organisation, period_from: date, period_to: date
) -> bytes:
    """Hours per volunteer for the federation's records (phones masked, as on every page)."""
    service.check_period(period_from, period_to)
    ids = subtree_ids(session, organisation)
    rows = session.execute(
        select(
            Person.name,
            Person.phone,
            func.sum(HoursEntry.minutes),
            func.count(func.distinct(HoursEntry.signup_id)),
            VolunteerTotal.minutes,
        )
        .join(Person, Person.id == HoursEntry.person_id)
        .outerjoin(VolunteerTotal, VolunteerTotal.person_id == HoursEntry.person_id)
        .where(
            HoursEntry.organisation_id.in_(ids),
            HoursEntry.served_on >= period_from,
            HoursEntry.served_on <= period_to,
        )
        .group_by(Person.id, Person.name, Person.phone, VolunteerTotal.minutes)
        .order_by(func.sum(HoursEntry.minutes).desc())
    ).all()
    thresholds = service.star_thresholds(session)
    header = [
        gettext("Name"),
        gettext("Phone"),
        gettext("Hours in the period"),
        gettext("Shifts"),
        gettext("Total hours"),
        gettext("Star level"),
    ]
    body: list[list[object]] = [
        [
            name,
            mask_phone(phone),
            round((minutes or 0) / 60, 2),
            shifts,
            round((total or 0) / 60, 2),
            service.star_level(session, total or 0, thresholds),
        ]
        for name, phone, minutes, shifts, total in rows
    ]
    return spreadsheets.workbook_bytes(header, body, gettext("Volunteer hours"))


def certificate_pdf(certificate: Certificate, verify_url: str) -> bytes:
    """The certificate as volunteer federations issue it: a formal document in their fixed
    Chinese wording (兹证明……特此证明), whatever language the holder reads the site in; the
    page and the API only link to it."""
    hours = certificate.minutes / 60
    issued = service.local_day(certificate.issued_at)
    return pdf.certificate_pdf(
        "志愿服务证明",
        [
            f"兹证明 {certificate.holder_name} 同志于 {certificate.period_from:%Y年%m月%d日} 至 "
            f"{certificate.period_to:%Y年%m月%d日}",
            f"在 {certificate.organisation_name} 参加志愿服务，",
            f"经核实累计服务时长 {hours:.1f} 小时。",
            "特此证明。",
        ],
        certificate.code,
        f"出具日期 {issued:%Y年%m月%d日}",
        verify_url,
    )


def period_default() -> tuple[date, date]:
    today = service.local_day(utcnow())
    return today - timedelta(days=365), today
