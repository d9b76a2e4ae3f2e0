"""The audit ledger: an append-only, hash-chained record of public-interest changes.

Each entry's hash covers its content and the previous entry's hash, so editing or deleting any
row breaks every link after it; `verify_chain` names the first broken entry.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gongchuang.core.clock import utcnow
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.models import AuditEntry, Person
from gongchuang.core.permissions import Principal

GENESIS_HASH = "0" * 64
# Any fixed 64-bit number: serialises appends across PostgreSQL transactions.
_PG_CHAIN_LOCK = 7_302_118_812


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if hasattr(value, "value") and not isinstance(value, int | float | str | bool):
        return _jsonable(value.value)
    return value


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    """A JSON-able picture of an object's fields, for `before` and `after`."""
    return {name: _jsonable(getattr(obj, name)) for name in fields}


def entry_hash(
    prev_hash: str,
    occurred_at: datetime,
    actor_person_id: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> str:
    body = json.dumps(
        [
            prev_hash,
            occurred_at.isoformat(timespec="microseconds"),
            actor_person_id,
            actor_label,
            action,
            object_type,
            object_id,
            before,
            after,
        ],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class Change:
    """One entry of a batch for `record_many`."""

    action: str
    object_type: str
    object_id: object
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


def record(
    session: Session,
    actor: Principal,
    action: str,
    object_type: str,
    object_id: object,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the chain inside the caller's transaction."""
    return record_many(session, actor, [Change(action, object_type, object_id, before, after)])[0]


def record_many(session: Session, actor: Principal, changes: list[Change]) -> list[AuditEntry]:
    """Append a batch under one lock: a settlement of thousands of records costs one chain
    lookup, not thousands."""
    if not changes:
        return []
    # Flushed before the chain's lock is taken: the row locks this transaction's pending
    # changes need are taken first, so it never waits for a row while holding the lock that
    # every audited write waits for (two transactions would deadlock). The flush also puts
    # entries added earlier in this transaction into the chain.
    session.flush()
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CHAIN_LOCK})
    prev = session.scalar(select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1))
    prev_hash = prev or GENESIS_HASH
    occurred_at = utcnow()
    entries = []
    for change in changes:
        before_j = _jsonable(change.before) if change.before is not None else None
        after_j = _jsonable(change.after) if change.after is not None else None
        object_id = str(change.object_id)
        digest = entry_hash(
            prev_hash,
            occurred_at,
            actor.person_id,
            actor.audit_label,
            change.action,
            change.object_type,
            object_id,
            before_j,
            after_j,
        )
        entries.append(
            AuditEntry(
                occurred_at=occurred_at,
                actor_person_id=actor.person_id,
                actor_label=actor.audit_label,
                action=change.action,
                object_type=change.object_type,
                object_id=object_id,
                before=before_j,
                after=after_j,
                prev_hash=prev_hash,
                entry_hash=digest,
            )
        )
        prev_hash = digest
    session.add_all(entries)
    session.flush()
    return entries


def latest(session: Session, limit: int = 100) -> list[tuple[AuditEntry, str | None]]:
    """The newest entries with each actor's current name (已注销用户 once erased)."""
    rows = session.execute(
        select(AuditEntry, Person.name)
        .outerjoin(Person, Person.id == AuditEntry.actor_person_id)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    ).all()
    return [(entry, name) for entry, name in rows]


# How an entry's actor acted (Principal.audit_label keeps the way in English, in the ledger).
_ACTING_WAYS = {
    "session": N_("signed in on the web"),
    "password": N_("API, with a password"),
    "token": N_("API token"),
    "self": N_("own account"),
    "registration": N_("self-registration"),
    "self-registration": N_("self-registration"),
    "demo": N_("demo data"),
    "system": N_("the platform itself"),
    "anonymous": N_("not signed in"),
}
_PERSON_LABEL = re.compile(r"^person#(\d+) \((.+)\)$")


def actor_in_words(label: str) -> str:
    """An entry's actor label as the auditor reads it: "person#8 (session)" → "#8 · 网页登录"."""
    person = _PERSON_LABEL.match(label)
    way = person.group(2) if person else label
    words = _ACTING_WAYS.get(way.split(":", 1)[0])
    said = gettext(words) if words else way
    return f"#{person.group(1)} · {said}" if person else said


@dataclass
class ChainReport:
    checked: int
    broken_entry_id: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_entry_id is None


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    prev_hash = GENESIS_HASH
    checked = 0
    last_id = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            return ChainReport(checked)
        for row in rows:
            if row.prev_hash != prev_hash:
                return ChainReport(checked, row.id, "previous hash does not match (row removed?)")
            expected = entry_hash(
                row.prev_hash,
                row.occurred_at,
                row.actor_person_id,
                row.actor_label,
                row.action,
                row.object_type,
                row.object_id,
                row.before,
                row.after,
            )
            if expected != row.entry_hash:
                return ChainReport(checked, row.id, "content does not match its hash (row edited)")
            prev_hash = row.entry_hash
            checked += 1
            last_id = row.id
        session.expunge_all()
