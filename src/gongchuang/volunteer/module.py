"""The volunteer service module as the platform sees it (see core/modules.py)."""

from __future__ import annotations

from pathlib import Path

from gongchuang.core.i18n import N_
from gongchuang.core.modules import JobSpec, Module
from gongchuang.core.web import PersonalBlock
from gongchuang.topics import volunteer as topics
from gongchuang.volunteer import jobs, service
from gongchuang.volunteer.permissions import ACCESS

MODULE = Module(
    code="volunteer",
    title=N_("Volunteering"),
    summary=N_(
        "Find activities near you, sign up, check in with a QR code, and earn verified "
        "hours, star levels, certificates and benefits."
    ),
    href="/volunteer",
    access=ACCESS,
    models="gongchuang.volunteer.models",
    consent_purposes=service.CONSENT_PURPOSES,
    publishes=(topics.HoursVerified, topics.ActivityCancelled, topics.ResponderInvited),
    jobs=(
        JobSpec(
            "volunteer.close_shifts", jobs.close_shifts, lease_seconds=600, every_seconds=10 * 60
        ),
    ),
    routers=("gongchuang.volunteer.api", "gongchuang.volunteer.pages"),
    templates=Path(__file__).resolve().parent / "templates",
    personal_block=PersonalBlock("volunteer/_home_mine.html", service.home_summary),
)
