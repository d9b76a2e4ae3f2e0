"""Finding activities and taking part: the list with its filters, one activity's page,
signing up, giving a place up and leaving feedback.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gongchuang.core.clock import utcnow
from gongchuang.core.errors import InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.web import CsrfChecked, CurrentPrincipal, DbSession, Id, LoggedIn, redirect
from gongchuang.volunteer import service
from gongchuang.volunteer.models import Shift, Signup
from gongchuang.volunteer.pages._common import render_page
from gongchuang.volunteer.schemas import FeedbackIn

router = APIRouter(include_in_schema=False)


def _day_or_none(value: str | None, field: str) -> date | None:
    """A date from a GET form, where an empty box sends an empty string."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            N_("Dates look like 2026-05-01"),
            errors=[{"field": field, "message": N_("Please enter a date such as 2026-03-01.")}],
        ) from None


@router.get("/volunteer/activities", response_class=HTMLResponse)
def activities(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    category: Annotated[str, Query(max_length=32)] = "",
    organisation_id: Annotated[str, Query(max_length=10, pattern=r"^\d*$")] = "",
    date_from: Annotated[str, Query(max_length=10)] = "",
    date_to: Annotated[str, Query(max_length=10)] = "",
    q: Annotated[str, Query(max_length=50)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    filters = service.ActivityFilter(
        category=category or None,
        organisation_id=int(organisation_id) if organisation_id else None,
        date_from=_day_or_none(date_from, "date_from"),
        date_to=_day_or_none(date_to, "date_to"),
        search=q.strip() or None,
    )
    query = {
        "category": category,
        "organisation_id": organisation_id,
        "date_from": date_from,
        "date_to": date_to,
        "q": q.strip(),
    }
    return render_page(
        request,
        "volunteer/activities.html",
        listing=service.activity_listing(session, filters, page),
        query={k: v for k, v in query.items() if v},
        **query,
    )


@router.get("/volunteer/activities/{activity_id}", response_class=HTMLResponse)
def activity_page(
    activity_id: Id, request: Request, session: DbSession, principal: CurrentPrincipal
) -> HTMLResponse:
    activity = service.get_activity(session, activity_id)
    mine: dict[int, Signup] = {}
    if principal.person_id is not None:
        mine = {
            s.shift_id: s
            for s in service.my_signups(session, principal.person_id)
            if s.shift.activity_id == activity.id
        }
    return render_page(
        request,
        "volunteer/activity.html",
        activity=activity,
        shifts=service.shifts_of(session, activity),
        mine=mine,
        positions={k: service.waitlist_position(session, s) for k, s in mine.items()},
        now=utcnow(),
        can_manage=service.can_manage(session, principal, activity.organisation),
        is_volunteer=service.get_volunteer(session, principal.person_id) is not None,
        signed_up=request.query_params.get("signed_up"),
    )


@router.post("/volunteer/shifts/{shift_id}/signup", dependencies=[CsrfChecked])
def sign_up(shift_id: Id, session: DbSession, principal: LoggedIn) -> RedirectResponse:
    signup = service.sign_up(session, principal, shift_id)
    shift = session.get(Shift, signup.shift_id)
    if shift is None:
        raise NotFound()
    return redirect(f"/volunteer/activities/{shift.activity_id}?signed_up={signup.status}")


@router.post("/volunteer/signups/{signup_id}/cancel", dependencies=[CsrfChecked])
def cancel_signup(signup_id: Id, session: DbSession, principal: LoggedIn) -> RedirectResponse:
    signup = service.get_signup(session, signup_id)
    service.cancel_signup(session, principal, signup)
    return redirect("/volunteer")


@router.post("/volunteer/signups/{signup_id}/feedback", dependencies=[CsrfChecked])
def feedback(
    signup_id: Id,
    session: DbSession,
    principal: LoggedIn,
    command: Annotated[FeedbackIn, Form()],
) -> RedirectResponse:
    signup = service.get_signup(session, signup_id)
    service.leave_feedback(session, principal, signup, command.rating, command.comment)
    return redirect("/volunteer")
