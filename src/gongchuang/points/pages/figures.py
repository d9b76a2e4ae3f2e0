"""Rankings, accounts and balances, and the village and region dashboards."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from gongchuang.core.web import DbSession, Id, LoggedIn, render
from gongchuang.points import reports, service, shop
from gongchuang.points.pages._common import V, _page, _village
from gongchuang.points.permissions import PointsPerm

router = APIRouter(include_in_schema=False)


@router.get(V + "/rankings", response_class=HTMLResponse)
def rankings(
    village_id: Id,
    request: Request,
    session: DbSession,
    principal: LoggedIn,
    period: Annotated[str, Query(pattern="^(month|year)$")] = "month",
) -> HTMLResponse:
    village = _village(session, principal, village_id)
    return _page(
        request,
        "points/rankings.html",
        session,
        principal,
        village,
        period=period,
        rows=reports.ranking(session, village, period, service.today_local()),
    )


@router.get(V + "/accounts/{account_id}", response_class=HTMLResponse)
def account_page(
    village_id: Id, account_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    village = _village(session, principal, village_id)
    account = service.get_account_for(session, principal, village, account_id)
    return _page(
        request,
        "points/account.html",
        session,
        principal,
        village,
        account=account,
        label=service.account_labels(session, [account]).get(account.id, ""),
        entries=service.ledger(session, account),
        redemptions=shop.redemptions(session, village, account_id=account.id, limit=50),
    )


@router.get(V + "/balances", response_class=HTMLResponse)
def balances(
    village_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    village = _village(session, principal, village_id, PointsPerm.VIEW)
    return _page(
        request,
        "points/balances.html",
        session,
        principal,
        village,
        rows=service.balances(session, village),
    )


@router.get(V + "/dashboard", response_class=HTMLResponse)
def village_dashboard(
    village_id: Id,
    request: Request,
    session: DbSession,
    principal: LoggedIn,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> HTMLResponse:
    village = _village(session, principal, village_id)
    dashboard = reports.village_dashboard(session, village, year or service.today_local().year)
    return _page(
        request,
        "points/dashboard.html",
        session,
        principal,
        village,
        dashboard=dashboard,
        chart_data=dashboard.chart_data(),
        rollup=False,
    )


@router.get("/points/regions/{code}/dashboard", response_class=HTMLResponse)
def region_dashboard(
    code: Annotated[str, Path(pattern=r"^\d{6}(\d{6})?$")],
    request: Request,
    session: DbSession,
    principal: LoggedIn,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> HTMLResponse:
    region = reports.get_region_for(session, principal, code)
    dashboard = reports.region_dashboard(session, region, year or service.today_local().year)
    return render(
        request,
        "points/dashboard.html",
        {
            "dashboard": dashboard,
            "chart_data": dashboard.chart_data(),
            "rollup": True,
            "region": region,
        },
    )
