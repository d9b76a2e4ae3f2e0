"""What the API returns of villages, catalogues, households, accounts, records and notices where
the answer is more than a copy of one row (it needs the session: names, balances, star tiers,
a notice's records). Read-only; nothing here writes. Plain copies are read by the schemas
themselves (`XOut.model_validate(row)`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gongchuang.core.clock import utcnow
from gongchuang.core.models import Organisation
from gongchuang.core.permissions import Principal
from gongchuang.core.schemas import read_model
from gongchuang.points.models import PointsAccount, PublicNotice
from gongchuang.points.schemas import (
    AccountOut,
    CatalogueOut,
    CategoryOut,
    HouseholdOut,
    NoticeOut,
    RecordOut,
    RuleOut,
    VillageOut,
)
from gongchuang.points.service.access import is_member, roles_in, villages_of
from gongchuang.points.service.accounts import account_for_holder, account_of_person, get_household
from gongchuang.points.service.catalogue import categories, current_rules, get_catalogue
from gongchuang.points.service.queries import (
    account_labels,
    household_members,
    households,
    notice_records,
    notices,
)
from gongchuang.points.service.records import get_record

# The figures module reads through this package; it is only called here, never at import time.
from gongchuang.points.service.standing import account_tier, balances, notice_window


def villages_out(session: Session, principal: Principal) -> list[VillageOut]:
    """The villages the caller belongs to or oversees, with their own balance where they hold
    an account there."""
    out = []
    for village in villages_of(session, principal):
        account = (
            account_of_person(session, village, principal.person_id, create=False)
            if principal.person_id and is_member(session, principal.person_id, village.id)
            else None
        )
        out.append(
            VillageOut(
                id=village.id,
                name=village.name,
                region_code=village.region.code,
                account_unit=get_catalogue(session, village).account_unit,
                my_account_id=account.id if account else None,
                my_balance=account.balance if account else None,
                my_roles=sorted(roles_in(session, principal.person_id, village.id)),
            )
        )
    return out


def catalogue_out(session: Session, village: Organisation) -> CatalogueOut:
    """The village's settings with its categories and every rule, retired ones too."""
    catalogue = get_catalogue(session, village)
    out = CatalogueOut.model_validate(catalogue)
    out.categories = [CategoryOut.model_validate(c) for c in categories(session, catalogue)]
    out.rules = [
        RuleOut.model_validate(r) for r in current_rules(session, catalogue, include_retired=True)
    ]
    return out


def household_out(session: Session, village: Organisation, household_id: int) -> HouseholdOut:
    household = get_household(session, village, household_id)
    account = account_for_holder(session, village.id, f"h:{household.id}", create=False)
    return read_model(
        HouseholdOut,
        household,
        members=[m.person.name for m in household_members(session, household)],
        account_id=account.id if account else None,
        balance=account.balance if account else 0,
    )


def households_out(session: Session, village: Organisation) -> list[HouseholdOut]:
    return [household_out(session, village, h.id) for h in households(session, village)]


def account_out(session: Session, village: Organisation, account: PointsAccount) -> AccountOut:
    """An account with its holder's name and this year's star tier."""
    label = account_labels(session, [account]).get(account.id, "")
    tier = account_tier(session, get_catalogue(session, village), account)
    return read_model(AccountOut, account, label=label, star_tier=tier)


def balances_out(session: Session, village: Organisation) -> list[AccountOut]:
    """Every account of the village, highest balance first."""
    return [
        read_model(AccountOut, a, label=label, star_tier=tier)
        for a, label, tier in balances(session, village)
    ]


def record_out(session: Session, village: Organisation, record_id: int) -> RecordOut:
    """A record read again with its rule and person (as a command left it)."""
    return RecordOut.model_validate(get_record(session, village, record_id))


def notice_out(session: Session, notice: PublicNotice) -> NoticeOut:
    """A public notice with its records, and whether objections may be raised now."""
    return read_model(
        NoticeOut,
        notice,
        is_open=notice_window(notice, utcnow()),
        records=[RecordOut.model_validate(r) for r in notice_records(session, notice)],
    )


def notices_out(session: Session, village: Organisation, limit: int) -> list[NoticeOut]:
    """The village's recent notices, newest first."""
    return [notice_out(session, n) for n in notices(session, village, limit)]
