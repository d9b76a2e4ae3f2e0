"""The public notice (公示) and objections to it, answered by the committee."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.core import audit, events, notifications
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from gongchuang.core.i18n import N_
from gongchuang.core.models import (
    Membership,
    Organisation,
)
from gongchuang.core.permissions import Principal
from gongchuang.core.text import clean_text
from gongchuang.points.models import (
    Objection,
    ObjectionStatus,
    PointRecord,
    PublicNotice,
    RecordStatus,
)
from gongchuang.points.permissions import PointsPerm
from gongchuang.points.schemas import ObjectionDecisionIn, ReasonIn, parse
from gongchuang.points.service._common import (
    _lock_records,
    lock_village,
)
from gongchuang.points.service.access import (
    can,
    is_member,
)
from gongchuang.points.service.records import (
    get_record,
)
from gongchuang.points.service.settlement import (
    _reverse_settled,
)
from gongchuang.topics.points import ObjectionDecided


def get_notice(session: Session, village: Organisation, notice_id: int) -> PublicNotice:
    notice = session.get(PublicNotice, notice_id)
    if notice is None or notice.organisation_id != village.id:
        raise NotFound()
    return notice


def raise_objection(
    session: Session,
    actor: Principal,
    village: Organisation,
    record: PointRecord,
    command: ReasonIn | str,
) -> Objection:
    """A villager's objection to a record on the public notice, while the notice is up."""
    reason = command.reason if isinstance(command, ReasonIn) else command
    if record.organisation_id != village.id or not is_member(session, actor.person_id, village.id):
        raise NotFound()
    reason = clean_text(reason, "reason", max_length=1000)
    notice = session.get(PublicNotice, record.notice_id) if record.notice_id else None
    if record.status != RecordStatus.in_notice or notice is None or notice.closes_at <= utcnow():
        raise Conflict(N_("The public notice of this record has closed; objections are over"))
    if actor.person_id == record.person_id:
        raise InvalidInput(N_("You cannot object to your own record"))
    if session.scalar(
        select(Objection.id).where(
            Objection.record_id == record.id,
            Objection.objector_person_id == actor.person_id,
            Objection.status == ObjectionStatus.open,
        )
    ):
        raise Conflict(N_("You have already objected to this record"))
    objection = Objection(
        organisation_id=village.id,
        record_id=record.id,
        objector_person_id=actor.person_id,
        reason=reason,
        status=ObjectionStatus.open,
    )
    try:
        # Two sent at once both pass the check above: the unique index on open objections
        # keeps one, and the savepoint keeps the rest of the request's work.
        with session.begin_nested():
            session.add(objection)
            session.flush()
    except IntegrityError:
        raise Conflict(N_("You have already objected to this record")) from None
    audit.record(
        session,
        actor,
        "points.objection.raise",
        "points_objection",
        objection.id,
        after={"record": record.id, "reason": reason},
    )
    for cadre_id in _cadre_ids(session, village):
        notifications.notify(
            session,
            cadre_id,
            kind="points.objection",
            title=N_("A villager objected to a points record"),
            body=reason,
            link=f"/points/villages/{village.id}/objections",
        )
    return objection


def _cadre_ids(session: Session, village: Organisation) -> list[int]:
    rows = session.execute(
        select(Membership.person_id, Membership.roles).where(
            Membership.organisation_id == village.id
        )
    ).all()
    return [pid for pid, roles in rows if {"cadre", "admin"} & set(roles or [])]


def get_objection(session: Session, village: Organisation, objection_id: int) -> Objection:
    objection = session.get(Objection, objection_id)
    if objection is None or objection.organisation_id != village.id:
        raise NotFound()
    return objection


def decide_objection(
    session: Session,
    actor: Principal,
    village: Organisation,
    objection: Objection,
    command: ObjectionDecisionIn | None = None,
    /,
    **fields: Any,
) -> Objection:
    """The committee answers in writing. Upheld: the record's points become `adjusted_points`
    (0, or none given, strikes the record out). Keywords instead of a command are read into
    one, and checked the same way."""
    if command is None:
        command = parse(ObjectionDecisionIn, fields)
    uphold, adjusted_points = command.uphold, command.adjusted_points
    if (
        not can(session, actor, PointsPerm.MANAGE, village)
        or objection.organisation_id != village.id
    ):
        raise NotFound()
    if objection.status != ObjectionStatus.open:
        raise Conflict(N_("This objection has already been decided"))
    answer = clean_text(command.answer, "answer", max_length=2000)
    record = get_record(session, village, objection.record_id)
    if actor.person_id == record.person_id:
        raise PermissionDenied(N_("You cannot decide an objection to your own record"))
    points = (adjusted_points or 0) if uphold else 0
    # An adjustment keeps the record's sign, which no decision changes.
    if points and (points > 0) != (record.points > 0):
        raise InvalidInput(N_("Adjusted points keep the sign of the rule, at most 1000"))
    # Decided once: of two answers sent together (two cadres, a double tap) the second finds
    # the objection no longer open once the first commits, and nothing of it is applied.
    decided = session.execute(
        update(Objection)
        .where(Objection.id == objection.id, Objection.status == ObjectionStatus.open)
        .values(
            status=ObjectionStatus.upheld if uphold else ObjectionStatus.dismissed,
            answer=answer,
            adjusted_points=points if uphold else None,
            decided_by_person_id=actor.person_id,
            decided_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    session.refresh(objection)
    if decided.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(N_("This objection has already been decided"))
    if uphold:
        # Several objections to one record, or a cadre reversing it meanwhile: its status and
        # entries are read under the village's lock, after whatever came first.
        lock_village(session, village.id)
        _lock_records(session, village.id, [record.id])
    before = audit.snapshot(record, ("status", "points"))
    if uphold:
        if record.status == RecordStatus.in_notice:
            if points == 0:
                record.status = RecordStatus.cancelled
            else:
                record.points = points
        elif record.status == RecordStatus.settled:
            _reverse_settled(session, actor, record, new_points=points, note=answer)
    session.flush()
    audit.record(
        session,
        actor,
        "points.objection.uphold" if uphold else "points.objection.dismiss",
        "points_objection",
        objection.id,
        before={"record": before},
        after={"record": audit.snapshot(record, ("status", "points")), "answer": answer},
    )
    events.publish(
        session,
        ObjectionDecided(
            objection_id=objection.id,
            record_id=record.id,
            upheld=uphold,
            organisation_id=village.id,
        ),
    )
    notifications.notify(
        session,
        objection.objector_person_id,
        kind="points.objection",
        title=N_("Your objection was upheld") if uphold else N_("Your objection was dismissed"),
        body=answer,
        link=f"/points/villages/{village.id}/records/{record.id}",
    )
    return objection
