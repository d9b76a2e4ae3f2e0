"""Limits, topics and locks that several parts of the points service share."""

from __future__ import annotations

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from gongchuang.core.errors import InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.models import (
    Membership,
    OrganisationKind,
    StoredFile,
)
from gongchuang.core.permissions import Principal
from gongchuang.points.models import (
    EntryKind,
    PointRecord,
    Reporter,
    RuleCatalogue,
)
from gongchuang.points.schemas import MAX_BATCH as MAX_BATCH
from gongchuang.points.schemas import MAX_POINTS as MAX_POINTS

VILLAGE_KINDS = {OrganisationKind.village_committee, OrganisationKind.residents_committee}
OFFICIAL_ROLES = {Reporter.cadre, Reporter.group_leader, Reporter.grid_worker}
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
SETTLE_CHUNK = 2000
LEDGER_KINDS_EARNED = (EntryKind.settlement, EntryKind.reversal)


def _check_evidence(session: Session, actor: Principal, file_id: int | None) -> None:
    if file_id is None:
        return
    stored = session.get(StoredFile, file_id)
    if stored is None or not (
        actor.is_platform_admin or stored.uploader_person_id == actor.person_id
    ):
        raise InvalidInput(
            N_("The evidence file is not one you uploaded"),
            errors=[{"field": "evidence_file_id", "message": N_("not a file you uploaded")}],
        )
    if stored.content_type not in IMAGE_TYPES:
        raise InvalidInput(
            N_("Evidence must be a photo (JPEG, PNG or WebP)"),
            errors=[{"field": "evidence_file_id", "message": stored.content_type}],
        )


def _lock_members(session: Session, village_id: int, person_ids: list[int]) -> None:
    """Serialise the records of these villagers: a cap ("once a month") is a count read before
    the insert, so two submissions at the same moment would both find room. The second waits
    here for the first to commit, then counts its record. In ascending order, so batches never
    deadlock. SQLite's writers are already serialised (BEGIN IMMEDIATE)."""
    if person_ids:
        session.execute(
            select(Membership.id)
            .where(
                Membership.organisation_id == village_id,
                Membership.person_id.in_(sorted(set(person_ids))),
            )
            .order_by(Membership.id)
            .with_for_update()
        )


def _lock_records(session: Session, village_id: int, record_ids: list[int]) -> list[PointRecord]:
    """The records, held until commit and read afresh. A request checks a record's status and
    approval level on the copy it loaded first; a second request deciding the same record at the
    same moment would pass the same checks. Taking the row lock makes it wait for the first to
    commit, and reading after the wait shows it what the first did. In id order, so that two
    batches never deadlock; SQLite's writers are already serialised (BEGIN IMMEDIATE)."""
    ids = sorted(set(record_ids))
    session.flush()
    columns = [attr.key for attr in sa_inspect(PointRecord).column_attrs]
    for record_id in ids:
        held = session.identity_map.get(identity_key(PointRecord, record_id))
        if held is not None:
            # Expired columns are filled from the locked rows below (relationships stay).
            session.expire(held, columns)
    return list(
        session.scalars(
            select(PointRecord)
            .where(PointRecord.id.in_(ids), PointRecord.organisation_id == village_id)
            .order_by(PointRecord.id)
            .with_for_update()
        )
    )


def lock_village(session: Session, village_id: int) -> RuleCatalogue:
    """Serialises the village's balance-moving work (settlement, redemptions, rollover,
    corrections). The catalogue returned is read after the wait (`current_period` as the
    previous holder left it), not the copy the session may have loaded before."""
    catalogue = session.scalar(
        select(RuleCatalogue)
        .where(RuleCatalogue.organisation_id == village_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if catalogue is None:
        raise NotFound()
    return catalogue
