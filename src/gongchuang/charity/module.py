"""The charity module as the platform sees it (see core/modules.py)."""

from __future__ import annotations

from pathlib import Path

from gongchuang.charity import jobs, service
from gongchuang.charity.permissions import ACCESS
from gongchuang.core.i18n import N_
from gongchuang.core.modules import JobSpec, Module
from gongchuang.core.payments import PurposeHandlers
from gongchuang.topics import charity as topics

MODULE = Module(
    code="charity",
    title=N_("Charity and matched giving"),
    summary=N_(
        "Give to certified charities' projects and community funds; giving days and daily "
        "matches add to your gift; every yuan is followed from donation to expense."
    ),
    href="/charity",
    access=ACCESS,
    models="gongchuang.charity.models",
    payment_purposes={
        service.PURPOSE: PurposeHandlers(
            on_paid=service.on_paid,
            on_refunded=service.on_refunded,
            return_href=service.return_href,
        )
    },
    publishes=(
        topics.DonationReceived,
        topics.MatchFrozen,
        topics.MatchReviewed,
        topics.GrantMade,
    ),
    jobs=(
        JobSpec("charity.close_unpaid", jobs.close_unpaid, lease_seconds=120, every_seconds=300),
        JobSpec(
            "charity.raise_recurring", jobs.raise_recurring, lease_seconds=600, every_seconds=3600
        ),
    ),
    routers=("gongchuang.charity.api", "gongchuang.charity.pages"),
    templates=Path(__file__).resolve().parent / "templates",
)
