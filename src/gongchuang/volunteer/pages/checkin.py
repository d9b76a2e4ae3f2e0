"""Check-in on site: the organiser's rotating QR code and the volunteer's check form."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from gongchuang.core.errors import InvalidInput
from gongchuang.core.i18n import N_
from gongchuang.core.pdf import qr_svg
from gongchuang.core.permissions import Principal
from gongchuang.core.web import CsrfChecked, DbSession, Id, LoggedIn, redirect, render
from gongchuang.volunteer import links, service
from gongchuang.volunteer.models import Shift
from gongchuang.volunteer.pages._common import label_maps, parse_form
from gongchuang.volunteer.schemas import CheckIn

router = APIRouter(include_in_schema=False)


def _qr_context(request: Request, session: Session, principal: Principal, shift: Shift) -> dict:
    code = service.checkin_code(session, principal, shift)
    url = links.checkin_url(request, code)
    counts: dict[str, int] = {}
    for signup in service.roster(session, shift):
        counts[signup.status] = counts.get(signup.status, 0) + 1
    return {"shift": shift, "qr": qr_svg(url, 260), "url": url, "counts": counts}


@router.get("/volunteer/shifts/{shift_id}/qr", response_class=HTMLResponse)
def qr_page(
    shift_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    shift = service.get_shift_to_manage(session, principal, shift_id)
    activity = service.get_activity(session, shift.activity_id)
    context = {
        **label_maps(),
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

    command = parse_form(
        CheckIn,
        {
            "code": code or None,
            "shift_id": shift_id,
            "lat": coordinate(lat),
            "lng": coordinate(lng),
        },
    )
    result = service.check(session, principal, **command.model_dump())
    return redirect(f"/volunteer/check?done={result.action}&shift_id={result.shift_id}")
