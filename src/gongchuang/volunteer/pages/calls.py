"""Mass mobilisation: a new call, its fill-rate board, volunteers' answers and filling it."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from gongchuang.core import organisations
from gongchuang.core.errors import InvalidInput
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.web import CsrfChecked, DbSession, FormFields, Id, LoggedIn, redirect, render
from gongchuang.volunteer import service
from gongchuang.volunteer.pages._common import org_to_manage, parse_form, render_page
from gongchuang.volunteer.schemas import CallAnswer, CallIn

router = APIRouter(include_in_schema=False)


@router.get("/volunteer/orgs/{organisation_id}/calls/new", response_class=HTMLResponse)
def new_call(
    organisation_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    organisation = org_to_manage(session, principal, organisation_id)
    return render_page(request, "volunteer/call_new.html", organisation=organisation)


def _sites(text: str) -> list[dict[str, Any]]:
    """One site a line: name, latitude, longitude (commas, Chinese commas or tabs)."""
    sites: list[dict[str, Any]] = []
    errors = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.replace("，", ",").replace("\t", ",").split(",")]
        try:
            name, lat, lng = parts[0], float(parts[1]), float(parts[2])
        except (IndexError, ValueError):
            errors.append({"line": line_no, "message": gettext("name, latitude, longitude")})
            continue
        sites.append({"name": name, "lat": lat, "lng": lng})
    if errors:
        raise InvalidInput(N_("Some sites are not valid; nothing was saved"), errors=errors)
    return sites


def _slots(text: str) -> list[tuple[int, int]]:
    """Slots like "8-12, 13-17, 18-21"."""
    slots = []
    for part in text.replace("，", ",").split(","):
        if not part.strip():
            continue
        start, _, end = part.partition("-")
        if not (start.strip().isdigit() and end.strip().isdigit()):
            raise InvalidInput(N_("Slots look like 8-12, 13-17"))
        slots.append((int(start), int(end)))
    return slots


@router.post("/volunteer/orgs/{organisation_id}/calls/new", dependencies=[CsrfChecked])
def create_call(
    organisation_id: Id,
    session: DbSession,
    principal: LoggedIn,
    sites: Annotated[str, Form(max_length=100_000)],
    slots: Annotated[str, Form(max_length=100)],
    form: FormFields,
) -> RedirectResponse:
    org_to_manage(session, principal, organisation_id)
    fields = ("title", "category", "description", "first_day", "days", "capacity")
    command = parse_form(
        CallIn,
        {
            **{name: form[name] for name in fields if form.get(name)},
            "organisation_id": organisation_id,
            "sites": _sites(sites),
            "slots": _slots(slots),
        },
    )
    call = service.launch_call(session, principal, command)
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
    command: Annotated[CallAnswer, Form()],
) -> RedirectResponse:
    call = service.get_call(session, call_id)
    service.answer_call(session, principal, call, **command.model_dump())
    return redirect(f"/volunteer/calls/{call.id}")


@router.post("/volunteer/calls/{call_id}/fill", dependencies=[CsrfChecked])
def fill_call(call_id: Id, session: DbSession, principal: LoggedIn) -> RedirectResponse:
    call = service.get_call(session, call_id)
    placed = service.fill_call(session, principal, call)
    return redirect(f"/volunteer/calls/{call.id}?placed={placed}")
