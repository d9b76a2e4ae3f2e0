"""The points index and a village's home page, and setting up points in a village."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gongchuang.core import organisations
from gongchuang.core.errors import NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.web import CsrfChecked, DbSession, Id, LoggedIn, render
from gongchuang.points import reports, service
from gongchuang.points.catalogue_templates import TEMPLATES
from gongchuang.points.models import PointRecord
from gongchuang.points.pages._common import V, _back_to, _render, _village, _village_context
from gongchuang.points.permissions import PointsPerm
from gongchuang.points.schemas import CatalogueIn, parse

router = APIRouter(include_in_schema=False)


@router.get("/points", response_class=HTMLResponse)
def index(request: Request, session: DbSession, principal: LoggedIn) -> HTMLResponse:
    villages = service.villages_of(session, principal)
    managed = [
        m.organisation
        for m in organisations.memberships_of(session, principal.person_id or 0)
        if m.organisation.kind in service.VILLAGE_KINDS
        and service.find_catalogue(session, m.organisation) is None
        and service.can(session, principal, PointsPerm.MANAGE, m.organisation)
    ]
    return render(
        request,
        "points/index.html",
        {
            "villages": villages,
            "unconfigured": managed,
            "regions": reports.dashboard_regions(session, principal),
        },
    )


@router.get(V, response_class=HTMLResponse)
def village_home(
    village_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    village, context = _village_context(session, principal, village_id)
    if context["catalogue"] is None:
        if not context["can_manage"]:
            raise NotFound(N_("This village has not set up points governance yet"))
        return _render(request, "points/setup.html", context, templates=TEMPLATES)
    waiting = service.awaiting_me(session, principal, village)
    return _render(
        request,
        "points/village.html",
        context,
        waiting=len(waiting),
        open_objections=len(service.objections(session, village, "open"))
        if context["can_manage"]
        else 0,
        tier=service.account_tier(session, context["catalogue"], context["my_account"])
        if context["my_account"]
        else "",
        my_records=list(
            session.scalars(
                service.records_query(village, person_id=principal.person_id)
                .order_by(PointRecord.id.desc())
                .limit(10)
            ).unique()
        ),
    )


@router.post(V + "/setup", dependencies=[CsrfChecked])
def setup(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    template: Annotated[str, Form()],
    account_unit: Annotated[str, Form()] = "household",
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    command = parse(CatalogueIn, {"template": template, "account_unit": account_unit})
    service.create_catalogue(session, principal, village, command)
    return _back_to(village, "manage")
