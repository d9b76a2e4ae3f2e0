"""Events of the emergency module."""

from __future__ import annotations

from datetime import datetime

from gongchuang.core.events import Event
from gongchuang.core.i18n import N_


class IncidentStatus(Event):
    """An incident changed: what a 120 centre's system follows by webhook, with the counts its
    dispatcher sees on the console."""

    topic = "emergency.incident_status"
    label = N_("An emergency incident changed (for the 120 centre)")

    organisation_id: int
    incident: str  # the public reference
    external_id: str | None  # the centre's own case number
    status: str
    change: str
    alerted: int
    accepted: int
    declined: int
    first_eta_s: int | None
    on_scene: int
    aed_picked_up: int
    outcome: dict[str, object] | None  # what the centre recorded on closing
    at: datetime
