"""Settlement of closed notices into balances, and corrections of settled records."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from gongchuang.core import audit, events
from gongchuang.core.clock import SHANGHAI, utcnow
from gongchuang.core.errors import Conflict, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.models import (
    Organisation,
)
from gongchuang.core.permissions import SYSTEM, Principal
from gongchuang.core.text import clean_text
from gongchuang.points.models import (
    EntryKind,
    MonthlyParticipant,
    MonthlyParticipation,
    MonthlyStat,
    Objection,
    ObjectionStatus,
    PointRecord,
    PointsAccount,
    PointsEntry,
    PublicNotice,
    RecordStatus,
    RuleCatalogue,
)
from gongchuang.points.permissions import PointsPerm
from gongchuang.points.schemas import ReasonIn
from gongchuang.points.service._common import (
    SETTLE_CHUNK,
    _lock_records,
    lock_village,
)
from gongchuang.points.service.access import (
    can,
)
from gongchuang.points.service.accounts import (
    _accounts_for_keys,
    holder_key,
    post_entry,
)
from gongchuang.topics.points import NoticeSettled


def month_of(moment: datetime) -> date:
    local = moment.astimezone(SHANGHAI)
    return date(local.year, local.month, 1)


@dataclass
class SettlementReport:
    notices: int = 0
    records: int = 0
    points: int = 0


def settle_due(
    session: Session, now: datetime | None = None, limit: int = 50_000
) -> SettlementReport:
    """Count the records of every closed notice into balances. Records with an objection still
    open wait for the committee's answer; the next run takes them."""
    now = now or utcnow()
    report = SettlementReport()
    notice_rows = session.execute(
        select(PublicNotice.id, PublicNotice.organisation_id)
        .where(PublicNotice.closes_at <= now, PublicNotice.settled_at.is_(None))
        .order_by(PublicNotice.organisation_id, PublicNotice.id)
    ).all()
    by_village: dict[int, list[int]] = defaultdict(list)
    for notice_id, village_id in notice_rows:
        by_village[village_id].append(notice_id)
    for village_id, notice_ids in by_village.items():
        if report.records >= limit:
            break
        lock_village(session, village_id)
        settled = _settle_village(session, village_id, notice_ids, now)
        report.records += settled[0]
        report.points += settled[1]
        for notice_id in notice_ids:
            waiting = session.scalar(
                select(func.count(PointRecord.id)).where(
                    PointRecord.notice_id == notice_id,
                    PointRecord.status == RecordStatus.in_notice,
                )
            )
            if not waiting:
                closed = session.execute(
                    update(PublicNotice)
                    .where(PublicNotice.id == notice_id, PublicNotice.settled_at.is_(None))
                    .values(settled_at=now)
                    .execution_options(synchronize_session=False)
                )
                if closed.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # a run that held the lock before this one closed it
                report.notices += 1
                events.publish(
                    session,
                    NoticeSettled(
                        notice_id=notice_id, village_id=village_id, organisation_id=village_id
                    ),
                )
    return report


def _settle_village(
    session: Session, village_id: int, notice_ids: list[int], now: datetime
) -> tuple[int, int]:
    catalogue = session.scalar(
        select(RuleCatalogue).where(RuleCatalogue.organisation_id == village_id)
    )
    if catalogue is None:
        raise LookupError(f"village {village_id} has notices but no rule catalogue")
    open_objection = (
        select(Objection.id)
        .where(Objection.record_id == PointRecord.id, Objection.status == ObjectionStatus.open)
        .exists()
    )
    total_records = 0
    total_points = 0
    while True:
        rows = session.execute(
            select(
                PointRecord.id,
                PointRecord.person_id,
                PointRecord.household_id,
                PointRecord.points,
                PointRecord.category_id,
                PointRecord.submitted_at,
                PointRecord.approved_at,
            )
            .where(
                PointRecord.notice_id.in_(notice_ids),
                PointRecord.status == RecordStatus.in_notice,
                ~open_objection,
            )
            .order_by(PointRecord.id)
            .limit(SETTLE_CHUNK)
        ).all()
        if not rows:
            return total_records, total_points
        keys = {row.id: holder_key(catalogue, row.person_id, row.household_id) for row in rows}
        accounts = _accounts_for_keys(session, village_id, set(keys.values()))
        balances = dict(
            session.execute(
                select(PointsAccount.id, PointsAccount.balance)
                .where(PointsAccount.id.in_(sorted(accounts.values())))
                .order_by(PointsAccount.id)
                .with_for_update()
            ).all()
        )
        entries = []
        changes = []
        stats: dict[tuple[date, int], list[int]] = defaultdict(lambda: [0, 0, 0])
        participants: dict[date, set[int]] = defaultdict(set)
        for row in rows:
            account_id = accounts[keys[row.id]]
            balance = balances[account_id]
            delta = max(row.points, -balance)
            note = f"due {row.points}, balance {balance}" if delta != row.points else ""
            balances[account_id] = balance + delta
            entries.append(
                {
                    "account_id": account_id,
                    "organisation_id": village_id,
                    "delta": delta,
                    "kind": EntryKind.settlement.value,
                    "record_id": row.id,
                    "note": note,
                    "actor_person_id": None,
                    "created_at": now,
                }
            )
            changes.append(
                audit.Change(
                    "points.record.settle",
                    "points_record",
                    row.id,
                    after={"account": account_id, "delta": delta, "balance": balance + delta},
                )
            )
            month = month_of(row.approved_at or now)
            cell = stats[(month, row.category_id)]
            cell[0] += 1
            cell[1] += row.points
            cell[2] += int(((row.approved_at or now) - row.submitted_at).total_seconds())
            participants[month].add(row.person_id)
            total_points += delta
        session.execute(insert(PointsEntry), entries)
        session.execute(
            update(PointsAccount),
            [{"id": account_id, "balance": balance} for account_id, balance in balances.items()],
        )
        session.execute(
            update(PointRecord),
            [
                {"id": row.id, "status": RecordStatus.settled.value, "settled_at": now}
                for row in rows
            ],
        )
        _add_stats(session, village_id, stats, participants)
        audit.record_many(session, SYSTEM, changes)
        total_records += len(rows)
        session.expire_all()


def _add_stats(
    session: Session,
    village_id: int,
    stats: dict[tuple[date, int], list[int]],
    participants: dict[date, set[int]],
    sign: int = 1,
) -> None:
    months = sorted({m for m, _ in stats} | set(participants))
    existing = {
        (s.month, s.category_id): s
        for s in session.scalars(
            select(MonthlyStat).where(
                MonthlyStat.organisation_id == village_id, MonthlyStat.month.in_(months)
            )
        )
    }
    for (month, category_id), (records, points, seconds) in stats.items():
        stat = existing.get((month, category_id))
        if stat is None:
            stat = MonthlyStat(
                organisation_id=village_id,
                month=month,
                category_id=category_id,
                records=0,
                points=0,
                approval_seconds=0,
            )
            session.add(stat)
        stat.records += sign * records
        stat.points += sign * points
        stat.approval_seconds += sign * seconds
    if sign < 0:
        session.flush()
        return
    for month, people in participants.items():
        known = set(
            session.scalars(
                select(MonthlyParticipant.person_id).where(
                    MonthlyParticipant.organisation_id == village_id,
                    MonthlyParticipant.month == month,
                    MonthlyParticipant.person_id.in_(sorted(people)),
                )
            )
        )
        new = sorted(people - known)
        if not new:
            continue
        session.execute(
            insert(MonthlyParticipant),
            [{"organisation_id": village_id, "month": month, "person_id": p} for p in new],
        )
        row = session.scalar(
            select(MonthlyParticipation).where(
                MonthlyParticipation.organisation_id == village_id,
                MonthlyParticipation.month == month,
            )
        )
        if row is None:
            session.add(
                MonthlyParticipation(organisation_id=village_id, month=month, participants=len(new))
            )
        else:
            row.participants += len(new)
    session.flush()


def _reverse_settled(
    session: Session,
    actor: Principal,
    record: PointRecord,
    *,
    new_points: int = 0,
    note: str,
) -> None:
    """Undo what the record's entries moved (a reversing entry each), then, for an
    adjustment, post the corrected amount. The caller holds the village's lock and read the
    record's status under it (`_lock_records`), so the entries read here are all there are."""
    lock_village(session, record.organisation_id)
    moved = session.scalars(
        select(PointsEntry).where(
            PointsEntry.record_id == record.id,
            PointsEntry.kind.in_([EntryKind.settlement, EntryKind.reversal]),
        )
    ).all()
    net = sum(e.delta for e in moved)
    if not moved:
        raise Conflict(N_("This record has no settled entries to reverse"))
    account_id = moved[0].account_id
    post_entry(
        session,
        account_id,
        record.organisation_id,
        -net,
        EntryKind.reversal,
        actor=actor,
        record_id=record.id,
        reverses_entry_id=moved[-1].id,
        note=note[:200],
        clamp=True,
    )
    month = month_of(record.approved_at or record.submitted_at)
    _add_stats(
        session,
        record.organisation_id,
        {(month, record.category_id): [1, record.points, 0]},
        {},
        sign=-1,
    )
    if new_points:
        post_entry(
            session,
            account_id,
            record.organisation_id,
            new_points,
            EntryKind.reversal,
            actor=actor,
            record_id=record.id,
            note=f"adjusted to {new_points}",
            clamp=True,
        )
        _add_stats(
            session, record.organisation_id, {(month, record.category_id): [1, new_points, 0]}, {}
        )
        record.points = new_points
    else:
        record.status = RecordStatus.reversed


def reverse_record(
    session: Session,
    actor: Principal,
    village: Organisation,
    record: PointRecord,
    command: ReasonIn | str,
) -> PointRecord:
    """A settled record found wrong later: reversed by an entry, never edited."""
    reason = command.reason if isinstance(command, ReasonIn) else command
    if not can(session, actor, PointsPerm.MANAGE, village) or record.organisation_id != village.id:
        raise NotFound()
    reason = clean_text(reason, "reason", max_length=1000)
    # Two cadres correcting the same record at once: the second reads it after the first
    # committed, finds it reversed, and takes nothing a second time.
    lock_village(session, village.id)
    _lock_records(session, village.id, [record.id])
    if record.status != RecordStatus.settled:
        raise Conflict(N_("Only a settled record can be reversed"))
    _reverse_settled(session, actor, record, note=reason)
    audit.record(
        session,
        actor,
        "points.record.reverse",
        "points_record",
        record.id,
        before={"status": RecordStatus.settled.value},
        after={"status": record.status, "reason": reason},
    )
    return record
