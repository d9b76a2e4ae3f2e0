"""Adoption permissions and the roles that carry them."""

from __future__ import annotations

import enum

from gongchuang.core.i18n import N_
from gongchuang.core.models import OrganisationKind
from gongchuang.core.permissions import Access, Role


class AdoptionPerm(enum.StrEnum):
    # Run the organisation's farms: fields, seasons, diary, harvest, shipping, refunds, ledger.
    MANAGE = "adoption.manage"
    # A person's own acts: adopt, pay, give an address, confirm delivery, complain.
    ADOPT = "adoption.adopt"


ACCESS = Access(
    permissions=AdoptionPerm,
    local_only=(AdoptionPerm.MANAGE,),
    self_service=(AdoptionPerm.ADOPT,),
    # Farms are put online by a village (its committee), or a cooperative or company.
    kinds={
        AdoptionPerm.MANAGE: (
            OrganisationKind.village_committee,
            OrganisationKind.residents_committee,
            OrganisationKind.company,
            OrganisationKind.ngo,
        )
    },
    roles=(
        Role("admin", N_("Administrator"), frozenset({AdoptionPerm.MANAGE})),
        Role("cadre", N_("Cadre"), frozenset({AdoptionPerm.MANAGE})),
        Role("farmer", N_("Farmer"), frozenset({AdoptionPerm.MANAGE})),
    ),
)
