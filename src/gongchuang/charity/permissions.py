"""Charity permissions and the roles that carry them."""

from __future__ import annotations

import enum

from gongchuang.core.i18n import N_
from gongchuang.core.models import OrganisationKind
from gongchuang.core.permissions import Access, Role


class CharityPerm(enum.StrEnum):
    # Run a charity's projects and budgets, submit and pay expenses; keep a community fund.
    MANAGE = "charity.manage"
    # Approve a colleague's expense (never one's own).
    APPROVE = "charity.approve"
    # Run campaigns and their matching pots (a platform, a foundation, a street office).
    CAMPAIGN = "charity.campaign"
    # Release or claw back matches held for review, and claw back after an audit.
    REVIEW = "charity.review"
    # Check a charity's registration and certify or suspend it.
    CERTIFY = "charity.certify"
    # A community organisation proposes to a community fund and reports on its grant.
    PROPOSE = "charity.propose"
    # A person's own acts: donate, give monthly, download receipts.
    DONATE = "charity.donate"


_CHARITABLE = (
    OrganisationKind.ngo,
    OrganisationKind.residents_committee,
    OrganisationKind.village_committee,
)

ACCESS = Access(
    permissions=CharityPerm,
    local_only=(
        CharityPerm.MANAGE,
        CharityPerm.APPROVE,
        CharityPerm.CAMPAIGN,
        CharityPerm.REVIEW,
        CharityPerm.PROPOSE,
    ),
    self_service=(CharityPerm.DONATE,),
    kinds={
        CharityPerm.MANAGE: _CHARITABLE,
        CharityPerm.APPROVE: _CHARITABLE,
        CharityPerm.CAMPAIGN: (
            OrganisationKind.platform,
            OrganisationKind.ngo,
            OrganisationKind.government_department,
        ),
        CharityPerm.REVIEW: (
            OrganisationKind.platform,
            OrganisationKind.ngo,
            OrganisationKind.government_department,
        ),
        # Checked against the charity certified (by the platform, or the department over it).
        CharityPerm.CERTIFY: _CHARITABLE,
        CharityPerm.PROPOSE: (*_CHARITABLE, OrganisationKind.school),
    },
    roles=(
        Role(
            "admin",
            N_("Administrator"),
            frozenset(
                {
                    CharityPerm.MANAGE,
                    CharityPerm.APPROVE,
                    CharityPerm.CAMPAIGN,
                    CharityPerm.REVIEW,
                    CharityPerm.CERTIFY,
                    CharityPerm.PROPOSE,
                }
            ),
        ),
        Role("staff", N_("Staff"), frozenset({CharityPerm.MANAGE, CharityPerm.PROPOSE})),
        Role("finance", N_("Finance"), frozenset({CharityPerm.APPROVE})),
        Role("reviewer", N_("Reviewer"), frozenset({CharityPerm.REVIEW})),
        Role("department_staff", N_("Department staff"), frozenset({CharityPerm.CERTIFY})),
    ),
)
