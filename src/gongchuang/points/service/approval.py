"""Approval of records, level by level, onto the day's public notice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.core import audit, events, notifications
from gongchuang.core.clock import SHANGHAI, local_midnight, utcnow
from gongchuang.core.db import upsert
from gongchuang.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.models import (
    Organisation,
)
from gongchuang.core.permissions import Principal
from gongchuang.core.text import clean_text
from gongchuang.points.models import (
    Approval,
    Decision,
    PointRecord,
    PublicNotice,
    RecordStatus,
    Reporter,
    RuleCatalogue,
)
from gongchuang.points.schemas import DecisionIn, ResubmitIn, parse
from gongchuang.points.service._common import (
    MAX_BATCH,
    _check_evidence,
    _lock_records,
)
from gongchuang.points.service.access import (
    roles_in,
)
from gongchuang.points.service.catalogue import (
    get_catalogue,
)
from gongchuang.topics.points import RecordApproved


def approval_role(catalogue: RuleCatalogue, step: int) -> str:
    roles = catalogue.approval_roles or [Reporter.cadre]
    return roles[min(step, len(roles) - 1)]


def decide(
    session: Session,
    actor: Principal,
    village: Organisation,
    record: PointRecord,
    command: DecisionIn | str,
    reason: str = "",
) -> PointRecord:
    """One approver's decision on a record at their level (the command; or a decision and its
    reason, as they were passed before there was one)."""
    decision: str = command if isinstance(command, str) else command.decision
    if isinstance(command, DecisionIn):
        reason = command.reason
    if record.organisation_id != village.id:
        raise NotFound()
    catalogue = get_catalogue(session, village)
    if not _lock_records(session, village.id, [record.id]):
        raise NotFound()
    if record.status != RecordStatus.pending:
        raise Conflict(N_("This record is not waiting for approval"))
    role = approval_role(catalogue, record.approval_step)
    if role not in roles_in(session, actor.person_id, village.id):
        raise PermissionDenied(N_("This approval level is for another role"))
    if actor.person_id in (record.person_id, record.reported_by_person_id):
        raise PermissionDenied(N_("You cannot approve a record of your own"))
    if session.scalar(
        select(Approval.id).where(
            Approval.record_id == record.id,
            Approval.decided_by_person_id == actor.person_id,
            Approval.decision == Decision.approve,
        )
    ):
        raise PermissionDenied(N_("You already approved this record at an earlier level"))
    if decision not in {d.value for d in Decision}:
        raise InvalidInput(N_("Approve, reject, or return for more evidence"))
    reason = clean_text(reason, "reason", max_length=1000, required=decision != Decision.approve)
    before = audit.snapshot(record, ("status", "approval_step", "notice_id"))
    session.add(
        Approval(
            record_id=record.id,
            step=record.approval_step,
            role=role,
            decided_by_person_id=actor.person_id,
            decision=decision,
            reason=reason,
        )
    )
    if decision == Decision.reject:
        record.status = RecordStatus.rejected
    elif decision == Decision.return_:
        record.status = RecordStatus.returned
    elif record.approval_step + 1 < len(catalogue.approval_roles or ["cadre"]):
        record.approval_step += 1
    else:
        _publish(session, catalogue, village, record)
    session.flush()
    audit.record(
        session,
        actor,
        f"points.record.{decision}",
        "points_record",
        record.id,
        before=before,
        after={
            **audit.snapshot(record, ("status", "approval_step", "notice_id")),
            "reason": reason,
        },
    )
    if decision != Decision.approve:
        title = (
            N_("Your points record was rejected")
            if decision == Decision.reject
            else N_("Your points record needs more evidence")
        )
        notifications.notify(
            session,
            record.reported_by_person_id,
            kind="points.record",
            title=title,
            body=reason,
            link=f"/points/villages/{village.id}/records/{record.id}",
        )
    return record


def _todays_notice(
    session: Session, catalogue: RuleCatalogue, village: Organisation
) -> PublicNotice:
    """The public notice of the day, which stays up for `notice_days`. The day's first
    approvals may come at the same moment from two approvers: the notice is opened by an insert
    that does nothing when another has just opened it, and both records go onto that one."""
    now = utcnow()
    day = now.astimezone(SHANGHAI).date()
    number = f"{day:%Y%m%d}"
    query = select(PublicNotice).where(
        PublicNotice.organisation_id == village.id, PublicNotice.number == number
    )
    notice = session.scalar(query)
    if notice is None:
        session.execute(
            upsert(session, PublicNotice)
            .values(
                organisation_id=village.id,
                number=number,
                opens_at=now,
                closes_at=local_midnight(day + timedelta(days=catalogue.notice_days + 1)),
            )
            .on_conflict_do_nothing(index_elements=["organisation_id", "number"])
        )
        notice = session.scalar(query)
        if notice is None:
            raise RuntimeError(f"public notice {number} of village {village.id} was not opened")
    return notice


def _publish(
    session: Session,
    catalogue: RuleCatalogue,
    village: Organisation,
    record: PointRecord,
    notice: PublicNotice | None = None,
) -> PublicNotice:
    """Approved at the last level: onto today's public notice."""
    notice = notice or _todays_notice(session, catalogue, village)
    record.status = RecordStatus.in_notice
    record.approved_at = utcnow()
    record.notice_id = notice.id
    events.publish(
        session,
        RecordApproved(
            record_id=record.id,
            village_id=village.id,
            notice_id=notice.id,
            organisation_id=village.id,
        ),
    )
    return notice


def resubmit(
    session: Session,
    actor: Principal,
    village: Organisation,
    record: PointRecord,
    command: ResubmitIn | None = None,
    /,
    **fields: Any,
) -> PointRecord:
    """A returned record goes back to the first approval level with more evidence. Keywords
    instead of a command are read into one, and checked the same way."""
    if command is None:
        command = parse(ResubmitIn, fields)
    note, evidence_file_id = command.note, command.evidence_file_id
    if record.organisation_id != village.id or actor.person_id != record.reported_by_person_id:
        raise NotFound()
    _lock_records(session, village.id, [record.id])
    if record.status != RecordStatus.returned:
        raise Conflict(N_("Only a record returned for more evidence can be resubmitted"))
    _check_evidence(session, actor, evidence_file_id)
    before = audit.snapshot(record, ("status", "note", "evidence_file_id"))
    record.note = clean_text(note, "note", max_length=1000, required=False) or record.note
    if evidence_file_id is not None:
        record.evidence_file_id = evidence_file_id
    record.status = RecordStatus.pending
    record.approval_step = 0
    record.submitted_at = utcnow()
    audit.record(
        session,
        actor,
        "points.record.resubmit",
        "points_record",
        record.id,
        before=before,
        after=audit.snapshot(record, ("status", "note", "evidence_file_id")),
    )
    return record


def approve_many(
    session: Session, actor: Principal, village: Organisation, record_ids: list[int]
) -> int:
    """Approve a selection at the actor's level (a meeting's 60 attendance records at once):
    the same checks as one decision each, all or nothing, one audit append for the batch."""
    ids = list(dict.fromkeys(record_ids))
    if not ids:
        raise InvalidInput(N_("Choose at least one record"))
    if len(ids) > MAX_BATCH:
        raise InvalidInput(N_("At most %(n)s records at once"), n=MAX_BATCH)
    catalogue = get_catalogue(session, village)
    levels = catalogue.approval_roles or [Reporter.cadre]
    held = roles_in(session, actor.person_id, village.id)
    records = _lock_records(session, village.id, ids)
    if len(records) != len(ids):
        raise NotFound()
    approved_before = set(
        session.scalars(
            select(Approval.record_id).where(
                Approval.record_id.in_(ids),
                Approval.decided_by_person_id == actor.person_id,
                Approval.decision == Decision.approve,
            )
        )
    )
    errors = []
    for record in records:
        if record.status != RecordStatus.pending:
            problem = gettext("This record is not waiting for approval")
        elif approval_role(catalogue, record.approval_step) not in held:
            problem = gettext("This approval level is for another role")
        elif actor.person_id in (record.person_id, record.reported_by_person_id):
            problem = gettext("You cannot approve a record of your own")
        elif record.id in approved_before:
            problem = gettext("You already approved this record at an earlier level")
        else:
            continue
        errors.append({"field": f"record {record.id}", "message": problem})
    if errors:
        raise PermissionDenied(
            N_("%(count)s records cannot be approved by you; nothing was approved"),
            count=len(errors),
            errors=errors,
        )
    notice: PublicNotice | None = None
    changes = []
    for record in records:
        before = {"status": record.status, "approval_step": record.approval_step}
        session.add(
            Approval(
                record_id=record.id,
                step=record.approval_step,
                role=approval_role(catalogue, record.approval_step),
                decided_by_person_id=actor.person_id,
                decision=Decision.approve,
            )
        )
        if record.approval_step + 1 < len(levels):
            record.approval_step += 1
        else:
            notice = _publish(session, catalogue, village, record, notice)
        changes.append(
            audit.Change(
                "points.record.approve",
                "points_record",
                record.id,
                before=before,
                after=audit.snapshot(record, ("status", "approval_step", "notice_id")),
            )
        )
    session.flush()
    audit.record_many(session, actor, changes)
    return len(records)
