"""What several volunteer pages share: the label maps every template gets (and a page
rendered with them), an organisation to manage, and a Beijing time from a form's day and clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from gongchuang.core import credentials, organisations
from gongchuang.core.clock import SHANGHAI
from gongchuang.core.errors import InvalidInput, dotted, parse_command
from gongchuang.core.i18n import N_
from gongchuang.core.models import Organisation
from gongchuang.core.permissions import Principal
from gongchuang.core.web import render
from gongchuang.volunteer import service
from gongchuang.volunteer.models import (
    ACTIVITY_STATUS_LABELS,
    HOURS_ENTRY_LABELS,
    SIGNUP_STATUS_LABELS,
)
from gongchuang.volunteer.permissions import VolunteerPerm


def label_maps() -> dict[str, Any]:
    """The label maps every volunteer template may use."""
    return {
        "categories": service.CATEGORIES,
        "skills": service.SKILLS,
        "availability": service.AVAILABILITY,
        "status_labels": SIGNUP_STATUS_LABELS,
        "entry_labels": HOURS_ENTRY_LABELS,
        "credential_kinds": credentials.CREDENTIAL_KINDS,
        "activity_status": ACTIVITY_STATUS_LABELS,
    }


def render_page(request: Request, template: str, **context: Any) -> HTMLResponse:
    """A volunteer page: the template with the label maps and this page's own context."""
    return render(request, template, {**label_maps(), **context})


def org_to_manage(session: Session, principal: Principal, organisation_id: int) -> Organisation:
    return organisations.get_organisation_for(
        session, principal, organisation_id, VolunteerPerm.MANAGE
    )


def local_time(day: date, clock: str) -> datetime:
    try:
        moment = time.fromisoformat(clock)
    except ValueError:
        raise InvalidInput(N_("Times look like 08:30")) from None
    return datetime.combine(day, moment, tzinfo=SHANGHAI)


Command = TypeVar("Command", bound=BaseModel)


def parse_form(
    model: type[Command],
    values: Mapping[str, Any],
    field: Callable[[tuple[int | str, ...]], str] | None = None,
) -> Command:
    """A form read into the command model the API takes for the same work (`field` names a
    problem's place as the form calls it, where the form's names are not the model's)."""
    return parse_command(model, values, name=field or dotted)
