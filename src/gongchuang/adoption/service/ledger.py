"""The village's public income ledger of adoption: income and refunds written by the payments
that moved the money, costs and distributions to the collective typed in by the farm. Entries
are only ever added."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.adoption.models import Farm, LedgerEntry, LedgerKind, Offering
from gongchuang.adoption.schemas import LedgerEntryIn
from gongchuang.adoption.service._common import farm_to_manage
from gongchuang.core import audit, events
from gongchuang.core.db import upsert
from gongchuang.core.errors import InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.permissions import Principal
from gongchuang.topics.adoption import LedgerEntryRecorded


def write_entry(
    session: Session,
    *,
    farm_id: int,
    offering_id: int | None,
    kind: LedgerKind,
    amount_fen: int,
    memo: str,
    order_id: int | None,
    source: str,
    recorded_by: str,
) -> None:
    """Once per source: a payment's income or a refund announced twice is written once."""
    session.execute(
        upsert(session, LedgerEntry)
        .values(
            farm_id=farm_id,
            offering_id=offering_id,
            kind=kind.value,
            amount_fen=amount_fen,
            memo=memo[:200],
            order_id=order_id,
            source=source,
            recorded_by=recorded_by,
        )
        .on_conflict_do_nothing(index_elements=["kind", "source"])
    )


def record_entry(
    session: Session, actor: Principal, farm_id: int, command: LedgerEntryIn
) -> LedgerEntry:
    """A cost or a distribution to the collective, typed in by the farm. The balance may not
    go below zero: the village cannot spend adoption money it has not received."""
    farm = farm_to_manage(session, actor, farm_id)
    if command.offering_id is not None:
        offering = session.get(Offering, command.offering_id)
        if offering is None or offering.farm_id != farm.id:
            raise InvalidInput(
                N_("That season is not this farm's"),
                errors=[{"field": "offering_id", "message": N_("not this farm's")}],
            )
    # Serialise the farm's money-out entries: the balance check and the entry are one step.
    session.execute(select(Farm.id).where(Farm.id == farm.id).with_for_update())
    if balance(session, farm.id) < command.amount_fen:
        raise InvalidInput(
            N_("That is more than the ledger's balance"),
            errors=[{"field": "amount_fen", "message": N_("more than the balance")}],
        )
    entry = LedgerEntry(
        farm_id=farm.id,
        offering_id=command.offering_id,
        kind=command.kind,
        amount_fen=-command.amount_fen,
        memo=command.memo,
        source=f"entry:{uuid.uuid4().hex}",
        recorded_by=actor.audit_label,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        actor,
        "adoption.ledger.entry",
        "adoption_ledger_entry",
        entry.id,
        after={"kind": entry.kind, "amount_fen": entry.amount_fen, "memo": entry.memo},
    )
    events.publish(
        session,
        LedgerEntryRecorded(
            organisation_id=farm.organisation_id,
            farm_id=farm.id,
            kind=entry.kind,
            amount_fen=entry.amount_fen,
        ),
    )
    return entry


def balance(session: Session, farm_id: int) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(
                LedgerEntry.farm_id == farm_id
            )
        )
        or 0
    )


@dataclass(frozen=True)
class Ledger:
    farm: Farm
    income_fen: int
    refunds_fen: int
    costs_fen: int
    distributions_fen: int
    entries: list[LedgerEntry]

    @property
    def balance_fen(self) -> int:
        return self.income_fen - self.refunds_fen - self.costs_fen - self.distributions_fen


def ledger(
    session: Session, farm_id: int, offering_id: int | None = None, limit: int = 500
) -> Ledger:
    """What anyone may read: totals by kind (to the fen) and the latest entries."""
    farm = session.get(Farm, farm_id)
    if farm is None:
        raise NotFound()
    scope = [LedgerEntry.farm_id == farm.id]
    if offering_id is not None:
        scope.append(LedgerEntry.offering_id == offering_id)
    # (The rows' list: dict() would read a Result, which has keys(), as a mapping.)
    rows = session.execute(
        select(LedgerEntry.kind, func.sum(LedgerEntry.amount_fen))
        .where(*scope)
        .group_by(LedgerEntry.kind)
    ).all()
    sums: dict[str, int] = {row[0]: row[1] for row in rows}
    entries = list(
        session.scalars(
            select(LedgerEntry).where(*scope).order_by(LedgerEntry.id.desc()).limit(limit)
        )
    )
    return Ledger(
        farm=farm,
        income_fen=int(sums.get(LedgerKind.income, 0) or 0),
        refunds_fen=-int(sums.get(LedgerKind.refund, 0) or 0),
        costs_fen=-int(sums.get(LedgerKind.cost, 0) or 0),
        distributions_fen=-int(sums.get(LedgerKind.distribution, 0) or 0),
        entries=entries,
    )
