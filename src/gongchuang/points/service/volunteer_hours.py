"""Verified volunteer service turned into points records."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.core import audit
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.models import (
    Membership,
    Organisation,
)
from gongchuang.core.permissions import SYSTEM, Principal
from gongchuang.points.models import (
    AccountUnit,
    PointRecord,
    PointRule,
    RuleCatalogue,
)
from gongchuang.points.service.accounts import (
    household_of,
)
from gongchuang.points.service.catalogue import (
    get_catalogue,
)
from gongchuang.points.service.records import (
    RECORD_AUDIT_FIELDS,
    RecordRequest,
    _counted_against_cap,
    _new_record,
)
from gongchuang.topics.volunteer import HoursVerified


def record_volunteer_hours(session: Session, event: HoursVerified) -> list[PointRecord]:
    """Verified volunteer service becomes a pending points record in each village that has
    chosen a rule for it (rule points × whole hours), approved like any other record. The
    verifying organiser is its reporter; caps and household files apply as usual (a record
    that would break them is skipped, not forced)."""
    person_id = event.person_id
    hours = event.minutes // 60
    if hours < 1:
        return []
    served_on = event.served_on
    reporter = event.verified_by or person_id
    made = []
    villages = session.scalars(
        select(Organisation)
        .join(Membership, Membership.organisation_id == Organisation.id)
        .join(RuleCatalogue, RuleCatalogue.organisation_id == Organisation.id)
        .where(Membership.person_id == person_id, RuleCatalogue.volunteer_rule_code != "")
    ).all()
    if not villages:
        return []
    # Two shifts verified at once are two messages that workers handle side by side: each
    # counts the caps under the villager's lock, as a submitted record does (`_lock_members`).
    # The villager's villages all at once, before the first audit entry: that entry holds the
    # audit chain's lock until commit, and a membership lock waited for after it could
    # deadlock with a record being submitted in the next village.
    session.execute(
        select(Membership.id)
        .where(
            Membership.person_id == person_id,
            Membership.organisation_id.in_(sorted(v.id for v in villages)),
        )
        .order_by(Membership.id)
        .with_for_update()
    )
    for village in villages:
        catalogue = get_catalogue(session, village)
        rule = session.scalar(
            select(PointRule).where(
                PointRule.catalogue_id == catalogue.id,
                PointRule.code == catalogue.volunteer_rule_code,
                PointRule.is_current.is_(True),
                PointRule.active.is_(True),
            )
        )
        household = household_of(session, village.id, person_id)
        if rule is None or (catalogue.account_unit == AccountUnit.household and not household):
            continue
        if rule.cap_count is not None and (
            _counted_against_cap(session, rule, person_id, served_on) >= rule.cap_count
        ):
            continue
        record = _new_record(
            village,
            Principal(person_id=reporter, name="volunteer"),
            rule,
            household,
            RecordRequest(
                rule.code,
                person_id,
                served_on,
                # Said in the platform's language: the dispatcher serves no reader.
                gettext(
                    N_("Volunteer service, %(hours)s hours (service record %(signup)s)"),
                    hours=hours,
                    signup=event.signup_id,
                ),
            ),
            None,
        )
        record.points = record.original_points = rule.points * hours
        session.add(record)
        session.flush()
        audit.record(
            session,
            SYSTEM,
            "points.record.volunteer_hours",
            "points_record",
            record.id,
            after=audit.snapshot(record, RECORD_AUDIT_FIELDS),
        )
        made.append(record)
    return made
