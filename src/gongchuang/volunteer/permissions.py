"""Volunteer permissions and the roles that carry them."""

from __future__ import annotations

import enum

from gongchuang.core.i18n import N_
from gongchuang.core.permissions import Access, Role


class VolunteerPerm(enum.StrEnum):
    # Publish activities, run check-in, approve and correct hours, dashboards: for the
    # organisation and every organisation below it (a federation oversees its teams).
    MANAGE = "volunteer.manage"
    BENEFIT = "volunteer.benefit"  # a partner offers benefits and verifies claims
    PARTICIPATE = "volunteer.participate"  # sign up, check in, claim: a volunteer's own acts


STAFF = frozenset({VolunteerPerm.MANAGE, VolunteerPerm.BENEFIT})

ACCESS = Access(
    permissions=VolunteerPerm,
    local_only=(VolunteerPerm.MANAGE, VolunteerPerm.BENEFIT),
    self_service=(VolunteerPerm.PARTICIPATE,),
    roles=(
        Role("admin", N_("Administrator"), STAFF),
        Role("staff", N_("Staff"), STAFF),
        Role("volunteer_leader", N_("Volunteer team leader"), frozenset({VolunteerPerm.MANAGE})),
    ),
)
