"""HTML pages of volunteer service."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from gongchuang.core import credentials, organisations, people
from gongchuang.core.clock import SHANGHAI, utcnow
from gongchuang.core.errors import InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.identity import mask_name
from gongchuang.core.models import Organisation
from gongchuang.core.pages import xlsx_response
from gongchuang.core.pdf import qr_svg
from gongchuang.core.permissions import Principal
from gongchuang.core.web import (
    CsrfChecked,
    CurrentPrincipal,
    DbSession,
    FormFields,
    Id,
    LoggedIn,
    redirect,
    render,
)
from gongchuang.volunteer import recommend, reports, service
from gongchuang.volunteer.models import Shift, Signup, SignupStatus
from gongchuang.volunteer.permissions import VolunteerPerm

router = APIRouter(include_in_schema=False)
STATUS_LABELS = {
    "confirmed": N_("Confirmed"),
    "waitlisted": N_("On the waitlist"),
    "cancelled": N_("Cancelled"),
    "checked_in": N_("Checked in"),
    "checked_out": N_("Hours waiting for confirmation"),
    "verified": N_("Hours confirmed"),
    "no_show": N_("Did not come"),
}
ACTIVITY_STATUS = {
    "open": N_("Recruiting"),
    "closed": N_("Recruitment closed"),
    "cancelled": N_("Cancelled"),
}
ENTRY_LABELS = {
    "verified": N_("Confirmed"),
    "correction": N_("Correction"),
    "reversal": N_("Reversal"),
}


def _labels() -> dict[str, Any]:
    return {
        "categories": service.CATEGORIES,
        "skills": service.SKILLS,
        "availability": service.AVAILABILITY,
        "status_labels": STATUS_LABELS,
        "entry_labels": ENTRY_LABELS,
        "credential_kinds": credentials.CREDENTIAL_KINDS,
        "activity_status": ACTIVITY_STATUS,
    }


def _org_to_manage(session: Session, principal: Principal, organisation_id: int) -> Organisation:
    return organisations.get_organisation_for(
        session, principal, organisation_id, VolunteerPerm.MANAGE
    )


def _local(day: date, clock: str) -> datetime:
    try:
        moment = time.fromisoformat(clock)
    except ValueError:
        raise InvalidInput(N_("Times look like 08:30")) from None
    return datetime.combine(day, moment, tzinfo=SHANGHAI)


# --- home, profile, card ----------------------------------------------------------------------


@router.get("/volunteer", response_class=HTMLResponse)
def home(request: Request, session: DbSession, principal: LoggedIn) -> HTMLResponse:
    volunteer = service.get_volunteer(session, principal.person_id)
    context: dict[str, Any] = {**_labels(), "volunteer": volunteer}
    if volunteer is not None:
        total = service.totals(session, volunteer.person_id)
        signups = service.my_signups(session, volunteer.person_id)
        now = utcnow()
        recommendations = recommend.for_volunteer(session, volunteer, 5)
        context.update(
            total=total,
            hours=round(total.minutes / 60, 1),
            star=service.star_level(session, total.minutes),
            thresholds=service.star_thresholds(session),
            recommendations=recommendations,
            next_starts=service.next_shift_starts(session, [a.id for a, _ in recommendations]),
            upcoming=[s for s in signups if s.shift.ends_at > now],
            past=[s for s in signups if s.shift.ends_at <= now][-10:],
            feedback_given=service.feedback_given(session, [s.id for s in signups]),
        )
    context["managed"] = organisations.organisations_with(session, principal, VolunteerPerm.MANAGE)
    context["partnered"] = organisations.organisations_with(
        session, principal, VolunteerPerm.BENEFIT
    )
    return render(request, "volunteer/home.html", context)


@router.get("/volunteer/profile", response_class=HTMLResponse)
def profile_form(request: Request, session: DbSession, principal: LoggedIn) -> HTMLResponse:
    volunteer = service.get_volunteer(session, principal.person_id)
    return render(request, "volunteer/profile.html", {**_labels(), "volunteer": volunteer})


@router.post("/volunteer/profile", dependencies=[CsrfChecked])
def profile_save(
    session: DbSession,
    principal: LoggedIn,
    skills: Annotated[list[str] | None, Form()] = None,
    interests: Annotated[list[str] | None, Form()] = None,
    availability: Annotated[list[str] | None, Form()] = None,
    languages: Annotated[str, Form(max_length=200)] = "",
    birth_date: Annotated[date | None, Form()] = None,
    share_location: Annotated[bool, Form()] = False,
    home_lat: Annotated[float | None, Form(ge=-90, le=90)] = None,
    home_lng: Annotated[float | None, Form(ge=-180, le=180)] = None,
) -> RedirectResponse:
    service.save_profile(
        session,
        principal,
        service.ProfileInput(
            skills=skills or [],
            interests=interests or [],
            availability=availability or [],
            languages=[x for x in languages.replace("，", ",").split(",") if x.strip()],
            birth_date=birth_date,
            share_location=share_location,
            home_lat=home_lat,
            home_lng=home_lng,
        ),
    )
    return redirect("/volunteer")


@router.get("/volunteer/card", response_model=None)
def my_card(request: Request, session: DbSession, principal: LoggedIn) -> Response:
    volunteer = service.get_volunteer(session, principal.person_id)
    if volunteer is None:
        return redirect("/volunteer/profile")
    url = f"{str(request.base_url).rstrip('/')}/volunteer/card/{service.card_token(volunteer)}"
    total = service.totals(session, volunteer.person_id)
    person = people.get_person(session, volunteer.person_id)
    return render(
        request,
        "volunteer/card.html",
        {
            "person": person,
            "volunteer": volunteer,
            "real_name": service.is_real_name(person),
            "hours": round(total.minutes / 60, 1),
            "star": service.star_level(session, total.minutes),
            "qr": qr_svg(url),
            "url": url,
        },
    )


@router.get("/volunteer/card/{token}", response_class=HTMLResponse)
def verify_card(
    token: Annotated[str, Path(max_length=200)],
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
) -> HTMLResponse:
    return render(
        request, "volunteer/card_check.html", {"card": service.verify_card(session, token)}
    )


# --- activities -------------------------------------------------------------------------------


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
    return render(
        request,
        "volunteer/activities.html",
        {
            **_labels(),
            "listing": service.activity_listing(session, filters, page),
            "query": {k: v for k, v in query.items() if v},
            **query,
        },
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
    return render(
        request,
        "volunteer/activity.html",
        {
            **_labels(),
            "activity": activity,
            "shifts": service.shifts_of(session, activity),
            "mine": mine,
            "positions": {k: service.waitlist_position(session, s) for k, s in mine.items()},
            "now": utcnow(),
            "can_manage": service.can_manage(session, principal, activity.organisation),
            "is_volunteer": service.get_volunteer(session, principal.person_id) is not None,
            "signed_up": request.query_params.get("signed_up"),
        },
    )


@router.post("/volunteer/shifts/{shift_id}/signup", dependencies=[CsrfChecked])
def sign_up(shift_id: Id, session: DbSession, principal: LoggedIn) -> RedirectResponse:
    signup = service.sign_up(session, principal, shift_id)
    shift = session.get(Shift, shift_id)
    assert shift is not None
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
    rating: Annotated[int, Form(ge=1, le=5)],
    comment: Annotated[str, Form(max_length=1000)] = "",
) -> RedirectResponse:
    signup = service.get_signup(session, signup_id)
    service.leave_feedback(session, principal, signup, rating, comment)
    return redirect("/volunteer")


@router.get("/volunteer/orgs/{organisation_id}/activities/new", response_class=HTMLResponse)
def new_activity(
    organisation_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    organisation = _org_to_manage(session, principal, organisation_id)
    return render(
        request,
        "volunteer/activity_new.html",
        {**_labels(), "organisation": organisation, "rows": range(5)},
    )


@router.post("/volunteer/orgs/{organisation_id}/activities/new", dependencies=[CsrfChecked])
def create_activity(
    organisation_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> RedirectResponse:
    organisation = _org_to_manage(session, principal, organisation_id)

    def text(name: str, limit: int = 5000) -> str:
        return str(form.get(name) or "")[:limit]

    def number(name: str, kind: type = float) -> Any:
        raw = text(name, 30).strip()
        if not raw:
            return None
        try:
            return kind(raw)
        except ValueError:
            raise InvalidInput(N_("%(field)s must be a number"), field=name) from None

    shifts = []
    for index in range(20):
        day = text(f"shift_date_{index}", 10)
        if not day:
            continue
        try:
            shift_day = date.fromisoformat(day)
        except ValueError:
            raise InvalidInput(N_("Dates look like 2026-12-01")) from None
        shifts.append(
            service.ShiftInput(
                starts_at=_local(shift_day, text(f"shift_start_{index}", 5)),
                ends_at=_local(shift_day, text(f"shift_end_{index}", 5)),
                capacity=number(f"shift_capacity_{index}", int) or 0,
            )
        )
    activity = service.create_activity(
        session,
        principal,
        organisation,
        service.ActivityInput(
            title=text("title", 200),
            category=text("category", 32),
            description=text("description"),
            place=text("place", 200),
            lat=number("lat") if number("lat") is not None else 999.0,
            lng=number("lng") if number("lng") is not None else 999.0,
            location_is_gcj02=form.get("location_is_gcj02") == "true",
            geofence_m=number("geofence_m", int) or 300,
            min_age=number("min_age", int),
            credential_kind=text("credential_kind", 64) or None,
            skills_wanted=[str(v) for v in form.getlist("skills_wanted")],
            contact_name=text("contact_name", 100),
            contact_phone=text("contact_phone", 20),
        ),
        shifts,
    )
    return redirect(f"/volunteer/activities/{activity.id}/manage")


@router.get("/volunteer/activities/{activity_id}/manage", response_class=HTMLResponse)
def manage_activity(
    activity_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    activity = service.get_activity_to_manage(session, principal, activity_id)
    shifts = service.shifts_of(session, activity)
    rosters = {s.id: service.roster(session, s) for s in shifts}
    people_ids = {r.person_id for rows in rosters.values() for r in rows}
    rating, comments = service.feedback_summary(session, activity)
    return render(
        request,
        "volunteer/manage.html",
        {
            **_labels(),
            "activity": activity,
            "shifts": shifts,
            "rosters": rosters,
            "reliability": {p: service.reliability(service.totals(session, p)) for p in people_ids},
            "rating": rating,
            "comments": comments,
            "now": utcnow(),
        },
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
    service.update_activity(
        session,
        principal,
        activity,
        service.ActivityInput(
            title=title,
            category=activity.category,
            description=description,
            place=place,
            lat=lat,
            lng=lng,
            geofence_m=geofence_m,
            min_age=activity.min_age,
            credential_kind=activity.credential_kind,
            skills_wanted=activity.skills_wanted,
            contact_name=contact_name,
            contact_phone=contact_phone,
        ),
    )
    return redirect(f"/volunteer/activities/{activity.id}/manage")


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
        service.ShiftInput(_local(day, start), _local(day, end), capacity),
    )
    return redirect(f"/volunteer/activities/{activity.id}/manage")


@router.post("/volunteer/shifts/{shift_id}/capacity", dependencies=[CsrfChecked])
def set_capacity(
    shift_id: Id,
    session: DbSession,
    principal: LoggedIn,
    capacity: Annotated[int, Form(ge=0, le=10_000)],
) -> RedirectResponse:
    shift = session.get(Shift, shift_id)
    if shift is None:
        raise NotFound()
    service.set_capacity(session, principal, shift, capacity)
    return redirect(f"/volunteer/activities/{shift.activity_id}/manage")


@router.post("/volunteer/activities/{activity_id}/recruiting", dependencies=[CsrfChecked])
def recruiting(
    activity_id: Id,
    session: DbSession,
    principal: LoggedIn,
    open_: Annotated[bool, Form(alias="open")] = False,
) -> RedirectResponse:
    activity = service.get_activity_to_manage(session, principal, activity_id)
    service.set_recruiting(session, principal, activity, open_)
    return redirect(f"/volunteer/activities/{activity.id}/manage")


@router.post("/volunteer/activities/{activity_id}/cancel", dependencies=[CsrfChecked])
def cancel_activity(
    activity_id: Id,
    session: DbSession,
    principal: LoggedIn,
    reason: Annotated[str, Form(max_length=500)],
) -> RedirectResponse:
    activity = service.get_activity_to_manage(session, principal, activity_id)
    service.cancel_activity(session, principal, activity, reason)
    return redirect(f"/volunteer/activities/{activity.id}/manage")


@router.post("/volunteer/hours/approve", dependencies=[CsrfChecked])
def approve_hours(
    session: DbSession,
    principal: LoggedIn,
    signup_ids: Annotated[list[int], Form()],
    activity_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
) -> RedirectResponse:
    signups = [service.get_signup(session, i) for i in dict.fromkeys(signup_ids)]
    service.approve_hours(session, principal, signups)
    return redirect(f"/volunteer/activities/{activity_id}/manage")


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
    minutes = round(hours * 60)
    if signup.status == SignupStatus.verified:
        service.correct_hours(session, principal, signup, minutes, reason)
    else:
        service.approve_hours(session, principal, [signup], minutes=minutes, reason=reason)
    return redirect(f"/volunteer/activities/{signup.shift.activity_id}/manage")


@router.post("/volunteer/signups/{signup_id}/no-show", dependencies=[CsrfChecked])
def no_show(signup_id: Id, session: DbSession, principal: LoggedIn) -> RedirectResponse:
    signup = service.get_signup(session, signup_id)
    service.mark_no_show(session, principal, signup)
    return redirect(f"/volunteer/activities/{signup.shift.activity_id}/manage")


# --- check-in ---------------------------------------------------------------------------------


def _shift_to_manage(session: Session, principal: Principal, shift_id: int) -> Shift:
    shift = session.get(Shift, shift_id)
    if shift is None:
        raise NotFound()
    service.get_activity_to_manage(session, principal, shift.activity_id)
    return shift


def _qr_context(request: Request, session: Session, principal: Principal, shift: Shift) -> dict:
    code = service.checkin_code(session, principal, shift)
    url = f"{str(request.base_url).rstrip('/')}/volunteer/check?code={code}"
    counts: dict[str, int] = {}
    for signup in service.roster(session, shift):
        counts[signup.status] = counts.get(signup.status, 0) + 1
    return {"shift": shift, "qr": qr_svg(url, 260), "url": url, "counts": counts}


@router.get("/volunteer/shifts/{shift_id}/qr", response_class=HTMLResponse)
def qr_page(
    shift_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    shift = _shift_to_manage(session, principal, shift_id)
    activity = service.get_activity(session, shift.activity_id)
    context = {
        **_labels(),
        **_qr_context(request, session, principal, shift),
        "activity": activity,
        "seconds": service.CHECKIN_SECONDS,
    }
    if request.headers.get("hx-request"):
        return render(request, "volunteer/_qr.html", context)
    return render(request, "volunteer/qr.html", context)


@router.get("/volunteer/check", response_class=HTMLResponse)
def check_form(
    request: Request,
    session: DbSession,
    principal: LoggedIn,
    code: Annotated[str | None, Query(max_length=300)] = None,
    shift_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> HTMLResponse:
    shift = session.get(Shift, shift_id) if shift_id else None
    return render(
        request,
        "volunteer/check.html",
        {
            "code": code or "",
            "shift": shift,
            "activity": service.get_activity(session, shift.activity_id) if shift else None,
            "done": request.query_params.get("done"),
        },
    )


@router.post("/volunteer/check", dependencies=[CsrfChecked])
def check(
    session: DbSession,
    principal: LoggedIn,
    code: Annotated[str, Form(max_length=300)] = "",
    shift_id: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
    lat: Annotated[str, Form(max_length=30)] = "",
    lng: Annotated[str, Form(max_length=30)] = "",
) -> RedirectResponse:
    def coordinate(value: str) -> float | None:
        try:
            return float(value) if value.strip() else None
        except ValueError:
            raise InvalidInput(N_("The location is not valid")) from None

    result = service.check(
        session,
        principal,
        code=code or None,
        shift_id=shift_id,
        lat=coordinate(lat),
        lng=coordinate(lng),
    )
    return redirect(f"/volunteer/check?done={result.action}&shift_id={result.shift_id}")


# --- certificates -----------------------------------------------------------------------------


@router.get("/volunteer/certificates", response_model=None)
def certificates(request: Request, session: DbSession, principal: LoggedIn) -> Response:
    volunteer = service.get_volunteer(session, principal.person_id)
    if volunteer is None:
        return redirect("/volunteer/profile")
    start, end = reports.period_default()
    return render(
        request,
        "volunteer/certificates.html",
        {
            "certificates": service.certificates_of(session, volunteer.person_id),
            "organisations": service.served_organisations(session, volunteer.person_id),
            "ledger": service.hours_ledger(session, volunteer.person_id, 50),
            "entry_labels": ENTRY_LABELS,
            "start": start,
            "end": end,
        },
    )


@router.post("/volunteer/certificates", dependencies=[CsrfChecked])
def request_certificate(
    session: DbSession,
    principal: LoggedIn,
    period_from: Annotated[date, Form()],
    period_to: Annotated[date, Form()],
    organisation_id: Annotated[str, Form(max_length=12)] = "",
) -> RedirectResponse:
    certificate = service.issue_certificate(
        session,
        principal,
        period_from=period_from,
        period_to=period_to,
        organisation_id=int(organisation_id) if organisation_id.isdigit() else None,
    )
    return redirect(f"/volunteer/certificates?issued={certificate.id}")


@router.get("/volunteer/certificates/{certificate_id}.pdf")
def certificate_pdf(
    certificate_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> Response:
    certificate = service.get_certificate_for(session, principal, certificate_id)
    verify = f"{str(request.base_url).rstrip('/')}/volunteer/certificates/verify/{certificate.code}"
    return Response(
        reports.certificate_pdf(certificate, verify),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="certificate-{certificate.id}.pdf"'},
    )


@router.get("/volunteer/certificates/verify/{code}", response_class=HTMLResponse)
def verify_certificate(
    code: Annotated[str, Path(max_length=32)],
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
) -> HTMLResponse:
    certificate = service.certificate_by_code(session, code)
    return render(
        request,
        "volunteer/certificate_check.html",
        {
            "certificate": certificate,
            "holder": mask_name(certificate.holder_name),
            "hours": round(certificate.minutes / 60, 1),
        },
    )


# --- benefits ---------------------------------------------------------------------------------


@router.get("/volunteer/benefits", response_class=HTMLResponse)
def benefits(request: Request, session: DbSession, principal: LoggedIn) -> HTMLResponse:
    person_id = principal.person_id or 0
    offers = service.benefits(session)
    return render(
        request,
        "volunteer/benefits.html",
        {
            "offers": [(b, service.eligible(session, person_id, b)) for b in offers],
            "claims": service.claims_of(session, person_id),
            "is_volunteer": service.get_volunteer(session, principal.person_id) is not None,
        },
    )


@router.post("/volunteer/benefits/{benefit_id}/claim", dependencies=[CsrfChecked])
def claim(benefit_id: Id, session: DbSession, principal: LoggedIn) -> RedirectResponse:
    service.claim_benefit(session, principal, benefit_id)
    return redirect("/volunteer/benefits#claims")


@router.get("/volunteer/orgs/{organisation_id}/benefits", response_class=HTMLResponse)
def partner_page(
    organisation_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    partner = organisations.get_organisation_for(
        session, principal, organisation_id, VolunteerPerm.BENEFIT
    )
    return render(
        request,
        "volunteer/partner.html",
        {
            "partner": partner,
            "offers": service.benefits_of(session, partner),
            "used": request.query_params.get("used"),
        },
    )


@router.post("/volunteer/orgs/{organisation_id}/benefits", dependencies=[CsrfChecked])
def create_benefit(
    organisation_id: Id,
    session: DbSession,
    principal: LoggedIn,
    title: Annotated[str, Form(max_length=200)],
    description: Annotated[str, Form(max_length=2000)] = "",
    min_star: Annotated[int, Form(ge=0, le=10)] = 0,
    min_hours: Annotated[int, Form(ge=0, le=100_000)] = 0,
    per_person_limit: Annotated[int, Form(ge=1, le=1000)] = 1,
    quota: Annotated[str, Form(max_length=8)] = "",
) -> RedirectResponse:
    partner = organisations.get_organisation(session, organisation_id)
    service.create_benefit(
        session,
        principal,
        partner,
        service.BenefitInput(
            title=title,
            description=description,
            min_star=min_star,
            min_hours=min_hours,
            per_person_limit=per_person_limit,
            quota=int(quota) if quota.isdigit() else None,
        ),
    )
    return redirect(f"/volunteer/orgs/{organisation_id}/benefits")


@router.post("/volunteer/orgs/{organisation_id}/claims", dependencies=[CsrfChecked])
def use_claim(
    organisation_id: Id,
    session: DbSession,
    principal: LoggedIn,
    code: Annotated[str, Form(max_length=16)],
) -> RedirectResponse:
    partner = organisations.get_organisation(session, organisation_id)
    claim_ = service.use_claim(session, principal, partner, code)
    return redirect(f"/volunteer/orgs/{organisation_id}/benefits?used={claim_.code}")


# --- organisation side and mobilisation -------------------------------------------------------


@router.get("/volunteer/orgs/{organisation_id}", response_class=HTMLResponse)
def org_page(
    organisation_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    organisation = _org_to_manage(session, principal, organisation_id)
    dashboard = reports.org_dashboard(session, organisation)
    start, end = reports.period_default()
    return render(
        request,
        "volunteer/org.html",
        {
            **_labels(),
            "organisation": organisation,
            "dashboard": dashboard,
            "chart_data": dashboard.chart_data(),
            "activities": service.activities_of(
                session, reports.subtree_ids(session, organisation)
            ),
            "calls": service.calls_of(session, organisation),
            "first_aiders": service.first_aiders(session, principal, organisation),
            "start": start,
            "end": end,
            "invited": request.query_params.get("invited"),
        },
    )


@router.get("/volunteer/orgs/{organisation_id}/hours.xlsx")
def hours_export(
    organisation_id: Id,
    session: DbSession,
    principal: LoggedIn,
    period_from: Annotated[date, Query()],
    period_to: Annotated[date, Query()],
) -> Response:
    organisation = _org_to_manage(session, principal, organisation_id)
    if period_to < period_from:
        raise InvalidInput(N_("The period ends before it starts"))
    data = reports.hours_workbook(session, organisation, period_from, period_to)
    return xlsx_response(data, f"{organisation.name}-志愿服务时长-{period_from}-{period_to}.xlsx")


@router.post("/volunteer/orgs/{organisation_id}/invitations", dependencies=[CsrfChecked])
def invite(
    organisation_id: Id,
    session: DbSession,
    principal: LoggedIn,
    person_ids: Annotated[list[int], Form()],
) -> RedirectResponse:
    organisation = _org_to_manage(session, principal, organisation_id)
    count = service.invite_responders(session, principal, organisation, person_ids)
    return redirect(f"/volunteer/orgs/{organisation.id}?invited={count}")


@router.get("/volunteer/orgs/{organisation_id}/calls/new", response_class=HTMLResponse)
def new_call(
    organisation_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    organisation = _org_to_manage(session, principal, organisation_id)
    return render(request, "volunteer/call_new.html", {**_labels(), "organisation": organisation})


@router.post("/volunteer/orgs/{organisation_id}/calls/new", dependencies=[CsrfChecked])
def create_call(
    organisation_id: Id,
    session: DbSession,
    principal: LoggedIn,
    title: Annotated[str, Form(max_length=200)],
    category: Annotated[str, Form(max_length=32)],
    sites: Annotated[str, Form(max_length=100_000)],
    first_day: Annotated[date, Form()],
    days: Annotated[int, Form(ge=1, le=60)],
    slots: Annotated[str, Form(max_length=100)],
    capacity: Annotated[int, Form(ge=1, le=10_000)],
    description: Annotated[str, Form(max_length=5000)] = "",
) -> RedirectResponse:
    organisation = _org_to_manage(session, principal, organisation_id)
    call = service.create_call(
        session,
        principal,
        organisation,
        title=title,
        category=category,
        description=description,
        sites=service.parse_sites(sites),
        first_day=first_day,
        days=days,
        slots=service.parse_slots(slots),
        capacity=capacity,
    )
    return redirect(f"/volunteer/calls/{call.id}")


def _board_context(session: Session, call_id: int) -> dict[str, Any]:
    call = service.get_call(session, call_id)
    board = service.fill_board(session, call)
    days = sorted({r.day for r in board})
    sites: dict[str, dict[date, Any]] = {}
    for row in board:
        sites.setdefault(row.site, {})[row.day] = row
    capacity = sum(r.capacity for r in board)
    taken = sum(r.taken for r in board)
    return {
        "call": call,
        "days": days,
        "sites": sites,
        "capacity": capacity,
        "taken": taken,
        "percent": round(100 * taken / capacity) if capacity else 0,
        "answers": service.call_answer_count(session, call),
    }


@router.get("/volunteer/calls/{call_id}", response_class=HTMLResponse)
def call_page(
    call_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    context = _board_context(session, call_id)
    organisation = organisations.get_organisation(session, context["call"].organisation_id)
    context.update(
        can_manage=service.can_manage(session, principal, organisation),
        my_answer=service.my_call_answer(session, context["call"], principal.person_id),
        volunteer=service.get_volunteer(session, principal.person_id),
        placed=request.query_params.get("placed"),
    )
    if request.headers.get("hx-request"):
        return render(request, "volunteer/_board.html", context)
    return render(request, "volunteer/call.html", context)


@router.post("/volunteer/calls/{call_id}/answer", dependencies=[CsrfChecked])
def answer_call(
    call_id: Id,
    session: DbSession,
    principal: LoggedIn,
    max_km: Annotated[float, Form(ge=0.5, le=200)],
    max_shifts: Annotated[int, Form(ge=1, le=60)],
    preferred_hours: Annotated[list[int] | None, Form()] = None,
) -> RedirectResponse:
    call = service.get_call(session, call_id)
    service.answer_call(
        session,
        principal,
        call,
        max_km=max_km,
        preferred_hours=preferred_hours or [],
        max_shifts=max_shifts,
    )
    return redirect(f"/volunteer/calls/{call.id}")


@router.post("/volunteer/calls/{call_id}/fill", dependencies=[CsrfChecked])
def fill_call(call_id: Id, session: DbSession, principal: LoggedIn) -> RedirectResponse:
    call = service.get_call(session, call_id)
    placed = service.fill_call(session, principal, call)
    return redirect(f"/volunteer/calls/{call.id}?placed={placed}")
