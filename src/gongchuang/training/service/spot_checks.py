"""Departments' unannounced visits to classes."""

from __future__ import annotations

from datetime import date

from sqlalchemy import update
from sqlalchemy.orm import Session

from gongchuang.core import audit, organisations
from gongchuang.core.clock import local_today, utcnow
from gongchuang.core.errors import NotFound, refuse_if_any
from gongchuang.core.i18n import N_
from gongchuang.core.models import Organisation
from gongchuang.core.permissions import Principal, has_permission
from gongchuang.training.models import Accreditation, AccreditationStatus, SpotCheck, TrainingClass
from gongchuang.training.permissions import TrainingPerm
from gongchuang.training.schemas import SpotCheckIn

SPOT_FINDINGS = {
    "satisfactory": N_("Satisfactory"),
    "issues": N_("Issues to correct"),
    "serious": N_("Serious: accreditation suspended"),
}


def spot_check(
    session: Session,
    actor: Principal,
    class_id: int,
    department: Organisation,
    *,
    checked_on: date,
    present_count: int,
    finding: str,
    note: str = "",
) -> SpotCheck:
    """A department's unannounced visit. A serious finding suspends the institution's
    accreditation from this department until it re-accredits."""
    klass = session.get(TrainingClass, class_id)
    institution = session.get(Organisation, klass.institution_organisation_id) if klass else None
    if (
        klass is None
        or not has_permission(session, actor, TrainingPerm.DEPARTMENT, department)
        or not has_permission(session, actor, TrainingPerm.DEPARTMENT, institution)
    ):
        raise NotFound()
    errors: list[dict[str, object]] = []
    if finding not in SPOT_FINDINGS:
        errors.append({"field": "finding", "message": N_("Please choose one of the options.")})
    if checked_on > local_today():
        errors.append({"field": "checked_on", "message": N_("in the future")})
    if not 0 <= present_count <= 10_000:
        errors.append({"field": "present_count", "message": N_("0 to 10000")})
    if finding != "satisfactory" and not note.strip():
        errors.append({"field": "note", "message": N_("describe what was found")})
    refuse_if_any(errors)
    check = SpotCheck(
        class_id=klass.id,
        department_organisation_id=department.id,
        checked_by_person_id=actor.person_id,
        checked_on=checked_on,
        present_count=present_count,
        finding=finding,
        note=note.strip()[:5000],
    )
    session.add(check)
    if finding == "serious":
        session.execute(
            update(Accreditation)
            .where(
                Accreditation.institution_organisation_id == klass.institution_organisation_id,
                Accreditation.department_organisation_id == department.id,
            )
            .values(status=AccreditationStatus.suspended, updated_at=utcnow())
        )
    session.flush()
    audit.record(
        session, actor, "training.spot_check", "training_class", klass.id,
        after={"finding": finding, "present": present_count},
    )  # fmt: skip
    return check


def record_spot_check(
    session: Session, actor: Principal, class_id: int, command: SpotCheckIn
) -> SpotCheck:
    """A spot check as the API and the class page record it, for the department it names."""
    department = organisations.get_organisation_for(
        session, actor, command.department_organisation_id, TrainingPerm.DEPARTMENT
    )
    return spot_check(
        session,
        actor,
        class_id,
        department,
        **command.model_dump(exclude={"department_organisation_id"}),
    )
