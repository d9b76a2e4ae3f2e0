"""Emergency permissions and the roles that carry them."""

from __future__ import annotations

import enum

from gongchuang.core.i18n import N_
from gongchuang.core.models import OrganisationKind
from gongchuang.core.permissions import (
    register_kinds,
    register_local_only,
    register_permissions,
    register_role,
    register_self_service,
)


class EmergencyPerm(enum.StrEnum):
    # A 120 centre's dispatchers: the console, the intake API, ETAs, closing incidents.
    DISPATCH = "emergency.dispatch"
    # A venue (mall, campus): its AEDs, its staff responders, calls from its own console.
    VENUE = "emergency.venue"
    # A health department of a region: incidents in the region, coverage, matching policy.
    OVERSEE = "emergency.oversee"
    # A responder's own acts (duty, answering alerts) and anyone's SOS.
    RESPOND = "emergency.respond"


register_permissions(EmergencyPerm)
# A county department reaches incidents and coverage in its region, but does not dispatch or
# run a mall's AEDs through that reach.
register_local_only(EmergencyPerm.DISPATCH, EmergencyPerm.VENUE)
register_self_service(EmergencyPerm.RESPOND.value)
register_kinds(EmergencyPerm.DISPATCH, OrganisationKind.dispatch_centre)
# The venues that keep AEDs and their own first-aiders.
register_kinds(
    EmergencyPerm.VENUE,
    OrganisationKind.company,
    OrganisationKind.school,
    OrganisationKind.hospital,
    OrganisationKind.ngo,
)
register_role(
    "admin", N_("Administrator"), {EmergencyPerm.DISPATCH.value, EmergencyPerm.VENUE.value}
)
register_role("staff", N_("Staff"), {EmergencyPerm.DISPATCH.value, EmergencyPerm.VENUE.value})
register_role("dispatcher", N_("120 dispatcher"), {EmergencyPerm.DISPATCH.value})
register_role("venue_operator", N_("Venue AED operator"), {EmergencyPerm.VENUE.value})
# Oversight (incidents with a patient's description and responders' names, coverage, policy) is
# a health department's: its own role, not the "department staff" role every department's
# people hold (an agriculture office must not read incidents; PIPL, purpose limitation).
register_role("health_staff", N_("Health department staff"), {EmergencyPerm.OVERSEE.value})
