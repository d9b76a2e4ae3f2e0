"""Departments accrediting training institutions in their region."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.core import audit, organisations
from gongchuang.core.clock import local_today, utcnow
from gongchuang.core.db import upsert
from gongchuang.core.errors import InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.models import Organisation
from gongchuang.core.permissions import Principal, has_permission
from gongchuang.core.text import clean_text
from gongchuang.training.models import Accreditation, AccreditationStatus
from gongchuang.training.permissions import TrainingPerm
from gongchuang.training.schemas import AccreditationIn


def accredit(
    session: Session,
    actor: Principal,
    department: Organisation,
    institution: Organisation,
    *,
    accreditation_no: str,
    valid_until: date,
    note: str = "",
) -> Accreditation:
    """A department accredits (or re-accredits) an institution in its region."""
    if not has_permission(session, actor, TrainingPerm.DEPARTMENT, department):
        raise NotFound()
    if not has_permission(session, actor, TrainingPerm.DEPARTMENT, institution):
        raise InvalidInput(
            N_("The institution is outside this department's region"),
            errors=[{"field": "institution", "message": N_("outside the region")}],
        )
    number = clean_text(accreditation_no, "accreditation_no", max_length=64)
    if valid_until <= local_today():
        raise InvalidInput(
            N_("The accreditation must be valid after today"),
            errors=[{"field": "valid_until", "message": N_("in the past")}],
        )
    now = utcnow()
    terms = {
        "accreditation_no": number,
        "valid_until": valid_until,
        "status": AccreditationStatus.active.value,
        "note": note.strip()[:2000],
        "updated_at": now,
    }
    # One accreditation per institution and department: created or renewed in one statement,
    # so two clerks saving it at once both succeed and the later terms stand.
    accreditation = session.scalars(
        upsert(session, Accreditation)
        .values(
            institution_organisation_id=institution.id,
            department_organisation_id=department.id,
            created_at=now,
            **terms,
        )
        .on_conflict_do_update(
            index_elements=["institution_organisation_id", "department_organisation_id"],
            set_=terms,
        )
        .returning(Accreditation),
        execution_options={"populate_existing": True},
    ).one()
    audit.record(
        session,
        actor,
        "training.accredit",
        "organisation",
        institution.id,
        after={"department": department.id, "no": number, "until": valid_until},
    )
    return accreditation


def active_accreditation(session: Session, institution_id: int) -> Accreditation | None:
    return session.scalar(
        select(Accreditation)
        .where(
            Accreditation.institution_organisation_id == institution_id,
            Accreditation.status == AccreditationStatus.active,
            Accreditation.valid_until >= local_today(),
        )
        .order_by(Accreditation.valid_until.desc())
        .limit(1)
    )


def accredit_institution(
    session: Session, actor: Principal, department_id: int, command: AccreditationIn
) -> Accreditation:
    """An accreditation as the API and the department's page record it: the department the
    actor works for, the institution by its id."""
    department = organisations.get_organisation_for(
        session, actor, department_id, TrainingPerm.DEPARTMENT
    )
    institution = organisations.get_organisation(session, command.institution_organisation_id)
    return accredit(
        session,
        actor,
        department,
        institution,
        accreditation_no=command.accreditation_no,
        valid_until=command.valid_until,
        note=command.note,
    )
