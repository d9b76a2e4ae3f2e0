"""Points records: reporting one, a batch, or a sheet of them, with the checks each must pass."""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from gongchuang.core import audit, files, spreadsheets
from gongchuang.core.clock import local_today as today_local  # the module's long-standing name
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import InvalidInput, NotFound, PermissionDenied
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.models import (
    Membership,
    Organisation,
    Person,
    StoredFile,
)
from gongchuang.core.permissions import Principal
from gongchuang.core.text import clean_text
from gongchuang.points.models import (
    AccountUnit,
    Household,
    PointRecord,
    PointRule,
    RecordStatus,
    Reporter,
    ResetPeriod,
    RuleCatalogue,
)
from gongchuang.points.permissions import PointsPerm
from gongchuang.points.schemas import BatchIn, RecordIn
from gongchuang.points.service._common import (
    IMAGE_TYPES,
    MAX_BATCH,
    OFFICIAL_ROLES,
    _check_evidence,
    _lock_members,
)
from gongchuang.points.service.access import (
    can,
    is_member,
    roles_in,
)
from gongchuang.points.service.accounts import (
    household_of,
)
from gongchuang.points.service.catalogue import (
    get_catalogue,
)


def period_bounds(period: str, day: date) -> tuple[date, date]:
    """[start, end) of the calendar month, quarter or year that contains `day`."""
    if period == "year":
        return date(day.year, 1, 1), date(day.year + 1, 1, 1)
    if period == "quarter":
        first = 3 * ((day.month - 1) // 3) + 1
        start = date(day.year, first, 1)
    else:
        start = date(day.year, day.month, 1)
    months = 3 if period == "quarter" else 1
    month = start.month - 1 + months
    return start, date(start.year + month // 12, month % 12 + 1, 1)


def period_key(period: str, day: date) -> str:
    if period == ResetPeriod.year:
        return f"{day.year}"
    if period == ResetPeriod.quarter:
        return f"{day.year}Q{(day.month - 1) // 3 + 1}"
    if period == ResetPeriod.month:
        return f"{day:%Y-%m}"
    return ""


def _counted_against_cap(
    session: Session, rule: PointRule, person_id: int, day: date, exclude: int | None = None
) -> int:
    start, end = period_bounds(rule.cap_period, day)
    query = select(func.count(PointRecord.id)).where(
        PointRecord.organisation_id
        == select(RuleCatalogue.organisation_id)
        .where(RuleCatalogue.id == rule.catalogue_id)
        .scalar_subquery(),
        PointRecord.rule_code == rule.code,
        PointRecord.person_id == person_id,
        PointRecord.occurred_on >= start,
        PointRecord.occurred_on < end,
        PointRecord.status.notin_(
            [RecordStatus.rejected, RecordStatus.cancelled, RecordStatus.reversed]
        ),
    )
    if exclude is not None:
        query = query.where(PointRecord.id != exclude)
    return session.scalar(query) or 0


@dataclass
class RecordRequest:
    rule_code: str
    person_id: int
    occurred_on: date
    note: str = ""
    evidence_file_id: int | None = None
    on_behalf: bool = False


def _reporter_ok(rule: PointRule, actor_roles: set[str], is_subject: bool, on_behalf: bool) -> bool:
    if is_subject:
        return Reporter.self in rule.reporters and not on_behalf
    official = actor_roles & OFFICIAL_ROLES
    if official & set(rule.reporters):
        return True
    # A cadre fills in a self-report for an elderly villager who has no smartphone.
    return on_behalf and Reporter.self in rule.reporters and bool(official)


def _validate_request(
    session: Session,
    actor: Principal,
    village: Organisation,
    catalogue: RuleCatalogue,
    request: RecordRequest,
    *,
    pending_in_batch: int = 0,
) -> tuple[PointRule, Household | None]:
    rule = session.scalar(
        select(PointRule).where(
            PointRule.catalogue_id == catalogue.id,
            PointRule.code == request.rule_code,
            PointRule.is_current.is_(True),
            PointRule.active.is_(True),
        )
    )
    if rule is None:
        raise InvalidInput(
            N_("Unknown rule %(code)s"),
            code=request.rule_code or "—",
            errors=[{"field": "rule_code", "message": N_("Please choose an item from the list.")}],
        )
    if not is_member(session, request.person_id, village.id):
        raise InvalidInput(N_("The person is not a member of this village"))
    actor_roles = roles_in(session, actor.person_id, village.id)
    is_subject = actor.person_id == request.person_id
    if not actor_roles or not _reporter_ok(rule, actor_roles, is_subject, request.on_behalf):
        raise PermissionDenied(N_("You may not record points for “%(title)s”"), title=rule.title)
    today = today_local()
    if request.occurred_on > today:
        raise InvalidInput(
            N_("The date is in the future"),
            errors=[
                {"field": "occurred_on", "message": N_("Please choose today or a day before.")}
            ],
        )
    if request.occurred_on < today - timedelta(days=366):
        raise InvalidInput(
            N_("The date is more than a year ago"),
            errors=[{"field": "occurred_on", "message": N_("Please choose a day within a year.")}],
        )
    if rule.evidence_required and request.evidence_file_id is None:
        raise InvalidInput(
            N_("“%(title)s” needs a photo as evidence"),
            title=rule.title,
            errors=[
                {"field": "evidence_file_id", "message": N_("Please add a photo: it is needed.")}
            ],
        )
    _check_evidence(session, actor, request.evidence_file_id)
    if rule.cap_count is not None:
        used = _counted_against_cap(session, rule, request.person_id, request.occurred_on)
        if used + pending_in_batch >= rule.cap_count:
            raise InvalidInput(
                CAP_MESSAGES[rule.cap_period],
                title=rule.title,
                cap=rule.cap_count,
                errors=[{"field": "rule_code", "message": CAP_MESSAGES[rule.cap_period]}],
            )
    household = household_of(session, village.id, request.person_id)
    if catalogue.account_unit == AccountUnit.household and household is None:
        raise InvalidInput(
            N_("This person is not in any household yet; a cadre must add them to one first")
        )
    return rule, household


CAP_MESSAGES = {
    "month": N_("“%(title)s” counts at most %(cap)s times per person a month; this is one more"),
    "quarter": N_(
        "“%(title)s” counts at most %(cap)s times per person a quarter; this is one more"
    ),
    "year": N_("“%(title)s” counts at most %(cap)s times per person a year; this is one more"),
}


def _new_record(
    village: Organisation,
    actor: Principal,
    rule: PointRule,
    household: Household | None,
    request: RecordRequest,
    batch_id: str | None,
) -> PointRecord:
    return PointRecord(
        organisation_id=village.id,
        rule_id=rule.id,
        rule_code=rule.code,
        category_id=rule.category_id,
        person_id=request.person_id,
        household_id=household.id if household else None,
        points=rule.points,
        original_points=rule.points,
        occurred_on=request.occurred_on,
        note=request.note,
        evidence_file_id=request.evidence_file_id,
        reported_by_person_id=actor.person_id,
        on_behalf=request.on_behalf,
        batch_id=batch_id,
        status=RecordStatus.pending,
        approval_step=0,
        submitted_at=utcnow(),
    )


RECORD_AUDIT_FIELDS = (
    "rule_id",
    "rule_code",
    "person_id",
    "household_id",
    "points",
    "occurred_on",
    "status",
    "approval_step",
    "on_behalf",
    "batch_id",
)


def submit_record(
    session: Session, actor: Principal, village: Organisation, command: RecordIn | RecordRequest
) -> PointRecord:
    """A record reported by a villager for themselves, or by an official for a villager (the
    command's `person_id`; the reporter's own record without it)."""
    if actor.person_id is None or not is_member(session, actor.person_id, village.id):
        raise NotFound()
    request = (
        RecordRequest(
            rule_code=command.rule_code,
            person_id=command.person_id or actor.person_id,
            occurred_on=command.occurred_on,
            note=command.note,
            evidence_file_id=command.evidence_file_id,
            on_behalf=command.on_behalf,
        )
        if isinstance(command, RecordIn)
        else command
    )
    catalogue = get_catalogue(session, village)
    request.note = clean_text(request.note, "note", max_length=1000, required=False)
    _lock_members(session, village.id, [request.person_id])
    rule, household = _validate_request(session, actor, village, catalogue, request)
    record = _new_record(village, actor, rule, household, request, None)
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor,
        "points.record.on_behalf" if request.on_behalf else "points.record.submit",
        "points_record",
        record.id,
        after=audit.snapshot(record, RECORD_AUDIT_FIELDS),
    )
    return record


def _validate_batch(
    session: Session, actor: Principal, village: Organisation, requests: list[RecordRequest]
) -> tuple[list[tuple[RecordRequest, PointRule, Household | None]], list[dict[str, Any]]]:
    """Every request checked, caps counted across the batch; errors name each line."""
    catalogue = get_catalogue(session, village)
    _lock_members(session, village.id, [r.person_id for r in requests])
    errors: list[dict[str, Any]] = []
    valid: list[tuple[RecordRequest, PointRule, Household | None]] = []
    seen: dict[tuple[str, int], int] = defaultdict(int)
    for line, request in enumerate(requests, start=1):
        try:
            request.note = clean_text(request.note, "note", max_length=1000, required=False)
            rule, household = _validate_request(
                session,
                actor,
                village,
                catalogue,
                request,
                pending_in_batch=seen[(request.rule_code, request.person_id)],
            )
        except (InvalidInput, PermissionDenied) as exc:
            errors.append({"line": line, "message": exc.detail()})
            continue
        seen[(request.rule_code, request.person_id)] += 1
        valid.append((request, rule, household))
    return valid, errors


def record_batch(
    session: Session,
    actor: Principal,
    village: Organisation,
    command: BatchIn | list[RecordRequest],
) -> list[PointRecord]:
    """Many records in one go (a meeting's attendance, an Excel sheet): all or nothing.
    Errors name the line (`line` of each request's position, or the sheet's line). The
    command is one rule for many people, each once."""
    if not can(session, actor, PointsPerm.RECORD, village):
        raise NotFound()
    requests = (
        [
            RecordRequest(command.rule_code, person_id, command.occurred_on, command.note)
            for person_id in command.person_ids
        ]
        if isinstance(command, BatchIn)
        else command
    )
    if not requests:
        raise InvalidInput(N_("Choose at least one person"))
    if len(requests) > MAX_BATCH:
        raise InvalidInput(N_("At most %(n)s records at once"), n=MAX_BATCH)
    valid, errors = _validate_batch(session, actor, village, requests)
    if errors:
        raise InvalidInput(
            N_("%(count)s rows have errors; nothing was stored"), count=len(errors), errors=errors
        )
    batch_id = secrets.token_hex(8)
    records = [
        _new_record(village, actor, rule, household, request, batch_id)
        for request, rule, household in valid
    ]
    session.add_all(records)
    session.flush()
    audit.record_many(
        session,
        actor,
        [
            audit.Change(
                "points.record.batch",
                "points_record",
                r.id,
                after=audit.snapshot(r, RECORD_AUDIT_FIELDS),
            )
            for r in records
        ],
    )
    return records


RECORD_COLUMNS = {
    "phone": ("phone", "手机号", "手机号码", "电话"),
    "rule_code": ("rule", "rule code", "规则编号", "规则代码", "编号"),
    "date": ("date", "日期", "发生日期"),
    "note": ("note", "备注", "说明"),
}


def _parse_day(value: str) -> date | None:
    value = value.strip().split(" ")[0].replace("/", "-").replace(".", "-")
    try:
        return date.fromisoformat(value)
    except ValueError:
        parts = value.split("-")
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            try:
                return date(int(parts[0]), int(parts[1]), int(parts[2]))
            except ValueError:
                return None
        return None


def import_records(
    session: Session, actor: Principal, village: Organisation, data: bytes, filename: str
) -> list[PointRecord]:
    """Records from an Excel or CSV sheet: phone, rule code, date, note."""
    if not can(session, actor, PointsPerm.RECORD, village):
        raise NotFound()
    rows = spreadsheets.read_rows(
        data, filename, RECORD_COLUMNS, required={"phone", "rule_code", "date"}
    )
    errors: list[dict[str, Any]] = []
    requests: list[RecordRequest] = []
    lines: list[int] = []
    phone_ids = dict(
        session.execute(
            select(Person.phone, Person.id)
            .join(Membership, Membership.person_id == Person.id)
            .where(
                Membership.organisation_id == village.id,
                Person.phone.in_([r.values["phone"] for r in rows]),
            )
        ).all()
    )
    for row in rows:
        person_id = phone_ids.get(row.values["phone"])
        day = _parse_day(row.values.get("date", ""))
        if person_id is None:
            errors.append(
                {
                    "line": row.line,
                    "message": gettext(
                        "%(phone)s is not a member of this village", phone=row.values["phone"]
                    ),
                }
            )
            continue
        if day is None:
            errors.append(
                {"line": row.line, "message": gettext("The date must look like 2026-11-24")}
            )
            continue
        requests.append(
            RecordRequest(
                rule_code=row.values["rule_code"].upper(),
                person_id=person_id,
                occurred_on=day,
                note=row.values.get("note", ""),
            )
        )
        lines.append(row.line)
    _valid, request_errors = _validate_batch(session, actor, village, requests)
    for error in request_errors:
        error["line"] = lines[error["line"] - 1]
    all_errors = sorted(errors + request_errors, key=lambda e: e["line"])
    spreadsheets.name_rows(all_errors, rows, "phone")
    if all_errors:
        raise InvalidInput(
            N_("%(count)s rows have errors; nothing was stored"),
            count=len(all_errors),
            errors=all_errors,
        )
    return record_batch(session, actor, village, requests)


def get_record(session: Session, village: Organisation, record_id: int) -> PointRecord:
    record = session.scalar(
        select(PointRecord)
        .options(joinedload(PointRecord.rule), joinedload(PointRecord.person))
        .where(PointRecord.id == record_id)
    )
    if record is None or record.organisation_id != village.id:
        raise NotFound()
    return record


def get_record_for(
    session: Session, principal: Principal, village: Organisation, record_id: int
) -> PointRecord:
    """Cadres and group leaders see every record; a villager their own, and those on the
    public board."""
    record = get_record(session, village, record_id)
    if (
        can(session, principal, PointsPerm.VIEW, village)
        or principal.person_id in (record.person_id, record.reported_by_person_id)
        or (
            record.status in (RecordStatus.in_notice, RecordStatus.settled)
            and is_member(session, principal.person_id, village.id)
        )
    ):
        return record
    raise NotFound()


def save_evidence(session: Session, actor: Principal, filename: str, data: bytes) -> StoredFile:
    return files.save_upload(session, actor, filename=filename, data=data, accepted=IMAGE_TYPES)
