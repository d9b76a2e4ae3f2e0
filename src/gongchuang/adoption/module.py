"""The cloud adoption module as the platform sees it (see core/modules.py)."""

from __future__ import annotations

from pathlib import Path

from gongchuang.adoption import jobs, service
from gongchuang.adoption.models import ORDER_STATUS_LABELS
from gongchuang.adoption.permissions import ACCESS
from gongchuang.core.i18n import N_
from gongchuang.core.modules import JobSpec, Module
from gongchuang.core.payments import PurposeHandlers
from gongchuang.core.web import PersonalBlock
from gongchuang.topics import adoption as topics

MODULE = Module(
    code="adoption",
    title=N_("Cloud adoption"),
    summary=N_(
        "Adopt square metres of a village's field before planting, follow the crop in the "
        "farm's diary, and receive your share of the harvest; the village's income is public."
    ),
    href="/adoption",
    access=ACCESS,
    models="gongchuang.adoption.models",
    consent_purposes=service.CONSENT_PURPOSES,
    payment_purposes={
        service.PURPOSE: PurposeHandlers(
            on_paid=service.on_paid,
            on_refunded=service.on_refunded,
            return_href=service.return_href,
        )
    },
    publishes=(
        topics.AdoptionAllocated,
        topics.DiaryPosted,
        topics.HarvestRecorded,
        topics.LedgerEntryRecorded,
    ),
    jobs=(
        JobSpec(
            "adoption.release_expired", jobs.release_expired, lease_seconds=120, every_seconds=60
        ),
        JobSpec(
            "adoption.confirm_overdue", jobs.confirm_overdue, lease_seconds=300, every_seconds=3600
        ),
    ),
    routers=("gongchuang.adoption.api", "gongchuang.adoption.pages"),
    templates=Path(__file__).resolve().parent / "templates",
    template_globals={"adoption_status_label": ORDER_STATUS_LABELS.__getitem__},
    personal_block=PersonalBlock("adoption/_home_mine.html", service.home_summary),
)
