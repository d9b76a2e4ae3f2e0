"""Helpers shared by the training rules: credential checks and issuing, and the
look-ups several topics read (a learner's enrolment, a course's lessons)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.core import credentials
from gongchuang.core.clock import utcnow
from gongchuang.core.i18n import N_
from gongchuang.core.models import Organisation, Person
from gongchuang.core.permissions import SYSTEM
from gongchuang.training.models import Course, Enrolment, Lesson


def check_credential(
    kind: str | None, title: str, valid_days: int | None, errors: list[dict[str, object]]
) -> None:
    if not kind:
        return
    if kind not in credentials.CREDENTIAL_KINDS:
        errors.append(
            {"field": "credential_kind", "message": N_("Please choose one of the options.")}
        )
    if not title.strip():
        errors.append({"field": "credential_title", "message": N_("required with a credential")})
    if valid_days is not None and not 1 <= valid_days <= 3650:
        errors.append({"field": "credential_valid_days", "message": N_("between 1 and 3650")})


def issue_credential(
    session: Session,
    issuer_id: int,
    person_id: int,
    kind: str,
    title: str,
    valid_days: int | None,
    number: str,
) -> int:
    """Into the core registry on the completion the staff (or the rules) decided: the registry's
    own audit entry names the system, the completion's names who decided."""
    issuer = session.get(Organisation, issuer_id)
    person = session.get(Person, person_id)
    if issuer is None or person is None:
        raise LookupError(f"issuer {issuer_id} or person {person_id} of a credential")
    now = utcnow()
    credential = credentials.issue_credential(
        session,
        SYSTEM,
        issuer,
        person,
        kind=kind,
        title=title,
        certificate_no=number,
        valid_from=now,
        valid_until=now + timedelta(days=valid_days) if valid_days else None,
    )
    return credential.id


def lessons_of(session: Session, course_id: int) -> list[Lesson]:
    return list(
        session.scalars(
            select(Lesson).where(Lesson.course_id == course_id).order_by(Lesson.position)
        )
    )


def enrolment_of(session: Session, person_id: int, course_id: int) -> Enrolment | None:
    return session.scalar(
        select(Enrolment).where(Enrolment.person_id == person_id, Enrolment.course_id == course_id)
    )


def course_of(session: Session, enrolment: Enrolment) -> Course:
    course = session.get(Course, enrolment.course_id)
    if course is None:
        raise LookupError(f"course {enrolment.course_id} of enrolment {enrolment.id}")
    return course


def course_of_quiz(session: Session, campaign_id: int) -> Course | None:
    """The course whose final quiz a campaign is, if it is one."""
    return session.scalar(select(Course).where(Course.quiz_campaign_id == campaign_id))
