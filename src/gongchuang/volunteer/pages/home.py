"""The volunteer's own pages: the home page, the profile form and the e-card (and its public
check).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gongchuang.core import organisations, people
from gongchuang.core.clock import utcnow
from gongchuang.core.pdf import qr_svg
from gongchuang.core.web import CsrfChecked, CurrentPrincipal, DbSession, LoggedIn, redirect, render
from gongchuang.volunteer import links, recommend, service
from gongchuang.volunteer.pages._common import label_maps, parse_form, render_page
from gongchuang.volunteer.permissions import VolunteerPerm
from gongchuang.volunteer.schemas import ProfileIn

router = APIRouter(include_in_schema=False)


@router.get("/volunteer", response_class=HTMLResponse)
def home(request: Request, session: DbSession, principal: LoggedIn) -> HTMLResponse:
    volunteer = service.get_volunteer(session, principal.person_id)
    context: dict[str, Any] = {**label_maps(), "volunteer": volunteer}
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
    return render_page(request, "volunteer/profile.html", volunteer=volunteer)


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
    command = parse_form(
        ProfileIn,
        {
            "skills": skills or [],
            "interests": interests or [],
            "availability": availability or [],
            "languages": [x for x in languages.replace("，", ",").split(",") if x.strip()],
            "birth_date": birth_date,
            "share_location": share_location,
            "home_lat": home_lat,
            "home_lng": home_lng,
        },
    )
    service.save_profile(session, principal, command)
    return redirect("/volunteer")


@router.get("/volunteer/card", response_model=None)
def my_card(request: Request, session: DbSession, principal: LoggedIn) -> Response:
    volunteer = service.get_volunteer(session, principal.person_id)
    if volunteer is None:
        return redirect("/volunteer/profile")
    url = links.card_url(request, volunteer)
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
