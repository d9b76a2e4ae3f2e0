"""The emergency module as the platform sees it (see core/modules.py)."""

from __future__ import annotations

from pathlib import Path

from gongchuang.core.i18n import N_
from gongchuang.core.modules import JobSpec, Module, on
from gongchuang.core.web import PersonalBlock
from gongchuang.emergency import jobs, opening_hours, service
from gongchuang.emergency.permissions import ACCESS
from gongchuang.topics import emergency as topics
from gongchuang.topics.volunteer import ResponderInvited

MODULE = Module(
    code="emergency",
    title=N_("First aid network"),
    summary=N_(
        "AEDs on a map, first-aiders alerted to a cardiac arrest nearby, and a live "
        "console for 120 dispatchers."
    ),
    href="/emergency",
    access=ACCESS,
    models="gongchuang.emergency.models",
    consent_purposes=service.CONSENT_PURPOSES,
    publishes=(topics.IncidentStatus,),
    # A volunteer organisation's first-aiders are asked to join the network.
    subscriptions=(on(ResponderInvited, service.invite_volunteer),),
    jobs=(
        # Each wave of alerts is queued by the incident itself (no interval).
        JobSpec("emergency.alert_wave", jobs.alert_wave, lease_seconds=30),
        JobSpec(
            "emergency.prune_locations",
            jobs.prune_locations,
            lease_seconds=300,
            every_seconds=10 * 60,
        ),
        JobSpec(
            "emergency.aed_reminders",
            jobs.aed_reminders,
            lease_seconds=600,
            every_seconds=6 * 60 * 60,
        ),
    ),
    routers=("gongchuang.emergency.api", "gongchuang.emergency.pages"),
    templates=Path(__file__).resolve().parent / "templates",
    template_globals={
        "opening_hours_in_words": opening_hours.describe,
        "aed_problems_in_words": service.aed_problems_in_words,
    },
    personal_block=PersonalBlock("emergency/_home_mine.html", service.home_summary, urgent=True),
    home_block="emergency/_home_first_aid.html",
    header_link=(N_("First aid"), "/first-aid"),
)
