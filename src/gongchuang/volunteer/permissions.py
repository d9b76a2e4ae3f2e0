"""Volunteer permissions and the roles that carry them."""

from __future__ import annotations

import enum

from gongchuang.core.i18n import N_
from gongchuang.core.permissions import (
    register_local_only,
    register_permissions,
    register_role,
    register_self_service,
)


class VolunteerPerm(enum.StrEnum):
    # Publish activities, run check-in, approve and correct hours, dashboards: for the
    # organisation and every organisation below it (a federation oversees its teams).
    MANAGE = "volunteer.manage"
    BENEFIT = "volunteer.benefit"  # a partner offers benefits and verifies claims
    PARTICIPATE = "volunteer.participate"  # sign up, check in, claim: a volunteer's own acts


register_permissions(VolunteerPerm)
register_local_only(VolunteerPerm.MANAGE, VolunteerPerm.BENEFIT)
register_self_service(VolunteerPerm.PARTICIPATE.value)
STAFF = {VolunteerPerm.MANAGE.value, VolunteerPerm.BENEFIT.value}
register_role("admin", N_("Administrator"), STAFF)
register_role("staff", N_("Staff"), STAFF)
register_role("volunteer_leader", N_("Volunteer team leader"), {VolunteerPerm.MANAGE.value})
