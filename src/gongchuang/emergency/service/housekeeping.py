"""Housekeeping jobs: stale locations and old tracks deleted, AED maintenance reminders."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from gongchuang.core import notifications
from gongchuang.core.clock import local_today, utcnow
from gongchuang.core.i18n import N_
from gongchuang.core.models import Membership
from gongchuang.emergency.models import Aed, AedStatus, Alert, Incident, Responder
from gongchuang.emergency.service._common import _clear_location

# After this the responder is taken off duty and the location deleted.
LOCATION_TTL = timedelta(hours=12)
# Where responders walked during an incident, kept this long after it ends for the review.
TRACK_RETENTION = timedelta(days=1)
REMIND_BEFORE = timedelta(days=30)
INSPECTION_EVERY = timedelta(days=31)


def prune_locations(session: Session) -> tuple[int, int]:
    """Privacy: stale on-duty locations end the duty; incident tracks go after a day."""
    now = utcnow()
    stale = list(
        session.scalars(
            select(Responder).where(
                Responder.on_duty.is_(True), Responder.located_at < now - LOCATION_TTL
            )
        )
    )
    for responder in stale:
        _clear_location(responder)
        notifications.notify(
            session,
            responder.person_id,
            kind="emergency.duty_ended",
            title=N_("You were taken off duty: your location had not been updated for 12 hours"),
            link="/emergency",
        )
    closed = select(Incident.id).where(Incident.closed_at < now - TRACK_RETENTION)
    result = session.execute(
        update(Alert)
        .where(Alert.incident_id.in_(closed), or_(Alert.lat.is_not(None), Alert.lng.is_not(None)))
        .values(lat=None, lng=None, located_at=None)
    )
    return len(stale), int(getattr(result, "rowcount", 0) or 0)


def send_maintenance_reminders(session: Session, today: date | None = None) -> int:
    """A month before the battery or pads expire, on expiry, and when the monthly check is
    overdue: the guardian and the owner's staff hear about it, once per thing and date."""
    today = today or local_today()
    sent = 0
    for aed in session.scalars(select(Aed).where(Aed.status != AedStatus.retired)):
        due: list[tuple[str, str, str]] = []
        for kind, moment, soon, past in (
            (
                "battery",
                aed.battery_expires_on,
                N_("The AED battery expires on %(date)s"),
                N_("The AED battery has expired (%(date)s); the AED is not sent for"),
            ),
            (
                "pads",
                aed.pads_expire_on,
                N_("The AED pads expire on %(date)s"),
                N_("The AED pads have expired (%(date)s); the AED is not sent for"),
            ),
        ):
            if moment is not None and moment - REMIND_BEFORE <= today:
                due.append(
                    (
                        f"{kind}:{'past' if moment < today else 'soon'}",
                        past if moment < today else soon,
                        moment.isoformat(),
                    )
                )
        if aed.last_inspected_on is None or aed.last_inspected_on + INSPECTION_EVERY <= today:
            due.append(
                (
                    "inspection",
                    N_("The AED's monthly check is due"),
                    (aed.last_inspected_on or today).isoformat(),
                )
            )
        reminders = dict(aed.reminders_sent or {})
        fresh = [(key, title, day) for key, title, day in due if reminders.get(key) != day]
        if not fresh:
            continue
        recipients = set(_venue_staff(session, aed.organisation_id))
        if aed.guardian_person_id:
            recipients.add(aed.guardian_person_id)
        for key, title, day in fresh:
            for person_id in sorted(recipients):
                notifications.notify(
                    session,
                    person_id,
                    kind="emergency.aed_maintenance",
                    title=title,
                    body=aed.address or aed.serial,
                    params={"date": day},
                    link=f"/emergency/aeds/{aed.id}/edit",
                    channels=("sms",),
                )
                sent += 1
            reminders[key] = day
        aed.reminders_sent = reminders
    return sent


def _venue_staff(session: Session, organisation_id: int) -> list[int]:
    memberships = session.execute(
        select(Membership.person_id, Membership.roles).where(
            Membership.organisation_id == organisation_id
        )
    )
    return [pid for pid, roles in memberships if {"admin", "venue_operator"} & set(roles or [])]
