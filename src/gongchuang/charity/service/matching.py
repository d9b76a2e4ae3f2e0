"""Matching a paid donation from the pots of its campaigns, and taking a match back.

The amount is the pure rules' (`rules.desired_match_fen`, `rules.granted_fen`); this module
holds them against the database, where racing donors meet:

1. the caps' counters (the pot's day, the donor's day, the project, the organisation) are
   created if missing and locked in one statement, in id order;
2. the grant is the desired amount limited by what each counter and the pot have left (a pot
   running short gives what it has: pro-rated, never more);
3. the pot gives it from the slice the donation's id picks, by a conditional UPDATE that locks
   that slice only; a slice that cannot give it all sends the donation to the slow path, which
   locks every slice of the pot in order and takes what it needs from each;
4. the match row (one per donor, project and pot: a unique index) and the counters' new totals
   are written in the same savepoint: a second match for the same donor and project loses
   the race and changes nothing.

Every transaction locks in the same order (the payment, the project's row, the counters, the
pot's slices), so two of them never wait for each other in a cycle. The CHECK constraints on
the slices and the counters are the last line: if this code were wrong, the database would
refuse the transaction rather than let a pot or a cap be exceeded.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.charity.models import (
    CounterScope,
    Donation,
    EntryKind,
    Match,
    MatchCounter,
    MatchStatus,
    Pot,
    PotShard,
    Project,
)
from gongchuang.charity.service import ledger
from gongchuang.charity.service.rules import (
    PotTerms,
    RatioRule,
    Signal,
    desired_match_fen,
    granted_fen,
    match_draw,
    ratio_pct,
)
from gongchuang.core.clock import SHANGHAI
from gongchuang.core.db import upsert
from gongchuang.core.errors import Conflict
from gongchuang.core.i18n import N_


def terms_of(pot: Pot) -> PotTerms:
    return PotTerms(
        rule=RatioRule(pot.rule),
        ratio_min_pct=pot.ratio_min_pct,
        ratio_max_pct=pot.ratio_max_pct,
        min_donation_fen=pot.min_donation_fen,
        max_match_fen=pot.max_match_fen,
    )


def counters_for(
    pot: Pot, donor_id: int, project: Project, at: datetime
) -> list[tuple[str, str, int]]:
    """The capped amounts a match to `project` by `donor_id` counts against: (scope, key, cap)."""
    day = at.astimezone(SHANGHAI).date().isoformat()
    wanted: list[tuple[str, str, int | None]] = [
        (CounterScope.pot_day, day, pot.daily_budget_fen),
        (CounterScope.donor_day, f"{donor_id}:{day}", pot.cap_donor_day_fen),
        (CounterScope.project, str(project.id), pot.cap_project_fen),
        (CounterScope.organisation, str(project.organisation_id), pot.cap_organisation_fen),
    ]
    return [(scope, key, cap) for scope, key, cap in wanted if cap is not None]


def _locked_counters(
    session: Session, pot: Pot, wanted: list[tuple[str, str, int]]
) -> list[MatchCounter]:
    if not wanted:
        return []
    session.execute(
        upsert(session, MatchCounter)
        .values(
            [
                {"pot_id": pot.id, "scope": scope, "key": key, "cap_fen": cap, "used_fen": 0}
                for scope, key, cap in wanted
            ]
        )
        .on_conflict_do_nothing(index_elements=["pot_id", "scope", "key"])
    )
    return list(
        session.scalars(
            select(MatchCounter)
            .where(
                MatchCounter.pot_id == pot.id,
                tuple_(MatchCounter.scope, MatchCounter.key).in_(
                    [(scope, key) for scope, key, _ in wanted]
                ),
            )
            .order_by(MatchCounter.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _take_from_pot(session: Session, pot: Pot, pick: int, amount: int) -> list[list[int]]:
    """Take up to `amount` from the pot: [[shard, fen], ...] (empty when it is drained)."""
    shard = pick % pot.shards
    taken = session.execute(
        update(PotShard)
        .where(
            PotShard.pot_id == pot.id,
            PotShard.shard == shard,
            PotShard.remaining_fen >= amount,
        )
        .values(remaining_fen=PotShard.remaining_fen - amount)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        return [[shard, amount]]
    # This slice is short: the pot is nearly drained. Lock every slice, in order, and take what
    # is needed from each (pro-rated to what the whole pot has left).
    takes: list[list[int]] = []
    need = amount
    for row in session.scalars(
        select(PotShard)
        .where(PotShard.pot_id == pot.id, PotShard.remaining_fen > 0)
        .order_by(PotShard.shard)
        .with_for_update()
        .execution_options(populate_existing=True)
    ):
        if need == 0:
            break
        give = min(need, row.remaining_fen)
        row.remaining_fen -= give
        takes.append([row.shard, give])
        need -= give
    session.flush()
    return takes


def match_donation(
    session: Session,
    donation: Donation,
    project: Project,
    pot: Pot,
    signals: tuple[Signal, ...],
    at: datetime,
) -> Match | None:
    """Match a paid donation from one pot; None when the pot gives nothing (below its
    minimum, drained, a cap reached, or this donor's project already matched by it)."""
    terms = terms_of(pot)
    draw = match_draw(pot.secret, donation.id)
    ratio = ratio_pct(terms, draw)
    desired = desired_match_fen(terms, donation.amount_fen, draw)
    if desired <= 0:
        return None
    already = select(Match.id).where(
        Match.pot_id == pot.id,
        Match.donor_id == donation.donor_id,
        Match.project_id == project.id,
    )
    if session.scalar(already) is not None:
        return None
    wanted = counters_for(pot, donation.donor_id, project, at)
    try:
        with session.begin_nested():
            counters = _locked_counters(session, pot, wanted)
            amount = granted_fen(desired, [c.cap_fen - c.used_fen for c in counters])
            takes = _take_from_pot(session, pot, donation.id, amount) if amount > 0 else []
            amount = sum(fen for _, fen in takes)
            if amount <= 0:
                return None
            for counter in counters:
                counter.used_fen += amount
            match = Match(
                pot_id=pot.id,
                donation_id=donation.id,
                donor_id=donation.donor_id,
                project_id=project.id,
                organisation_id=project.organisation_id,
                amount_fen=amount,
                ratio_pct=ratio,
                counters=[[c.scope, c.key] for c in counters],
                takes=takes,
                signals=[s.value for s in signals],
                status=MatchStatus.frozen if signals else MatchStatus.credited,
                created_at=at,
            )
            session.add(match)
            session.flush()
    except IntegrityError:
        # The same donor's other donation to this project was matched by this pot meanwhile.
        return None
    if match.status == MatchStatus.credited:
        credit(session, match)
    return match


def credit(session: Session, match: Match) -> None:
    """The match's money goes to the project: its counter and the public ledger."""
    session.execute(
        update(Project)
        .where(Project.id == match.project_id)
        .values(matched_fen=Project.matched_fen + match.amount_fen)
        .execution_options(synchronize_session=False)
    )
    ledger.write_movement(
        session,
        kind=EntryKind.match,
        source=f"match:{match.id}",
        debit=ledger.pot_account(match.pot_id),
        credit=ledger.project_account(match.project_id),
        amount_fen=match.amount_fen,
        project_id=match.project_id,
        memo=f"{match.ratio_pct}%",
    )


def give_back(session: Session, match: Match) -> None:
    """Return a match's money to the pot's slices and its caps' counters (a claw-back): the
    caps then allow others the same amount. In the same lock order as matching."""
    keys = [(scope, key) for scope, key in match.counters]
    if keys:
        for counter in session.scalars(
            select(MatchCounter)
            .where(
                MatchCounter.pot_id == match.pot_id,
                tuple_(MatchCounter.scope, MatchCounter.key).in_(keys),
            )
            .order_by(MatchCounter.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ):
            counter.used_fen -= match.amount_fen
    for shard, fen in sorted(match.takes):
        session.execute(
            update(PotShard)
            .where(PotShard.pot_id == match.pot_id, PotShard.shard == shard)
            .values(remaining_fen=PotShard.remaining_fen + fen)
            .execution_options(synchronize_session=False)
        )
    session.flush()


def claw_back(
    session: Session,
    match: Match,
    note: str,
    *,
    signal: Signal | None = None,
    memo: str = "review",
) -> None:
    """Take a match back: a frozen one simply returns to the pot; a credited one is first
    taken from the project by a reversing movement in the ledger, which the project must still
    hold (money spent cannot be clawed back by a ledger entry: it is repaid first).

    `note` (what the reviewer or the audit found) stays on the match, for reviewers only; the
    public ledger gets `memo`, the service's own words: a reviewer's note may name the donor
    of an anonymous gift or their phone, and the ledger is read by anyone."""
    if match.status == MatchStatus.clawed_back:
        raise Conflict(N_("This match has already been clawed back"))
    if match.status == MatchStatus.credited:
        taken = session.execute(
            update(Project)
            .where(
                Project.id == match.project_id,
                Project.matched_fen >= match.amount_fen,
                Project.spent_fen <= Project.raised_fen + Project.matched_fen - match.amount_fen,
            )
            .values(matched_fen=Project.matched_fen - match.amount_fen)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 0:  # type: ignore[attr-defined]
            raise Conflict(
                N_(
                    "The project has already spent this money: it must be repaid before the "
                    "match can be clawed back"
                )
            )
        ledger.write_movement(
            session,
            kind=EntryKind.clawback,
            source=f"match:{match.id}",
            debit=ledger.project_account(match.project_id),
            credit=ledger.pot_account(match.pot_id),
            amount_fen=match.amount_fen,
            project_id=match.project_id,
            memo=memo,
        )
    give_back(session, match)
    match.status = MatchStatus.clawed_back
    if signal is not None and signal.value not in match.signals:
        match.signals = [*match.signals, signal.value]
    match.review_note = note[:500]
    session.flush()


def matches_of_donation(session: Session, donation_id: int) -> list[Match]:
    return list(
        session.scalars(select(Match).where(Match.donation_id == donation_id).order_by(Match.id))
    )
