"""Emergency permissions and the roles that carry them."""

from __future__ import annotations

import enum

from gongchuang.core.i18n import N_
from gongchuang.core.models import OrganisationKind
from gongchuang.core.permissions import Access, Role


class EmergencyPerm(enum.StrEnum):
    # A 120 centre's dispatchers: the console, the intake API, ETAs, closing incidents.
    DISPATCH = "emergency.dispatch"
    # A venue (mall, campus): its AEDs, its staff responders, calls from its own console.
    VENUE = "emergency.venue"
    # A health department of a region: incidents in the region, coverage, matching policy.
    OVERSEE = "emergency.oversee"
    # A responder's own acts (duty, answering alerts) and anyone's SOS.
    RESPOND = "emergency.respond"


ACCESS = Access(
    permissions=EmergencyPerm,
    # A county department reaches incidents and coverage in its region, but does not dispatch
    # or run a mall's AEDs through that reach.
    local_only=(EmergencyPerm.DISPATCH, EmergencyPerm.VENUE),
    self_service=(EmergencyPerm.RESPOND,),
    kinds={
        EmergencyPerm.DISPATCH: (OrganisationKind.dispatch_centre,),
        # The venues that keep AEDs and their own first-aiders.
        EmergencyPerm.VENUE: (
            OrganisationKind.company,
            OrganisationKind.school,
            OrganisationKind.hospital,
            OrganisationKind.ngo,
        ),
    },
    roles=(
        Role(
            "admin", N_("Administrator"), frozenset({EmergencyPerm.DISPATCH, EmergencyPerm.VENUE})
        ),
        Role("staff", N_("Staff"), frozenset({EmergencyPerm.DISPATCH, EmergencyPerm.VENUE})),
        Role("dispatcher", N_("120 dispatcher"), frozenset({EmergencyPerm.DISPATCH})),
        Role("venue_operator", N_("Venue AED operator"), frozenset({EmergencyPerm.VENUE})),
        # Oversight (incidents with a patient's description and responders' names, coverage,
        # policy) is a health department's: its own role, not the "department staff" role every
        # department's people hold (an agriculture office must not read incidents; PIPL,
        # purpose limitation).
        Role("health_staff", N_("Health department staff"), frozenset({EmergencyPerm.OVERSEE})),
    ),
)
