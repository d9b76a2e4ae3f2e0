"""An organisation's volunteer page: its dashboard and activities, the hours export and the
invitation of first-aiders to the responder network.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gongchuang.core.i18n import gettext
from gongchuang.core.pages import xlsx_response
from gongchuang.core.web import CsrfChecked, DbSession, Id, LoggedIn, redirect
from gongchuang.volunteer import reports, service
from gongchuang.volunteer.pages._common import org_to_manage, parse_form, render_page
from gongchuang.volunteer.schemas import InviteIn

router = APIRouter(include_in_schema=False)


@router.get("/volunteer/orgs/{organisation_id}", response_class=HTMLResponse)
def org_page(
    organisation_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    organisation = org_to_manage(session, principal, organisation_id)
    dashboard = reports.org_dashboard(session, organisation)
    start, end = reports.period_default()
    return render_page(
        request,
        "volunteer/org.html",
        organisation=organisation,
        dashboard=dashboard,
        chart_data=dashboard.chart_data(),
        activities=service.activities_of(session, reports.subtree_ids(session, organisation)),
        calls=service.calls_of(session, organisation),
        first_aiders=service.first_aiders(session, principal, organisation),
        start=start,
        end=end,
        invited=request.query_params.get("invited"),
    )


@router.get("/volunteer/orgs/{organisation_id}/hours.xlsx")
def hours_export(
    organisation_id: Id,
    session: DbSession,
    principal: LoggedIn,
    period_from: Annotated[date, Query()],
    period_to: Annotated[date, Query()],
) -> Response:
    organisation = org_to_manage(session, principal, organisation_id)
    data = reports.hours_workbook(session, organisation, period_from, period_to)
    name = f"{organisation.name}-{gettext('Volunteer hours')}-{period_from}-{period_to}.xlsx"
    return xlsx_response(data, name)


@router.post("/volunteer/orgs/{organisation_id}/invitations", dependencies=[CsrfChecked])
def invite(
    organisation_id: Id,
    session: DbSession,
    principal: LoggedIn,
    person_ids: Annotated[list[int], Form()],
) -> RedirectResponse:
    organisation = org_to_manage(session, principal, organisation_id)
    command = parse_form(InviteIn, {"person_ids": person_ids})
    count = service.invite_responders(session, principal, organisation, command.person_ids)
    return redirect(f"/volunteer/orgs/{organisation.id}?invited={count}")
