"""The village points module as the platform sees it (see core/modules.py)."""

from __future__ import annotations

from pathlib import Path

from gongchuang.core.i18n import N_
from gongchuang.core.modules import JobSpec, Module, on
from gongchuang.core.web import PersonalBlock
from gongchuang.points import jobs, service
from gongchuang.points.permissions import ACCESS
from gongchuang.topics import points as topics
from gongchuang.topics.volunteer import HoursVerified

MODULE = Module(
    code="points",
    title=N_("Village points"),
    summary=N_(
        "Record civic deeds for points, approve them, post them publicly, and redeem "
        "points in the village shop."
    ),
    href="/points",
    access=ACCESS,
    models="gongchuang.points.models",
    publishes=(topics.RecordApproved, topics.NoticeSettled, topics.ObjectionDecided),
    # Verified volunteer service becomes points where a village chose a rule for it.
    subscriptions=(on(HoursVerified, jobs.volunteer_hours),),
    jobs=(
        JobSpec("points.settle", jobs.settle, lease_seconds=600, every_seconds=15 * 60),
        JobSpec("points.roll_periods", jobs.roll_periods, lease_seconds=600, every_seconds=3600),
    ),
    routers=("gongchuang.points.api", "gongchuang.points.pages"),
    templates=Path(__file__).resolve().parent / "templates",
    personal_block=PersonalBlock("points/_home_mine.html", service.home_summary),
)
