"""Managing a village's points: settings, rules, categories and households."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gongchuang.core.errors import InvalidInput
from gongchuang.core.i18n import N_
from gongchuang.core.web import CsrfChecked, DbSession, Id, LoggedIn, site_url
from gongchuang.points import reports, service
from gongchuang.points.pages._common import V, _back_to, _page, _village
from gongchuang.points.permissions import PointsPerm
from gongchuang.points.schemas import (
    RULE_REFUSED,
    SETTINGS_REFUSED,
    CategoryIn,
    HouseholdIn,
    RuleActiveIn,
    RuleIn,
    SettingsIn,
    parse,
)

router = APIRouter(include_in_schema=False)


@router.get(V + "/manage", response_class=HTMLResponse)
def manage(
    village_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> HTMLResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    catalogue = service.get_catalogue(session, village)
    house_rows = [
        (h, service.household_members(session, h)) for h in service.households(session, village)
    ]
    return _page(
        request,
        "points/manage.html",
        session,
        principal,
        village,
        categories=service.categories(session, catalogue),
        rules=service.current_rules(session, catalogue, include_retired=True),
        households=house_rows,
        tiers_text="\n".join(f"{t['name']} {t['min_points']}" for t in catalogue.star_tiers),
    )


@router.post(V + "/settings", dependencies=[CsrfChecked])
def update_settings(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    notice_days: Annotated[int, Form()],
    approval_roles: Annotated[list[str], Form()],
    reset_period: Annotated[str, Form()],
    base_points: Annotated[int, Form()],
    min_redeem_balance: Annotated[int, Form()],
    account_unit: Annotated[str, Form()],
    star_tiers: Annotated[str, Form(max_length=1000)] = "",
    volunteer_rule_code: Annotated[str, Form()] = "",
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    tiers = []
    for line in star_tiers.splitlines():
        name, _, points = line.strip().rpartition(" ")
        if not line.strip():
            continue
        if not name or not points.isdigit():
            raise InvalidInput(
                N_("Each tier line is a name and the points, such as: 五星文明户 120")
            )
        tiers.append({"name": name.strip(), "min_points": int(points)})
    command = parse(
        SettingsIn,
        {
            "notice_days": notice_days,
            "approval_roles": [r for r in approval_roles if r],
            "reset_period": reset_period,
            "base_points": base_points,
            "min_redeem_balance": min_redeem_balance,
            "account_unit": account_unit,
            "star_tiers": tiers,
            "volunteer_rule_code": volunteer_rule_code,
        },
        SETTINGS_REFUSED,
    )
    service.update_settings(session, principal, village, command)
    return _back_to(village, "manage#settings")


@router.post(V + "/rules", dependencies=[CsrfChecked])
def save_rule(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    category_id: Annotated[int, Form()],
    title: Annotated[str, Form()],
    points: Annotated[int, Form()],
    reporters: Annotated[list[str], Form()],
    code: Annotated[str, Form(max_length=32)] = "",
    evidence_required: Annotated[bool, Form()] = False,
    cap_count: Annotated[str, Form(max_length=5)] = "",
    cap_period: Annotated[str, Form()] = "month",
    description: Annotated[str, Form()] = "",
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    cap = cap_count.strip()
    if cap and not cap.isdigit():
        raise InvalidInput(N_("The cap must be a whole number, or empty for none"))
    data = parse(
        RuleIn,
        {
            "category_id": category_id,
            "title": title,
            "points": points,
            "evidence_required": evidence_required,
            "cap_count": int(cap) if cap else None,
            "cap_period": cap_period,
            "reporters": reporters,
            "description": description,
        },
        RULE_REFUSED,
    )
    if code:
        service.revise_rule(session, principal, village, code, data)
    else:
        service.add_rule(session, principal, village, data)
    return _back_to(village, "manage#rules")


@router.post(V + "/rules/{code}/active", dependencies=[CsrfChecked])
def rule_active(
    village_id: Id,
    code: str,
    session: DbSession,
    principal: LoggedIn,
    active: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    command = parse(RuleActiveIn, {"active": active})
    service.set_rule_active(session, principal, village, code[:32], command)
    return _back_to(village, "manage#rules")


@router.post(V + "/categories", dependencies=[CsrfChecked])
def add_category(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    name: Annotated[str, Form()],
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    service.add_category(session, principal, village, parse(CategoryIn, {"name": name}))
    return _back_to(village, "manage#rules")


@router.post(V + "/households", dependencies=[CsrfChecked])
def create_household(
    village_id: Id,
    session: DbSession,
    principal: LoggedIn,
    name: Annotated[str, Form()],
    phones: Annotated[str, Form(max_length=1000)],
) -> RedirectResponse:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    typed = phones.replace("，", ",").replace("\n", ",").split(",")
    command = parse(
        HouseholdIn,
        {"name": name, "member_phones": [p.strip() for p in typed if p.strip()]},
        names={"member_phones": "phones"},
    )
    service.create_household(session, principal, village, command)
    return _back_to(village, "manage#households")


@router.get(V + "/cards.pdf")
def cards_pdf(
    village_id: Id,
    request: Request,
    session: DbSession,
    principal: LoggedIn,
    household: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    village = _village(session, principal, village_id, PointsPerm.MANAGE)
    chosen = (
        [service.get_household(session, village, household)]
        if household
        else service.households(session, village)
    )
    base_url = site_url(request)
    data = reports.household_cards_pdf(session, village, chosen, base_url)
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": 'inline; filename="household-cards.pdf"'},
    )
