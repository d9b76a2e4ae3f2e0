"""The public ledger: every movement of money is a debit and a credit of the same amount
(Open Collective's transaction pairs), written once per source event and never edited. A
correction (a refund, a claw-back) is a movement of its own, the other way."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from gongchuang.charity.models import EntryKind, LedgerEntry
from gongchuang.core.clock import utcnow

DONORS = "donors"


def project_account(project_id: int) -> str:
    return f"project:{project_id}"


def fund_account(fund_id: int) -> str:
    return f"fund:{fund_id}"


def pot_account(pot_id: int) -> str:
    return f"pot:{pot_id}"


def write_movement(
    session: Session,
    *,
    kind: EntryKind,
    source: str,
    debit: str,
    credit: str,
    amount_fen: int,
    project_id: int | None = None,
    fund_id: int | None = None,
    memo: str = "",
    occurred_at: datetime | None = None,
) -> str:
    """Money goes from `debit` to `credit`. `source` names the event (e.g. "donation:12"): the
    same event is refused a second movement of its kind by the database (unique kind, source,
    side)."""
    if amount_fen <= 0:
        raise ValueError("a movement moves a positive amount")
    movement = secrets.token_hex(12)
    when = occurred_at or utcnow()
    for side, account in (("debit", debit), ("credit", credit)):
        session.add(
            LedgerEntry(
                movement=movement,
                kind=kind,
                source=source,
                side=side,
                account=account,
                amount_fen=amount_fen,
                project_id=project_id,
                fund_id=fund_id,
                memo=memo[:200],
                occurred_at=when,
            )
        )
    session.flush()
    return movement


@dataclasses.dataclass(frozen=True)
class AccountBalance:
    credits_fen: int
    debits_fen: int

    @property
    def balance_fen(self) -> int:
        return self.credits_fen - self.debits_fen


def balance(session: Session, account: str) -> AccountBalance:
    rows = dict(
        session.execute(
            select(LedgerEntry.side, func.coalesce(func.sum(LedgerEntry.amount_fen), 0))
            .where(LedgerEntry.account == account)
            .group_by(LedgerEntry.side)
        ).all()
    )
    return AccountBalance(int(rows.get("credit", 0)), int(rows.get("debit", 0)))


def entries(
    session: Session,
    *,
    project_id: int | None = None,
    fund_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[LedgerEntry]:
    """A project's or a fund's movements, newest first, both sides of each (a page shows the
    pairs side by side)."""
    query = select(LedgerEntry).order_by(LedgerEntry.id.desc()).limit(limit * 2)
    if project_id is not None:
        query = query.where(LedgerEntry.project_id == project_id)
    elif fund_id is not None:
        query = query.where(LedgerEntry.fund_id == fund_id)
    if before_id is not None:
        query = query.where(LedgerEntry.id < before_id)
    return list(session.scalars(query))


def unbalanced_movements(session: Session) -> list[str]:
    """Movements that are not one debit and one credit of the same amount (none, ever: an
    auditor's check)."""
    credits = func.sum(case((LedgerEntry.side == "credit", LedgerEntry.amount_fen), else_=0))
    debits = func.sum(case((LedgerEntry.side == "debit", LedgerEntry.amount_fen), else_=0))
    return list(
        session.scalars(
            select(LedgerEntry.movement)
            .group_by(LedgerEntry.movement)
            .having((credits != debits) | (func.count() != 2))
        )
    )
