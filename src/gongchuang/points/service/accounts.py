"""Households and points accounts: who holds an account, and the one way a balance moves."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.core import audit
from gongchuang.core.clock import utcnow
from gongchuang.core.db import upsert
from gongchuang.core.errors import Conflict, InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.models import (
    Membership,
    Organisation,
    Person,
)
from gongchuang.core.permissions import Principal
from gongchuang.core.text import clean_text
from gongchuang.points.models import (
    AccountUnit,
    EntryKind,
    Household,
    HouseholdMember,
    PointsAccount,
    PointsEntry,
    RuleCatalogue,
)
from gongchuang.points.permissions import PointsPerm
from gongchuang.points.schemas import HouseholdIn, HouseholdMemberIn, parse
from gongchuang.points.service.access import (
    can,
)
from gongchuang.points.service.catalogue import (
    get_catalogue,
)


def household_of(session: Session, village_id: int, person_id: int) -> Household | None:
    return session.scalar(
        select(Household)
        .join(HouseholdMember, HouseholdMember.household_id == Household.id)
        .where(
            HouseholdMember.organisation_id == village_id, HouseholdMember.person_id == person_id
        )
    )


def get_household(session: Session, village: Organisation, household_id: int) -> Household:
    household = session.get(Household, household_id)
    if household is None or household.organisation_id != village.id:
        raise NotFound()
    return household


def _village_person_by_phone(session: Session, village: Organisation, phone: str) -> Person:
    person = session.scalar(
        select(Person)
        .join(Membership, Membership.person_id == Person.id)
        .where(Membership.organisation_id == village.id, Person.phone == phone.strip())
    )
    if person is None:
        raise InvalidInput(
            N_("%(phone)s is not a member of this village"), phone=phone.strip() or "—"
        )
    return person


@contextmanager
def _one_household_each(
    session: Session, village: Organisation, people: list[Person]
) -> Iterator[None]:
    """Writes new household members in a savepoint. Two cadres filing the same villager at
    once both pass the check before it; the unique member of a village keeps the first, and the
    second is told who, not a bare conflict."""
    try:
        with session.begin_nested():
            yield
    except IntegrityError:
        taken = next(
            (p for p in people if household_of(session, village.id, p.id) is not None), None
        )
        if taken is None:
            raise
        raise Conflict(N_("%(name)s already belongs to a household"), name=taken.name) from None


def create_household(
    session: Session,
    actor: Principal,
    village: Organisation,
    command: HouseholdIn | None = None,
    /,
    **fields: Any,
) -> Household:
    """The first phone is the head of the household. Keywords instead of a command are read
    into one, and checked the same way."""
    if not can(session, actor, PointsPerm.MANAGE, village):
        raise NotFound()
    if command is None:
        command = parse(HouseholdIn, fields)
    name = clean_text(command.name, "name", max_length=100)
    phones = list(dict.fromkeys(p.strip() for p in command.member_phones if p.strip()))
    if not phones:
        raise InvalidInput(N_("A household needs at least one member"))
    members = [_village_person_by_phone(session, village, p) for p in phones]
    for person in members:
        if household_of(session, village.id, person.id) is not None:
            raise Conflict(N_("%(name)s already belongs to a household"), name=person.name)
    household = Household(
        organisation_id=village.id,
        name=name,
        head_person_id=members[0].id,
        card_code=secrets.token_urlsafe(12),
    )
    with _one_household_each(session, village, members):
        session.add(household)
        session.flush()
        for person in members:
            session.add(
                HouseholdMember(
                    household_id=household.id, organisation_id=village.id, person_id=person.id
                )
            )
        session.flush()
    audit.record(
        session,
        actor,
        "points.household.create",
        "points_household",
        household.id,
        after={"name": name, "members": [p.id for p in members]},
    )
    return household


def add_household_member(
    session: Session,
    actor: Principal,
    village: Organisation,
    household: Household,
    command: HouseholdMemberIn | str,
) -> HouseholdMember:
    """The villager with the command's phone joins the household."""
    if not can(session, actor, PointsPerm.MANAGE, village):
        raise NotFound()
    phone = command.phone if isinstance(command, HouseholdMemberIn) else command
    person = _village_person_by_phone(session, village, phone)
    if household_of(session, village.id, person.id) is not None:
        raise Conflict(N_("%(name)s already belongs to a household"), name=person.name)
    member = HouseholdMember(
        household_id=household.id, organisation_id=village.id, person_id=person.id
    )
    with _one_household_each(session, village, [person]):
        session.add(member)
        session.flush()
    audit.record(
        session,
        actor,
        "points.household.add_member",
        "points_household",
        household.id,
        after={"person": person.id},
    )
    return member


def holder_key(catalogue: RuleCatalogue, person_id: int, household_id: int | None) -> str:
    if catalogue.account_unit == AccountUnit.household and household_id is not None:
        return f"h:{household_id}"
    return f"p:{person_id}"


def account_for_holder(
    session: Session, village_id: int, key: str, *, create: bool = True
) -> PointsAccount | None:
    """The holder's account, opened on first use. Opening is an insert that does nothing when
    the account exists, so that two first uses at once (a villager's first redemption while
    the settlement job opens accounts) both get the one account instead of a conflict."""
    query = select(PointsAccount).where(
        PointsAccount.organisation_id == village_id, PointsAccount.holder_key == key
    )
    account = session.scalar(query)
    if account is None and create:
        kind, _, raw = key.partition(":")
        session.execute(
            upsert(session, PointsAccount)
            .values(
                organisation_id=village_id,
                holder_key=key,
                household_id=int(raw) if kind == "h" else None,
                person_id=int(raw) if kind == "p" else None,
                balance=0,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["organisation_id", "holder_key"])
        )
        account = session.scalar(query)
    return account


def account_of_person(
    session: Session, village: Organisation, person_id: int, *, create: bool = True
) -> PointsAccount | None:
    catalogue = get_catalogue(session, village)
    household = household_of(session, village.id, person_id)
    key = holder_key(catalogue, person_id, household.id if household else None)
    if catalogue.account_unit == AccountUnit.household and household is None:
        return None
    return account_for_holder(session, village.id, key, create=create)


def get_account(session: Session, village: Organisation, account_id: int) -> PointsAccount:
    account = session.get(PointsAccount, account_id)
    if account is None or account.organisation_id != village.id:
        raise NotFound()
    return account


def get_account_for(
    session: Session, principal: Principal, village: Organisation, account_id: int | None = None
) -> PointsAccount:
    """The account, if the principal may see it: its holder (a household's members) and those
    who oversee the village's points. Without an id, the principal's own (or their household's),
    opened on first use. Missing and forbidden look the same."""
    if account_id is None:
        if principal.person_id is None:
            raise InvalidInput(N_("Give an account"))
        own = account_of_person(session, village, principal.person_id)
        if own is None:
            raise InvalidInput(
                N_("This person is not in any household yet; a cadre must add them to one first")
            )
        return own
    account = get_account(session, village, account_id)
    if not (
        can_use_account(session, principal, account)
        or can(session, principal, PointsPerm.VIEW, village)
    ):
        raise NotFound()
    return account


def can_use_account(session: Session, principal: Principal, account: PointsAccount) -> bool:
    """The holder (a household's members) may spend and see the account's history."""
    if principal.person_id is None:
        return False
    if account.person_id is not None:
        return account.person_id == principal.person_id
    return (
        session.scalar(
            select(HouseholdMember.id).where(
                HouseholdMember.household_id == account.household_id,
                HouseholdMember.person_id == principal.person_id,
            )
        )
        is not None
    )


def post_entry(
    session: Session,
    account_id: int,
    organisation_id: int,
    delta: int,
    kind: str,
    *,
    actor: Principal,
    record_id: int | None = None,
    redemption_id: int | None = None,
    reverses_entry_id: int | None = None,
    note: str = "",
    clamp: bool = False,
) -> PointsEntry | None:
    """Move a balance and write the entry that explains it, in one step.

    A spend (`clamp=False`) that would go below zero is refused. A deduction for bad behaviour
    or a correction (`clamp=True`) takes the balance to zero at most: the entry records what
    was actually taken, and its note what was due."""
    if clamp and delta < 0:
        balance = session.scalar(
            select(PointsAccount.balance).where(PointsAccount.id == account_id).with_for_update()
        )
        effective = max(delta, -(balance or 0))
        if effective != delta:
            note = (note + f" (due {delta}, balance {balance})").strip()
        delta = effective
    if delta == 0 and kind not in (EntryKind.settlement, EntryKind.reversal):
        return None
    moved = session.execute(
        update(PointsAccount)
        .where(PointsAccount.id == account_id, PointsAccount.balance + delta >= 0)
        .values(balance=PointsAccount.balance + delta)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(N_("Not enough points"))
    entry = PointsEntry(
        account_id=account_id,
        organisation_id=organisation_id,
        delta=delta,
        kind=kind,
        record_id=record_id,
        redemption_id=redemption_id,
        reverses_entry_id=reverses_entry_id,
        note=note[:300],
        actor_person_id=actor.person_id,
    )
    session.add(entry)
    session.flush()
    account = session.get(PointsAccount, account_id)
    if account is not None:
        session.refresh(account, ["balance"])
    return entry


def _accounts_for_keys(session: Session, village_id: int, keys: set[str]) -> dict[str, int]:
    found = dict(
        session.execute(
            select(PointsAccount.holder_key, PointsAccount.id).where(
                PointsAccount.organisation_id == village_id,
                PointsAccount.holder_key.in_(sorted(keys)),
            )
        ).all()
    )
    for key in sorted(keys - found.keys()):
        account = account_for_holder(session, village_id, key)
        if account is None:
            raise RuntimeError(f"no account {key} in village {village_id} after opening it")
        found[key] = account.id
    return found
