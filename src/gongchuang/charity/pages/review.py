"""The pages of those who watch over giving: reviewers (matches held for review, claw-backs
after an audit), campaign runners (campaigns, their pots, sharing out a quadratic pot) and
certifiers (charities awaiting certification)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.charity import service
from gongchuang.charity.models import (
    CAMPAIGN_KIND_LABELS,
    Campaign,
    Charity,
    Donation,
    EntryKind,
    LedgerEntry,
    Match,
    Pot,
    Project,
)
from gongchuang.charity.pages.manage import (
    labels,
    moment_from_local,
    parse_form,
    region_choices,
    require_somewhere,
)
from gongchuang.charity.permissions import CharityPerm
from gongchuang.charity.schemas import (
    CampaignIn,
    CertificationIn,
    ClawBackIn,
    PotIn,
    ReviewIn,
)
from gongchuang.charity.service._common import may
from gongchuang.charity.service.rules import RatioRule, Signal
from gongchuang.core import organisations
from gongchuang.core.clock import utcnow
from gongchuang.core.forms import fen_from_yuan
from gongchuang.core.i18n import N_
from gongchuang.core.identity import mask_name
from gongchuang.core.models import Organisation, Person
from gongchuang.core.permissions import Principal
from gongchuang.core.web import CsrfChecked, DbSession, FormFields, Id, LoggedIn, redirect, render

router = APIRouter(include_in_schema=False)

# Why a match was held, in words a reviewer reads (rules.Signal).
SIGNAL_LABELS: dict[str, str] = {
    Signal.tiny_from_new_account: N_("A tiny donation from a newly registered account"),
    Signal.burst_from_one_device: N_("Several donations from one device in a short time"),
    Signal.burst_from_one_address: N_("Several donations from one network address in a short time"),
    Signal.donor_is_charity_staff: N_("The donor works for the project's charity"),
    Signal.reciprocal_between_charities: N_("Staff of two charities donating to each other"),
    Signal.refund_after_match: N_("Refunds after a match"),
}

RULE_LABELS: dict[str, str] = {
    RatioRule.fixed: N_("Fixed ratio"),
    RatioRule.random: N_("Random ratio"),
    RatioRule.quadratic: N_("Quadratic funding"),
}


def _review_labels() -> dict[str, Any]:
    return {
        **labels(),
        "signal_labels": SIGNAL_LABELS,
        "rule_labels": RULE_LABELS,
        "campaign_kinds": CAMPAIGN_KIND_LABELS,
        "mask_name": mask_name,
    }


# --- matches held for review -----------------------------------------------------------------


def _match_rows(session: Session, matches: list[Match]) -> list[dict[str, Any]]:
    """Each match with its donation, its donor's name (masked on the page), its project and
    its pot."""
    rows = []
    for match in matches:
        donation = session.get(Donation, match.donation_id)
        donor = session.get(Person, match.donor_id)
        rows.append(
            {
                "match": match,
                "donation": donation,
                "donor_name": donor.name if donor else "",
                "project": session.get(Project, match.project_id),
                "pot": session.get(Pot, match.pot_id),
            }
        )
    return rows


def _reviewable(session: Session, principal: Principal, match: Match) -> bool:
    organisation_id = session.scalar(
        select(Campaign.organisation_id)
        .join(Pot, Pot.campaign_id == Campaign.id)
        .where(Pot.id == match.pot_id)
    )
    return organisation_id is not None and may(
        session, principal, CharityPerm.REVIEW, organisation_id
    )


@router.get("/charity/review", response_class=HTMLResponse)
def review_page(
    request: Request,
    session: DbSession,
    principal: LoggedIn,
    code: Annotated[str, Query(max_length=24)] = "",
) -> HTMLResponse:
    require_somewhere(session, principal, CharityPerm.REVIEW)
    wanted = code.strip().upper()
    found: list[Match] | None = None
    if wanted:
        donation = session.scalar(select(Donation).where(Donation.code == wanted))
        found = (
            [
                m
                for m in service.matches_of_donation(session, donation.id)
                if _reviewable(session, principal, m)
            ]
            if donation is not None
            else []
        )
    return render(
        request,
        "charity/review.html",
        {
            **_review_labels(),
            "held": _match_rows(session, service.matches_to_review(session, principal)),
            "code": wanted,
            "found": _match_rows(session, found) if found is not None else None,
        },
    )


@router.post("/charity/review/matches/{match_id}", dependencies=[CsrfChecked])
def review_match(
    match_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    service.review(session, principal, match_id, parse_form(ReviewIn, dict(form)))
    return redirect("/charity/review")


@router.post("/charity/review/matches/{match_id}/claw-back", dependencies=[CsrfChecked])
def claw_back(match_id: Id, session: DbSession, principal: LoggedIn, form: FormFields) -> Response:
    match = service.claw_back_after_audit(
        session, principal, match_id, parse_form(ClawBackIn, dict(form))
    )
    donation = session.get(Donation, match.donation_id)
    return redirect(f"/charity/review?code={donation.code}" if donation else "/charity/review")


# --- campaigns and their pots ----------------------------------------------------------------


def _shares(session: Session, pot: Pot) -> list[tuple[Project, int]]:
    """What a shared-out quadratic pot gave each project, from the ledger."""
    return [
        (project, int(amount))
        for project, amount in session.execute(
            select(Project, LedgerEntry.amount_fen)
            .join(LedgerEntry, LedgerEntry.project_id == Project.id)
            .where(
                LedgerEntry.kind == EntryKind.match,
                LedgerEntry.side == "credit",
                LedgerEntry.source.startswith(f"quadratic:{pot.id}:"),
            )
            .order_by(LedgerEntry.amount_fen.desc(), Project.id)
        ).all()
    ]


@router.get("/charity/campaigns/manage", response_class=HTMLResponse)
def campaigns_page(request: Request, session: DbSession, principal: LoggedIn) -> HTMLResponse:
    require_somewhere(session, principal, CharityPerm.CAMPAIGN)
    now = utcnow()
    rows = []
    for organisation in organisations.organisations_with(session, principal, CharityPerm.CAMPAIGN):
        campaigns = []
        for campaign in session.scalars(
            select(Campaign)
            .where(Campaign.organisation_id == organisation.id)
            .order_by(Campaign.starts_at.desc())
        ):
            campaign_pots = service.pots_of(session, campaign.id)
            left = service.pots_left(session, [pot.id for pot in campaign_pots])
            pots = [
                {
                    "pot": pot,
                    "left_fen": left[pot.id],
                    "shares": _shares(session, pot) if pot.shared_out_at else [],
                }
                for pot in campaign_pots
            ]
            campaigns.append(
                {
                    "campaign": campaign,
                    "pots": pots,
                    "ended": campaign.ends_at <= now,
                    "projects": service.projects_of_campaign(session, campaign.id),
                }
            )
        rows.append(
            {
                "organisation": organisation,
                "campaigns": campaigns,
                "regions": region_choices(session, organisation.region_id),
            }
        )
    return render(request, "charity/review_campaigns.html", {**_review_labels(), "rows": rows})


@router.post("/charity/campaigns/manage/{organisation_id}/campaigns", dependencies=[CsrfChecked])
def create_campaign(
    organisation_id: Id, session: DbSession, principal: LoggedIn, form: FormFields
) -> Response:
    values = {
        **form,
        "starts_at": moment_from_local(form.get("starts_local"), "starts_local"),
        "ends_at": moment_from_local(form.get("ends_local"), "ends_local"),
    }
    if values.get("kind") != "regional":
        values["region_id"] = ""
    command = parse_form(
        CampaignIn,
        values,
        {"starts_at": "starts_local", "ends_at": "ends_local"},
        rule_field="ends_local",
    )
    service.create_campaign(session, principal, organisation_id, command)
    return redirect("/charity/campaigns/manage")


_POT_AMOUNTS = (
    ("total_fen", "total_yuan"),
    ("min_donation_fen", "min_donation_yuan"),
    ("max_match_fen", "max_match_yuan"),
    ("daily_budget_fen", "daily_budget_yuan"),
    ("cap_donor_day_fen", "cap_donor_day_yuan"),
    ("cap_project_fen", "cap_project_yuan"),
    ("cap_organisation_fen", "cap_organisation_yuan"),
)


@router.post("/charity/campaigns/manage/campaigns/{campaign_id}/pots", dependencies=[CsrfChecked])
def add_pot(campaign_id: Id, session: DbSession, principal: LoggedIn, form: FormFields) -> Response:
    values: dict[str, object] = {**form}
    for field, typed in _POT_AMOUNTS:
        values[field] = fen_from_yuan(form.get(typed), typed)
    command = parse_form(
        PotIn,
        values,
        dict(_POT_AMOUNTS),
        rule_field="ratio_max_pct",
    )
    service.add_pot(session, principal, campaign_id, command)
    return redirect(f"/charity/campaigns/manage#campaign-{campaign_id}")


@router.post("/charity/campaigns/manage/pots/{pot_id}/share-out", dependencies=[CsrfChecked])
def share_out(pot_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    pot = session.get(Pot, pot_id)
    if pot is None:
        return redirect("/charity/campaigns/manage")
    service.share_out(session, principal, pot.id)
    return redirect(f"/charity/campaigns/manage#pot-{pot.id}")


# --- certification ---------------------------------------------------------------------------


@router.get("/charity/charities/certification", response_class=HTMLResponse)
def certification_page(request: Request, session: DbSession, principal: LoggedIn) -> HTMLResponse:
    require_somewhere(session, principal, CharityPerm.CERTIFY)
    rows = [
        (charity, organisation)
        for charity, organisation in session.execute(
            select(Charity, Organisation)
            .join(Organisation, Organisation.id == Charity.organisation_id)
            .order_by(Charity.certification != "pending", Charity.id)
            .limit(500)
        ).all()
        if may(session, principal, CharityPerm.CERTIFY, organisation.id)
    ]
    return render(
        request,
        "charity/review_certification.html",
        {
            **_review_labels(),
            "waiting": [r for r in rows if r[0].certification == "pending"],
            "decided": [r for r in rows if r[0].certification != "pending"],
        },
    )


@router.post("/charity/charities/{charity_id}/certification", dependencies=[CsrfChecked])
def certify(charity_id: Id, session: DbSession, principal: LoggedIn, form: FormFields) -> Response:
    service.certify(session, principal, charity_id, parse_form(CertificationIn, dict(form)))
    return redirect("/charity/charities/certification")
