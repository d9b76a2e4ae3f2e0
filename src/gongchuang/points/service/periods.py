"""Scoring periods: balance resets and base points at the start of each."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.core import audit
from gongchuang.core.clock import local_today as today_local  # the module's long-standing name
from gongchuang.core.models import (
    Membership,
)
from gongchuang.core.permissions import SYSTEM
from gongchuang.points.models import (
    AccountUnit,
    EntryKind,
    Household,
    PointsAccount,
    ResetPeriod,
    RuleCatalogue,
)
from gongchuang.points.service._common import (
    lock_village,
)
from gongchuang.points.service.accounts import (
    _accounts_for_keys,
    post_entry,
)
from gongchuang.points.service.records import (
    period_key,
)


def roll_periods(session: Session, day: date | None = None) -> int:
    """At the start of each scoring period: reset balances (if the village resets) and grant
    base points. Runs once per village and period (`current_period` remembers)."""
    day = day or today_local()
    done = 0
    for catalogue in session.scalars(select(RuleCatalogue).order_by(RuleCatalogue.id)).all():
        period = catalogue.reset_period if catalogue.reset_period != ResetPeriod.none else "year"
        key = period_key(period, day)
        if catalogue.current_period == key:
            continue
        lock_village(session, catalogue.organisation_id)
        if catalogue.current_period == key:
            continue  # another run (a second worker) rolled it while this one waited
        first_run = catalogue.current_period == ""
        keys = _period_holders(session, catalogue)
        accounts = _accounts_for_keys(session, catalogue.organisation_id, keys)
        for account_id in sorted(accounts.values()):
            if catalogue.reset_period != ResetPeriod.none and not first_run:
                balance = session.scalar(
                    select(PointsAccount.balance).where(PointsAccount.id == account_id)
                )
                if balance:
                    post_entry(
                        session,
                        account_id,
                        catalogue.organisation_id,
                        -balance,
                        EntryKind.reset,
                        actor=SYSTEM,
                        note=f"period {key}",
                    )
            if catalogue.base_points:
                post_entry(
                    session,
                    account_id,
                    catalogue.organisation_id,
                    catalogue.base_points,
                    EntryKind.base,
                    actor=SYSTEM,
                    note=f"period {key}",
                )
        audit.record(
            session,
            SYSTEM,
            "points.period.roll",
            "points_catalogue",
            catalogue.id,
            before={"period": catalogue.current_period},
            after={"period": key, "accounts": len(accounts), "base": catalogue.base_points},
        )
        catalogue.current_period = key
        done += 1
    return done


def _period_holders(session: Session, catalogue: RuleCatalogue) -> set[str]:
    if catalogue.account_unit == AccountUnit.household:
        ids = session.scalars(
            select(Household.id).where(Household.organisation_id == catalogue.organisation_id)
        )
        return {f"h:{i}" for i in ids}
    ids = session.scalars(
        select(Membership.person_id).where(Membership.organisation_id == catalogue.organisation_id)
    )
    return {f"p:{i}" for i in ids}
