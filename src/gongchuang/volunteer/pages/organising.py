"""An organiser's pages for an activity: publishing it, the manage page with its rosters,
editing, shifts and capacity, recruiting, cancelling, and confirming hours.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from gongchuang.core.clock import utcnow
from gongchuang.core.errors import InvalidInput
from gongchuang.core.i18n import N_
from gongchuang.core.web import CsrfChecked, DbSession, FormFields, Id, LoggedIn, redirect
from gongchuang.volunteer import service
from gongchuang.volunteer.pages._common import local_time, org_to_manage, parse_form, render_page
from gongchuang.volunteer.schemas import ActivityCreate, ActivityIn, HoursApproval, ShiftIn

router = APIRouter(include_in_schema=False)


@router.get("/volunteer/orgs/{organisation_id}/activities/new", response_class=HTMLResponse)
def new_activity(
    organisation_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    organisation = org_to_manage(session, principal, organisation_id)
    return render_page(
        request, "volunteer/activity_new.html", organisation=organisation, rows=range(5)
    )


def _to_manage(activity_id: int) -> RedirectResponse:
    """After an organiser's form: back to the activity's manage page."""
    return redirect(f"/volunteer/activities/{activity_id}/manage")


_ACTIVITY_TEXTS = (
    "title",
    "category",
    "description",
    "place",
    "lat",
    "lng",
    "contact_name",
    "contact_phone",
)
_SHIFT_FIELDS = {"starts_at": "shift_start", "ends_at": "shift_end", "capacity": "shift_capacity"}


def _text(form: FormData, name: str) -> str:
    return str(form.get(name) or "").strip()


def _form_field(loc: tuple[int | str, ...], rows: list[int]) -> str:
    """A problem's place as the new-activity form names it (shifts are numbered rows)."""
    if len(loc) == 3 and loc[0] == "shifts" and isinstance(loc[1], int):
        return f"{_SHIFT_FIELDS.get(str(loc[2]), 'shift_date')}_{rows[loc[1]]}"
    return ".".join(str(p) for p in loc) or "body"


@router.post("/volunteer/orgs/{organisation_id}/activities/new", dependencies=[CsrfChecked])
def create_activity(
    organisation_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> RedirectResponse:
    org_to_manage(session, principal, organisation_id)
    shifts: list[dict[str, Any]] = []
    rows: list[int] = []  # the form's row of each shift
    for row in range(20):
        day = _text(form, f"shift_date_{row}")
        if not day:
            continue
        try:
            shift_day = date.fromisoformat(day)
        except ValueError:
            raise InvalidInput(N_("Dates look like 2026-12-01")) from None
        rows.append(row)
        shifts.append(
            {
                "starts_at": local_time(shift_day, _text(form, f"shift_start_{row}")),
                "ends_at": local_time(shift_day, _text(form, f"shift_end_{row}")),
                "capacity": _text(form, f"shift_capacity_{row}"),
            }
        )
    if not shifts:  # said as the service says it, not as an empty list
        raise InvalidInput(N_("An activity needs at least one shift"))
    optional = {
        name: _text(form, name)
        for name in ("geofence_m", "min_age", "credential_kind")
        if _text(form, name)
    }
    command = parse_form(
        ActivityCreate,
        {
            "organisation_id": organisation_id,
            **{name: _text(form, name) for name in _ACTIVITY_TEXTS},
            **optional,
            "location_is_gcj02": form.get("location_is_gcj02") == "true",
            "skills_wanted": [str(v) for v in form.getlist("skills_wanted")],
            "shifts": shifts,
        },
        field=lambda loc: _form_field(loc, rows),
    )
    activity = service.publish_activity(session, principal, command)
    return _to_manage(activity.id)


@router.get("/volunteer/activities/{activity_id}/manage", response_class=HTMLResponse)
def manage_activity(
    activity_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    activity = service.get_activity_to_manage(session, principal, activity_id)
    shifts = service.shifts_of(session, activity)
    rosters = {s.id: service.roster(session, s) for s in shifts}
    people_ids = {r.person_id for rows in rosters.values() for r in rows}
    rating, comments = service.feedback_summary(session, activity)
    return render_page(
        request,
        "volunteer/manage.html",
        activity=activity,
        shifts=shifts,
        rosters=rosters,
        reliability={p: service.reliability(service.totals(session, p)) for p in people_ids},
        rating=rating,
        comments=comments,
        now=utcnow(),
    )


@router.post("/volunteer/activities/{activity_id}/edit", dependencies=[CsrfChecked])
def edit_activity(
    activity_id: Id,
    session: DbSession,
    principal: LoggedIn,
    title: Annotated[str, Form(max_length=200)],
    place: Annotated[str, Form(max_length=200)],
    lat: Annotated[float, Form(ge=-90, le=90)],
    lng: Annotated[float, Form(ge=-180, le=180)],
    geofence_m: Annotated[int, Form(ge=30, le=5000)],
    description: Annotated[str, Form(max_length=5000)] = "",
    contact_name: Annotated[str, Form(max_length=100)] = "",
    contact_phone: Annotated[str, Form(max_length=20)] = "",
) -> RedirectResponse:
    """Details change; sign-ups stay (and are told if the place moved)."""
    activity = service.get_activity_to_manage(session, principal, activity_id)
    command = parse_form(
        ActivityIn,
        {
            # What this form does not change stays as it is.
            "category": activity.category,
            "min_age": activity.min_age,
            "credential_kind": activity.credential_kind,
            "skills_wanted": activity.skills_wanted,
            "title": title,
            "description": description,
            "place": place,
            "lat": lat,
            "lng": lng,
            "geofence_m": geofence_m,
            "contact_name": contact_name,
            "contact_phone": contact_phone,
        },
    )
    service.update_activity(session, principal, activity, command)
    return _to_manage(activity.id)


@router.post("/volunteer/activities/{activity_id}/shifts", dependencies=[CsrfChecked])
def add_shift(
    activity_id: Id,
    session: DbSession,
    principal: LoggedIn,
    day: Annotated[date, Form()],
    start: Annotated[str, Form(max_length=5)],
    end: Annotated[str, Form(max_length=5)],
    capacity: Annotated[int, Form(ge=1, le=10_000)],
) -> RedirectResponse:
    activity = service.get_activity_to_manage(session, principal, activity_id)
    service.add_shift(
        session,
        principal,
        activity,
        parse_form(
            ShiftIn,
            {
                "starts_at": local_time(day, start),
                "ends_at": local_time(day, end),
                "capacity": capacity,
            },
        ),
    )
    return _to_manage(activity.id)


@router.post("/volunteer/shifts/{shift_id}/capacity", dependencies=[CsrfChecked])
def set_capacity(
    shift_id: Id,
    session: DbSession,
    principal: LoggedIn,
    capacity: Annotated[int, Form(ge=0, le=10_000)],
) -> RedirectResponse:
    shift = service.get_shift_to_manage(session, principal, shift_id)
    service.set_capacity(session, principal, shift, capacity)
    return _to_manage(shift.activity_id)


@router.post("/volunteer/activities/{activity_id}/recruiting", dependencies=[CsrfChecked])
def recruiting(
    activity_id: Id,
    session: DbSession,
    principal: LoggedIn,
    open_: Annotated[bool, Form(alias="open")] = False,
) -> RedirectResponse:
    activity = service.get_activity_to_manage(session, principal, activity_id)
    service.set_recruiting(session, principal, activity, open_)
    return _to_manage(activity.id)


@router.post("/volunteer/activities/{activity_id}/cancel", dependencies=[CsrfChecked])
def cancel_activity(
    activity_id: Id,
    session: DbSession,
    principal: LoggedIn,
    reason: Annotated[str, Form(max_length=500)],
) -> RedirectResponse:
    activity = service.get_activity_to_manage(session, principal, activity_id)
    service.cancel_activity(session, principal, activity, reason)
    return _to_manage(activity.id)


@router.post("/volunteer/hours/approve", dependencies=[CsrfChecked])
def approve_hours(
    session: DbSession,
    principal: LoggedIn,
    signup_ids: Annotated[list[int], Form()],
    activity_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
) -> RedirectResponse:
    service.confirm_hours(session, principal, parse_form(HoursApproval, {"signup_ids": signup_ids}))
    return _to_manage(activity_id)


@router.post("/volunteer/signups/{signup_id}/hours", dependencies=[CsrfChecked])
def set_hours(
    signup_id: Id,
    session: DbSession,
    principal: LoggedIn,
    hours: Annotated[float, Form(ge=0, le=24)],
    reason: Annotated[str, Form(max_length=300)],
) -> RedirectResponse:
    """Confirm pending hours with a different figure, or correct confirmed ones."""
    signup = service.get_signup(session, signup_id)
    service.set_hours(session, principal, signup, round(hours * 60), reason)
    return _to_manage(signup.shift.activity_id)


@router.post("/volunteer/signups/{signup_id}/no-show", dependencies=[CsrfChecked])
def no_show(signup_id: Id, session: DbSession, principal: LoggedIn) -> RedirectResponse:
    signup = service.get_signup(session, signup_id)
    service.mark_no_show(session, principal, signup)
    return _to_manage(signup.shift.activity_id)
