"""Benefits: what volunteers may claim, and the partner's page to offer them and take codes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gongchuang.core import organisations
from gongchuang.core.web import CsrfChecked, DbSession, Id, LoggedIn, redirect, render
from gongchuang.volunteer import service
from gongchuang.volunteer.pages._common import parse_form
from gongchuang.volunteer.permissions import VolunteerPerm
from gongchuang.volunteer.schemas import BenefitIn, BenefitOffer, ClaimUse

router = APIRouter(include_in_schema=False)


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
    offer: Annotated[BenefitOffer, Form()],
) -> RedirectResponse:
    command = BenefitIn(partner_organisation_id=organisation_id, **offer.model_dump())
    service.offer_benefit(session, principal, command)
    return redirect(f"/volunteer/orgs/{organisation_id}/benefits")


@router.post("/volunteer/orgs/{organisation_id}/claims", dependencies=[CsrfChecked])
def use_claim(
    organisation_id: Id,
    session: DbSession,
    principal: LoggedIn,
    code: Annotated[str, Form(max_length=16)],
) -> RedirectResponse:
    command = parse_form(ClaimUse, {"partner_organisation_id": organisation_id, "code": code})
    claim_ = service.use_claim_code(session, principal, command)
    return redirect(f"/volunteer/orgs/{organisation_id}/benefits?used={claim_.code}")
