"""Certificates of verified hours: issued with their figures frozen, found by their code."""

from __future__ import annotations

import secrets
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core import audit, people
from gongchuang.core.errors import InvalidInput, NotFound, PermissionDenied
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.models import Organisation
from gongchuang.core.permissions import Principal
from gongchuang.volunteer.models import Certificate, HoursEntry
from gongchuang.volunteer.service._common import check_period


def issue_certificate(
    session: Session,
    actor: Principal,
    *,
    period_from: date,
    period_to: date,
    organisation_id: int | None = None,
) -> Certificate:
    """A certificate of the acting volunteer's verified hours in a period (optionally with one
    organisation): the figures are frozen on it."""
    if actor.person_id is None:
        raise PermissionDenied()
    check_period(period_from, period_to)
    query = select(func.coalesce(func.sum(HoursEntry.minutes), 0)).where(
        HoursEntry.person_id == actor.person_id,
        HoursEntry.served_on >= period_from,
        HoursEntry.served_on <= period_to,
    )
    organisation_name = gettext("all organisations")
    if organisation_id is not None:
        organisation = session.get(Organisation, organisation_id)
        if organisation is None:
            raise NotFound()
        organisation_name = organisation.name
        query = query.where(HoursEntry.organisation_id == organisation_id)
    minutes = int(session.scalar(query) or 0)
    if minutes <= 0:
        raise InvalidInput(N_("There are no verified hours in this period"))
    person = people.get_person(session, actor.person_id)
    certificate = Certificate(
        code=secrets.token_urlsafe(12),
        person_id=person.id,
        organisation_id=organisation_id,
        minutes=minutes,
        period_from=period_from,
        period_to=period_to,
        holder_name=person.name,
        organisation_name=organisation_name,
    )
    session.add(certificate)
    session.flush()
    audit.record(
        session,
        actor,
        "volunteer.certificate.issue",
        "volunteer_certificate",
        certificate.id,
        after={"minutes": minutes, "from": period_from, "to": period_to, "org": organisation_id},
    )
    return certificate


def get_certificate_for(session: Session, actor: Principal, certificate_id: int) -> Certificate:
    certificate = session.get(Certificate, certificate_id)
    if certificate is None or certificate.person_id != actor.person_id:
        raise NotFound()
    return certificate


def certificate_by_code(session: Session, code: str) -> Certificate:
    certificate = session.scalar(select(Certificate).where(Certificate.code == code[:32]))
    if certificate is None:
        raise NotFound(N_("No certificate has this code"))
    return certificate
