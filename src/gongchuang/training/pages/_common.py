"""What the training pages share: the label maps every template reads, form fields read as
whole numbers and dates, and the organisation a member acts for."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from gongchuang.core import credentials, organisations
from gongchuang.core.errors import InvalidInput
from gongchuang.core.forms import parse_form, whole_number
from gongchuang.core.i18n import N_
from gongchuang.core.models import Organisation
from gongchuang.core.permissions import Principal
from gongchuang.training import service
from gongchuang.training.models import (
    ACCREDITATION_STATUS_LABELS,
    CAMPAIGN_STATUS_LABELS,
    CLASS_STATUS_LABELS,
    COURSE_STATUS_LABELS,
    LESSON_KIND_LABELS,
    QUESTION_KIND_LABELS,
    TRAINEE_STATUS_LABELS,
)
from gongchuang.training.permissions import TrainingPerm


def labels() -> dict[str, Any]:
    return {
        "categories": service.CATEGORIES,
        "lesson_kinds": LESSON_KIND_LABELS,
        "course_status": COURSE_STATUS_LABELS,
        "trainee_status": TRAINEE_STATUS_LABELS,
        "class_status": CLASS_STATUS_LABELS,
        "campaign_status": CAMPAIGN_STATUS_LABELS,
        "accreditation_status": ACCREDITATION_STATUS_LABELS,
        "question_kinds": QUESTION_KIND_LABELS,
        "expense_items": service.EXPENSE_ITEMS,
        "spot_findings": service.SPOT_FINDINGS,
        "credential_kinds": credentials.CREDENTIAL_KINDS,
    }


def date_value(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            N_("%(field)s: a date like 2026-05-01 is needed"),
            field=field,
            errors=[{"field": field, "message": N_("Please enter a date such as 2026-03-01.")}],
        ) from None


def optional_whole_number(value: str, field: str) -> int | None:
    return whole_number(value, field) if value.strip() else None


def publisher_org(session: Session, principal: Principal, organisation_id: int) -> Organisation:
    return organisations.get_organisation_for(
        session, principal, organisation_id, TrainingPerm.PUBLISH
    )


def text_field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def institution_org(session: Session, principal: Principal, organisation_id: int) -> Organisation:
    return organisations.get_organisation_for(
        session, principal, organisation_id, TrainingPerm.INSTITUTION
    )


def department_org(session: Session, principal: Principal, organisation_id: int) -> Organisation:
    return organisations.get_organisation_for(
        session, principal, organisation_id, TrainingPerm.DEPARTMENT
    )


Command = TypeVar("Command", bound=BaseModel)


def parse_renamed_form(model: type[Command], form: FormData, **names: str) -> Command:
    """A form with the model's fields, but for those it names otherwise (`names` maps the
    model's name to the form's, as `institution_organisation_id="institution_id"`)."""
    renamed = {field: text_field(form, name) for field, name in names.items()}
    return parse_form(model, {**form, **renamed}, names)


def form_values(form: FormData, *names: str) -> dict[str, str]:
    """The named fields of a form, as text."""
    return {name: text_field(form, name) for name in names}


# The campaign form's names for the fields of `CampaignIn` it fills.
CAMPAIGN_FORM_FIELDS = {
    "pools.0.bank_id": "bank_id",
    "pools.0.tag": "tag",
    "pools.0.count": "count",
    "pools": "count",
    "time_limit_seconds": "minutes",
    "daily_attempt_limit": "daily",
    "points_for_completing": "points_completing",
    "points_per_correct": "points_correct",
    "points_for_all_correct": "points_all",
}
