"""The audit ledger: an append-only, hash-chained record of public-interest changes.

Each entry's hash covers its content and the previous entry's hash, so editing or deleting any
row breaks every link after it; `verify_chain` names the first broken entry.

Entries are written in the caller's transaction without their hash, and sealed into the chain
(a position `seq`, the previous hash, its own hash) a moment after they commit, by one sealer
at a time (`seal`, run by each web worker's `Sealer` thread and by `gongchuang audit verify`).
Chaining inside the caller's transaction would make every audited write of the installation
wait for every other one until it commits (the chain's head is one lock); sealing after commit
keeps the chain without that queue. The cost is a window of about a second in which a
committed entry is not yet covered by a hash: `verify_chain` reports how many are waiting.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from gongchuang.core.clock import utcnow
from gongchuang.core.db import Database
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.models import AuditEntry, Person
from gongchuang.core.permissions import Principal

GENESIS_HASH = "0" * 64
# Any fixed 64-bit number: one sealer at a time across PostgreSQL sessions.
_PG_CHAIN_LOCK = 7_302_118_812
log = logging.getLogger(__name__)
_sealing_wakeup = threading.Event()


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
    """Append entries in the caller's transaction; they are chained once it has committed."""
    if not changes:
        return []
    occurred_at = utcnow()
    entries = [
        AuditEntry(
            occurred_at=occurred_at,
            actor_person_id=actor.person_id,
            actor_label=actor.audit_label,
            action=change.action,
            object_type=change.object_type,
            object_id=str(change.object_id),
            before=_jsonable(change.before) if change.before is not None else None,
            after=_jsonable(change.after) if change.after is not None else None,
        )
        for change in changes
    ]
    session.add_all(entries)
    session.flush()
    session.info["gongchuang_audit_pending"] = True
    return entries


def seal(session: Session, limit: int = 5000, *, wait: bool = False) -> int:
    """Chain the committed entries not yet chained, oldest first; answers how many. One sealer
    at a time: on PostgreSQL another one at work makes this answer 0 at once (or wait for it,
    with `wait`); on SQLite the write transaction already admits one writer."""
    if session.get_bind().dialect.name == "postgresql":
        if wait:
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CHAIN_LOCK})
        elif not session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _PG_CHAIN_LOCK}
        ):
            return 0
    head = session.execute(
        select(AuditEntry.seq, AuditEntry.entry_hash)
        .where(AuditEntry.seq.is_not(None))
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    ).first()
    seq: int = head[0] if head and head[0] is not None else 0
    prev_hash: str = head[1] if head and head[1] is not None else GENESIS_HASH
    waiting = session.scalars(
        select(AuditEntry).where(AuditEntry.seq.is_(None)).order_by(AuditEntry.id).limit(limit)
    ).all()
    for entry in waiting:
        seq += 1
        digest = entry_hash(
            prev_hash,
            entry.occurred_at,
            entry.actor_person_id,
            entry.actor_label,
            entry.action,
            entry.object_type,
            entry.object_id,
            entry.before,
            entry.after,
        )
        entry.seq, entry.prev_hash, entry.entry_hash = seq, prev_hash, digest
        prev_hash = digest
    session.flush()
    return len(waiting)


BATCH = 5000


def waiting_to_seal(db: Database) -> bool:
    """Whether any committed entry is not chained yet (a read: `seq` is indexed)."""
    with db.transaction(write=False) as session:
        return (
            session.scalar(select(AuditEntry.id).where(AuditEntry.seq.is_(None)).limit(1))
            is not None
        )


def seal_all(db: Database) -> int:
    """Seal until nothing waits (each batch its own transaction)."""
    total = 0
    while True:
        with db.transaction() as session:
            sealed = seal(session, BATCH)
        total += sealed
        if sealed < BATCH:
            return total


class Sealer:
    """Background thread of a web worker: seals after each commit that wrote entries, and every
    second (entries committed by other processes are sealed by whichever worker gets there)."""

    def __init__(self, db: Database, poll_seconds: float = 1.0) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        _sealing_wakeup.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            _sealing_wakeup.wait(self.poll_seconds)
            _sealing_wakeup.clear()
            try:
                # A write transaction only when something waits: on SQLite every write takes
                # the database's one write lock from the requests.
                if waiting_to_seal(self.db):
                    seal_all(self.db)
            except Exception:
                log.exception("sealing the audit ledger failed; will retry")


@event.listens_for(Session, "after_commit")
def _wake_sealer(session: Session) -> None:
    if session.info.pop("gongchuang_audit_pending", False):
        _sealing_wakeup.set()


@event.listens_for(Session, "after_rollback")
def _forget_entries(session: Session) -> None:
    session.info.pop("gongchuang_audit_pending", None)


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
    "payments": N_("the payment provider"),
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
    waiting: int = 0  # committed, not chained yet (sealed within a second or so)

    @property
    def ok(self) -> bool:
        return self.broken_entry_id is None


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Walk the chain in its order; name the first entry whose link or content is wrong."""
    prev_hash = GENESIS_HASH
    checked = 0
    last_seq = 0
    waiting = session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.seq.is_(None)))
    while True:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.seq > last_seq)
            .order_by(AuditEntry.seq)
            .limit(batch)
        ).all()
        if not rows:
            return ChainReport(checked, waiting=waiting or 0)
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
            last_seq = row.seq or last_seq
        session.expunge_all()
