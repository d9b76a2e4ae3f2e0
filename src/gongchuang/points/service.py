"""Village points governance: rules, households, records, approval, public notice, objections,
settlement into the ledger. The points supermarket is in `shop.py`, figures in `reports.py`.

Who may do what follows the roles people hold in the village committee (`Membership.roles`):
approval levels name roles, rules name the roles that may report under them.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, insert, or_, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.util import identity_key

from gongchuang.core import audit, events, files, notifications, spreadsheets
from gongchuang.core.clock import SHANGHAI, local_midnight, utcnow
from gongchuang.core.clock import local_today as today_local  # the module's long-standing name
from gongchuang.core.db import upsert
from gongchuang.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.identity import mask_name
from gongchuang.core.models import (
    Membership,
    Organisation,
    OrganisationKind,
    Person,
    StoredFile,
)
from gongchuang.core.pagination import NumberedPage, numbered_page
from gongchuang.core.people import consenting, consenting_people
from gongchuang.core.permissions import READ_SCOPE, SYSTEM, Principal, has_permission
from gongchuang.core.text import clean_text
from gongchuang.points.catalogue_templates import TEMPLATES, CatalogueTemplate
from gongchuang.points.models import (
    AccountUnit,
    Approval,
    Decision,
    EntryKind,
    Household,
    HouseholdMember,
    MonthlyParticipant,
    MonthlyParticipation,
    MonthlyStat,
    Objection,
    ObjectionStatus,
    PointRecord,
    PointRule,
    PointsAccount,
    PointsEntry,
    PublicNotice,
    RecordStatus,
    Reporter,
    ResetPeriod,
    RuleCatalogue,
    RuleCategory,
)
from gongchuang.points.permissions import PointsPerm

events.register_topic("points.record.approved", N_("A points record was approved"))
events.register_topic("points.notice.settled", N_("A public notice was settled into balances"))
events.register_topic("points.objection.decided", N_("An objection was decided"))

VILLAGE_KINDS = {OrganisationKind.village_committee, OrganisationKind.residents_committee}
OFFICIAL_ROLES = {Reporter.cadre, Reporter.group_leader, Reporter.grid_worker}
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
MAX_POINTS = 1000
MAX_BATCH = 2000
SETTLE_CHUNK = 2000
LEDGER_KINDS_EARNED = (EntryKind.settlement, EntryKind.reversal)


# --- access -----------------------------------------------------------------------------------


def roles_in(session: Session, person_id: int | None, organisation_id: int) -> set[str]:
    if person_id is None:
        return set()
    roles = session.scalar(
        select(Membership.roles).where(
            Membership.person_id == person_id, Membership.organisation_id == organisation_id
        )
    )
    if roles is None:
        return set()
    held = set(roles) | {"member"}
    if "admin" in held:
        held.add(Reporter.cadre)  # the committee's administrators act as cadres
    return held


def is_member(session: Session, person_id: int | None, organisation_id: int) -> bool:
    return bool(roles_in(session, person_id, organisation_id))


def can(session: Session, principal: Principal, perm: str, village: Organisation) -> bool:
    return has_permission(session, principal, perm, village)


def village_for_the_public(session: Session, organisation_id: int) -> Organisation:
    """The village whose public notice (公示) anyone may read, signed in or not: the notice is
    posted for the whole village to see and object to (names and points; no phone, no ID)."""
    village = session.scalar(
        select(Organisation)
        .options(joinedload(Organisation.region))
        .where(Organisation.id == organisation_id)
    )
    if village is None or village.kind not in VILLAGE_KINDS:
        raise NotFound()
    return village


def get_village_for(
    session: Session, principal: Principal, organisation_id: int, perm: str | None = None
) -> Organisation:
    """The village, if the principal may see its points (members, and staff above it) and,
    with `perm`, also holds that permission over it. Missing and forbidden look the same."""
    village = village_for_the_public(session, organisation_id)
    if perm is not None:
        if not can(session, principal, perm, village):
            raise NotFound()
        return village
    if principal.is_platform_admin or (
        (principal.scope_allows(READ_SCOPE) or principal.scope_allows(PointsPerm.VIEW))
        and (
            is_member(session, principal.person_id, village.id)
            or can(session, principal, PointsPerm.VIEW, village)
        )
    ):
        return village
    raise NotFound()


def villages_of(session: Session, principal: Principal) -> list[Organisation]:
    """Villages with a points scheme that the principal belongs to or oversees."""
    query = (
        select(Organisation)
        .join(RuleCatalogue, RuleCatalogue.organisation_id == Organisation.id)
        .options(joinedload(Organisation.region))
        .order_by(Organisation.name)
    )
    if principal.is_platform_admin:
        return list(session.scalars(query))
    found = []
    for village in session.scalars(query):
        if is_member(session, principal.person_id, village.id) or can(
            session, principal, PointsPerm.VIEW, village
        ):
            found.append(village)
    return found


# --- catalogue and settings -------------------------------------------------------------------


def get_catalogue(session: Session, village: Organisation) -> RuleCatalogue:
    catalogue = session.scalar(
        select(RuleCatalogue).where(RuleCatalogue.organisation_id == village.id)
    )
    if catalogue is None:
        raise NotFound(N_("This village has not set up points governance yet"))
    return catalogue


def find_catalogue(session: Session, village: Organisation) -> RuleCatalogue | None:
    return session.scalar(select(RuleCatalogue).where(RuleCatalogue.organisation_id == village.id))


def create_catalogue(
    session: Session,
    actor: Principal,
    village: Organisation,
    *,
    template_code: str,
    account_unit: str | None = None,
) -> RuleCatalogue:
    if not can(session, actor, PointsPerm.MANAGE, village):
        raise NotFound()
    template = TEMPLATES.get(template_code)
    if template is None:
        raise InvalidInput(N_("Unknown catalogue template %(code)s"), code=template_code)
    if find_catalogue(session, village) is not None:
        raise Conflict(N_("This village already has a rule catalogue"))
    unit = account_unit or (
        AccountUnit.household if template.code == "youxiqiao" else AccountUnit.person
    )
    if unit not in AccountUnit.__members__:
        raise InvalidInput(N_("Accounts are kept by household or by person"))
    catalogue = RuleCatalogue(
        organisation_id=village.id,
        name=f"{village.name}积分细则",
        template_code=template.code,
        account_unit=unit,
        notice_days=7,
        approval_roles=list(template.approval_roles),
        reset_period=template.reset_period,
        base_points=0,
        min_redeem_balance=0,
        star_tiers=[{"name": n, "min_points": p} for n, p in template.star_tiers],
        volunteer_rule_code=template.volunteer_rule_code,
        current_period="",
    )
    try:
        # Two set-ups sent together both find no catalogue: the unique organisation keeps one.
        with session.begin_nested():
            session.add(catalogue)
            session.flush()
    except IntegrityError:
        raise Conflict(N_("This village already has a rule catalogue")) from None
    _copy_rules(session, catalogue, template)
    audit.record(
        session,
        actor,
        "points.catalogue.create",
        "points_catalogue",
        catalogue.id,
        after={"village": village.id, "template": template.code, "unit": unit},
    )
    return catalogue


def _copy_rules(session: Session, catalogue: RuleCatalogue, template: CatalogueTemplate) -> None:
    for position, (category_name, rules) in enumerate(template.categories):
        category = RuleCategory(catalogue_id=catalogue.id, name=category_name, position=position)
        session.add(category)
        session.flush()
        for rule in rules:
            session.add(
                PointRule(
                    catalogue_id=catalogue.id,
                    category_id=category.id,
                    code=rule.code,
                    version=1,
                    title=rule.title,
                    points=rule.points,
                    evidence_required=rule.evidence_required,
                    cap_count=rule.cap_count,
                    cap_period=rule.cap_period,
                    reporters=list(rule.reporters),
                )
            )
    session.flush()


SETTING_FIELDS = (
    "volunteer_rule_code",
    "account_unit",
    "notice_days",
    "approval_roles",
    "reset_period",
    "base_points",
    "min_redeem_balance",
    "star_tiers",
)


def update_settings(
    session: Session, actor: Principal, village: Organisation, **changes: Any
) -> RuleCatalogue:
    if not can(session, actor, PointsPerm.MANAGE, village):
        raise NotFound()
    catalogue = get_catalogue(session, village)
    errors: list[dict[str, Any]] = []
    changes = {k: v for k, v in changes.items() if v is not None}
    if "account_unit" in changes:
        if changes["account_unit"] not in AccountUnit.__members__:
            errors.append({"field": "account_unit", "message": gettext("by household or person")})
        elif changes["account_unit"] != catalogue.account_unit and session.scalar(
            select(PointsAccount.id).where(PointsAccount.organisation_id == village.id).limit(1)
        ):
            errors.append(
                {
                    "field": "account_unit",
                    "message": gettext("cannot change once balances exist"),
                }
            )
    if changes.get("volunteer_rule_code") and not session.scalar(
        select(PointRule.id).where(
            PointRule.catalogue_id == catalogue.id,
            PointRule.code == changes["volunteer_rule_code"],
            PointRule.is_current.is_(True),
        )
    ):
        errors.append({"field": "volunteer_rule_code", "message": gettext("no such rule")})
    if "notice_days" in changes and not 1 <= int(changes["notice_days"]) <= 30:
        errors.append({"field": "notice_days", "message": gettext("between 1 and 30 days")})
    if "approval_roles" in changes:
        roles = [r for r in changes["approval_roles"] if r]
        if not 1 <= len(roles) <= 3 or any(
            r not in {Reporter.cadre, Reporter.group_leader, Reporter.grid_worker} for r in roles
        ):
            errors.append(
                {
                    "field": "approval_roles",
                    "message": gettext("one to three levels of cadre, group leader, grid worker"),
                }
            )
        changes["approval_roles"] = roles
    if "reset_period" in changes and changes["reset_period"] not in ResetPeriod.__members__:
        errors.append({"field": "reset_period", "message": gettext("none, month, quarter, year")})
    for name in ("base_points", "min_redeem_balance"):
        if name in changes and not 0 <= int(changes[name]) <= 100_000:
            errors.append({"field": name, "message": gettext("between 0 and 100000")})
    if "star_tiers" in changes:
        cleaned: list[dict[str, Any]] | None
        try:
            pairs = [
                (int(t["min_points"]), clean_text(t["name"], "name", max_length=30))
                for t in changes["star_tiers"]
            ]
            cleaned = [{"name": name, "min_points": points} for points, name in sorted(pairs)]
        except (KeyError, TypeError, ValueError, InvalidInput):
            cleaned = None
        if cleaned is None or len(cleaned) > 10 or any(t["min_points"] < 1 for t in cleaned):
            errors.append(
                {"field": "star_tiers", "message": gettext("up to 10 tiers with a name and points")}
            )
        else:
            changes["star_tiers"] = cleaned
    if errors:
        raise InvalidInput(N_("Some settings are not valid; nothing was changed"), errors=errors)
    before = audit.snapshot(catalogue, SETTING_FIELDS)
    for name, value in changes.items():
        if name in SETTING_FIELDS:
            setattr(catalogue, name, int(value) if isinstance(before[name], int) else value)
    audit.record(
        session,
        actor,
        "points.catalogue.settings",
        "points_catalogue",
        catalogue.id,
        before=before,
        after=audit.snapshot(catalogue, SETTING_FIELDS),
    )
    return catalogue


def categories(session: Session, catalogue: RuleCatalogue) -> list[RuleCategory]:
    return list(
        session.scalars(
            select(RuleCategory)
            .where(RuleCategory.catalogue_id == catalogue.id)
            .order_by(RuleCategory.position, RuleCategory.id)
        )
    )


def current_rules(
    session: Session, catalogue: RuleCatalogue, *, include_retired: bool = False
) -> list[PointRule]:
    query = (
        select(PointRule)
        .options(joinedload(PointRule.category))
        .where(PointRule.catalogue_id == catalogue.id, PointRule.is_current.is_(True))
        .order_by(PointRule.category_id, PointRule.code)
    )
    if not include_retired:
        query = query.where(PointRule.active.is_(True))
    return list(session.scalars(query))


@dataclass
class RuleInput:
    category_id: int
    title: str
    points: int
    evidence_required: bool = False
    cap_count: int | None = None
    cap_period: str = ResetPeriod.month
    reporters: list[str] = field(default_factory=lambda: [Reporter.cadre])
    description: str = ""


def _validate_rule(session: Session, catalogue: RuleCatalogue, data: RuleInput) -> dict[str, Any]:
    errors: list[dict[str, Any]] = []
    category = session.get(RuleCategory, data.category_id)
    if category is None or category.catalogue_id != catalogue.id:
        errors.append({"field": "category_id", "message": gettext("no such category")})
    try:
        title = clean_text(data.title, "title", max_length=200)
    except InvalidInput as exc:
        errors.append({"field": "title", "message": exc.detail()})
        title = ""
    if data.points == 0 or abs(data.points) > MAX_POINTS:
        errors.append({"field": "points", "message": gettext("non-zero, at most 1000 either way")})
    if data.cap_count is not None and not 1 <= data.cap_count <= 1000:
        errors.append({"field": "cap_count", "message": gettext("between 1 and 1000")})
    if data.cap_period not in {"month", "quarter", "year"}:
        errors.append({"field": "cap_period", "message": gettext("month, quarter or year")})
    reporters = sorted(set(data.reporters))
    if not reporters or any(r not in Reporter.__members__ for r in reporters):
        errors.append(
            {
                "field": "reporters",
                "message": gettext("self, cadre, group leader or grid worker"),
            }
        )
    if errors:
        raise InvalidInput(N_("The rule is not valid; nothing was changed"), errors=errors)
    return {
        "category_id": data.category_id,
        "title": title,
        "description": clean_text(data.description, "description", max_length=2000, required=False),
        "points": data.points,
        "evidence_required": data.evidence_required,
        "cap_count": data.cap_count,
        "cap_period": data.cap_period,
        "reporters": reporters,
    }


RULE_FIELDS = (
    "code",
    "version",
    "category_id",
    "title",
    "points",
    "evidence_required",
    "cap_count",
    "cap_period",
    "reporters",
    "active",
)


def add_category(
    session: Session, actor: Principal, village: Organisation, name: str
) -> RuleCategory:
    if not can(session, actor, PointsPerm.MANAGE, village):
        raise NotFound()
    catalogue = get_catalogue(session, village)
    category = RuleCategory(
        catalogue_id=catalogue.id,
        name=clean_text(name, "name", max_length=100),
        position=len(categories(session, catalogue)),
    )
    session.add(category)
    session.flush()
    audit.record(
        session, actor, "points.category.add", "points_category", category.id, after={"name": name}
    )
    return category


def add_rule(
    session: Session, actor: Principal, village: Organisation, data: RuleInput
) -> PointRule:
    if not can(session, actor, PointsPerm.MANAGE, village):
        raise NotFound()
    catalogue = get_catalogue(session, village)
    values = _validate_rule(session, catalogue, data)
    count = session.scalar(
        select(func.count(func.distinct(PointRule.code))).where(
            PointRule.catalogue_id == catalogue.id
        )
    )
    code = f"R{(count or 0) + 1:03d}"
    while session.scalar(
        select(PointRule.id).where(PointRule.catalogue_id == catalogue.id, PointRule.code == code)
    ):
        code = f"R{secrets.randbelow(10**6):06d}"
    rule = PointRule(catalogue_id=catalogue.id, code=code, version=1, **values)
    session.add(rule)
    session.flush()
    audit.record(
        session,
        actor,
        "points.rule.add",
        "points_rule",
        rule.id,
        after=audit.snapshot(rule, RULE_FIELDS),
    )
    return rule


def get_rule(session: Session, catalogue: RuleCatalogue, code: str) -> PointRule:
    rule = session.scalar(
        select(PointRule)
        .options(joinedload(PointRule.category))
        .where(
            PointRule.catalogue_id == catalogue.id,
            PointRule.code == code,
            PointRule.is_current.is_(True),
        )
    )
    if rule is None:
        raise NotFound(N_("Unknown rule %(code)s"), code=code)
    return rule


def revise_rule(
    session: Session, actor: Principal, village: Organisation, code: str, data: RuleInput
) -> PointRule:
    """A new version of the rule; records already made keep the version they were made under."""
    if not can(session, actor, PointsPerm.MANAGE, village):
        raise NotFound()
    catalogue = get_catalogue(session, village)
    old = get_rule(session, catalogue, code)
    values = _validate_rule(session, catalogue, data)
    old.is_current = False
    session.flush()
    rule = PointRule(
        catalogue_id=catalogue.id,
        code=old.code,
        version=old.version + 1,
        active=old.active,
        **values,
    )
    session.add(rule)
    session.flush()
    audit.record(
        session,
        actor,
        "points.rule.revise",
        "points_rule",
        rule.id,
        before=audit.snapshot(old, RULE_FIELDS),
        after=audit.snapshot(rule, RULE_FIELDS),
    )
    return rule


def set_rule_active(
    session: Session, actor: Principal, village: Organisation, code: str, active: bool
) -> PointRule:
    if not can(session, actor, PointsPerm.MANAGE, village):
        raise NotFound()
    rule = get_rule(session, get_catalogue(session, village), code)
    before = audit.snapshot(rule, RULE_FIELDS)
    rule.active = active
    audit.record(
        session,
        actor,
        "points.rule.activate" if active else "points.rule.retire",
        "points_rule",
        rule.id,
        before=before,
        after=audit.snapshot(rule, RULE_FIELDS),
    )
    return rule


# --- households and accounts ------------------------------------------------------------------


def households(session: Session, village: Organisation) -> list[Household]:
    return list(
        session.scalars(
            select(Household).where(Household.organisation_id == village.id).order_by(Household.id)
        )
    )


def household_members(session: Session, household: Household) -> list[HouseholdMember]:
    return list(
        session.scalars(
            select(HouseholdMember)
            .options(joinedload(HouseholdMember.person))
            .where(HouseholdMember.household_id == household.id)
            .order_by(HouseholdMember.id)
        )
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
    *,
    name: str,
    member_phones: list[str],
) -> Household:
    """The first phone is the head of the household."""
    if not can(session, actor, PointsPerm.MANAGE, village):
        raise NotFound()
    name = clean_text(name, "name", max_length=100)
    phones = list(dict.fromkeys(p.strip() for p in member_phones if p.strip()))
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
    session: Session, actor: Principal, village: Organisation, household: Household, phone: str
) -> HouseholdMember:
    if not can(session, actor, PointsPerm.MANAGE, village):
        raise NotFound()
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


def account_labels(session: Session, accounts: list[PointsAccount]) -> dict[int, str]:
    """Household names, or people's names, for display beside balances."""
    household_ids = [a.household_id for a in accounts if a.household_id]
    person_ids = [a.person_id for a in accounts if a.person_id]
    names: dict[int, str] = {}
    house_names = dict(
        session.execute(
            select(Household.id, Household.name).where(Household.id.in_(household_ids))
        ).all()
    )
    people_names = dict(
        session.execute(select(Person.id, Person.name).where(Person.id.in_(person_ids))).all()
    )
    for account in accounts:
        if account.household_id:
            names[account.id] = house_names.get(account.household_id, "")
        elif account.person_id:
            names[account.id] = people_names.get(account.person_id, "")
    return names


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


def ledger(session: Session, account: PointsAccount, limit: int = 200) -> list[PointsEntry]:
    return list(
        session.scalars(
            select(PointsEntry)
            .where(PointsEntry.account_id == account.id)
            .order_by(PointsEntry.id.desc())
            .limit(limit)
        )
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


# --- records ----------------------------------------------------------------------------------


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


def _check_evidence(session: Session, actor: Principal, file_id: int | None) -> None:
    if file_id is None:
        return
    stored = session.get(StoredFile, file_id)
    if stored is None or not (
        actor.is_platform_admin or stored.uploader_person_id == actor.person_id
    ):
        raise InvalidInput(
            N_("The evidence file is not one you uploaded"),
            errors=[{"field": "evidence_file_id", "message": "no such file of yours"}],
        )
    if stored.content_type not in IMAGE_TYPES:
        raise InvalidInput(
            N_("Evidence must be a photo (JPEG, PNG or WebP)"),
            errors=[{"field": "evidence_file_id", "message": stored.content_type}],
        )


def _lock_members(session: Session, village_id: int, person_ids: list[int]) -> None:
    """Serialise the records of these villagers: a cap ("once a month") is a count read before
    the insert, so two submissions at the same moment would both find room. The second waits
    here for the first to commit, then counts its record. In ascending order, so batches never
    deadlock. SQLite's writers are already serialised (BEGIN IMMEDIATE)."""
    if person_ids:
        session.execute(
            select(Membership.id)
            .where(
                Membership.organisation_id == village_id,
                Membership.person_id.in_(sorted(set(person_ids))),
            )
            .order_by(Membership.id)
            .with_for_update()
        )


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
PERIOD_LABELS = {
    "month": N_("month"),
    "quarter": N_("quarter"),
    "year": N_("year"),
    "none": N_("never"),
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
    session: Session, actor: Principal, village: Organisation, request: RecordRequest
) -> PointRecord:
    if not is_member(session, actor.person_id, village.id):
        raise NotFound()
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
    requests: list[RecordRequest],
) -> list[PointRecord]:
    """Many records in one go (a meeting's attendance, an Excel sheet): all or nothing.
    Errors name the line (`line` of each request's position, or the sheet's line)."""
    if not can(session, actor, PointsPerm.RECORD, village):
        raise NotFound()
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


def records_query(
    village: Organisation,
    *,
    status: str | None = None,
    person_id: int | None = None,
    year: int | None = None,
) -> Any:
    query = (
        select(PointRecord)
        .options(joinedload(PointRecord.rule), joinedload(PointRecord.person))
        .where(PointRecord.organisation_id == village.id)
    )
    if status:
        query = query.where(PointRecord.status == status)
    if person_id:
        query = query.where(PointRecord.person_id == person_id)
    if year:
        query = query.where(
            PointRecord.occurred_on >= date(year, 1, 1),
            PointRecord.occurred_on < date(year + 1, 1, 1),
        )
    return query


def approval_role(catalogue: RuleCatalogue, step: int) -> str:
    roles = catalogue.approval_roles or [Reporter.cadre]
    return roles[min(step, len(roles) - 1)]


@dataclass(frozen=True)
class ApprovalQueue:
    records: list[PointRecord]
    photos: set[int]  # ids of the records whose evidence is a photo (a thumbnail can be shown)


def approval_queue(session: Session, principal: Principal, village: Organisation) -> ApprovalQueue:
    records = awaiting_me(session, principal, village)
    file_ids = {r.evidence_file_id for r in records if r.evidence_file_id is not None}
    image_files = (
        set(
            session.scalars(
                select(StoredFile.id).where(
                    StoredFile.id.in_(file_ids),
                    StoredFile.content_type.in_(list(files.IMAGE_TYPES)),
                )
            )
        )
        if file_ids
        else set()
    )
    return ApprovalQueue(
        records=records, photos={r.id for r in records if r.evidence_file_id in image_files}
    )


def _awaiting_me_where(session: Session, principal: Principal, village: Organisation) -> list[Any]:
    """What makes a record wait for the principal: pending at a level they may decide, not
    their own. Empty where nothing can (no catalogue, no approving role)."""
    catalogue = find_catalogue(session, village)
    if catalogue is None:
        return []
    held = roles_in(session, principal.person_id, village.id)
    steps = [i for i, role in enumerate(catalogue.approval_roles or ["cadre"]) if role in held]
    if not steps:
        return []
    return [
        PointRecord.organisation_id == village.id,
        PointRecord.status == RecordStatus.pending,
        PointRecord.approval_step.in_(steps),
        PointRecord.person_id != principal.person_id,
        PointRecord.reported_by_person_id != principal.person_id,
    ]


def awaiting_me(session: Session, principal: Principal, village: Organisation) -> list[PointRecord]:
    """Records at an approval level the principal may decide, not their own."""
    where = _awaiting_me_where(session, principal, village)
    if not where:
        return []
    query = records_query(village).where(*where).order_by(PointRecord.id).limit(500)
    return list(session.scalars(query).unique())


@dataclass(frozen=True)
class VillageAtAGlance:
    village: Organisation
    balance: int | None  # the person's (or their household's) points; None without an account
    awaiting_me: int  # records waiting for the person's approval


def home_summary(session: Session, principal: Principal) -> list[VillageAtAGlance] | None:
    """For a signed-in person's home page: in each village with points they belong to, their
    balance and what waits for their approval. Reads only (no account is opened)."""
    if principal.person_id is None:
        return None
    villages = session.scalars(
        select(Organisation)
        .join(RuleCatalogue, RuleCatalogue.organisation_id == Organisation.id)
        .join(Membership, Membership.organisation_id == Organisation.id)
        .where(Membership.person_id == principal.person_id)
        .order_by(Organisation.name, Organisation.id)
    )
    found = []
    for village in villages:
        account = account_of_person(session, village, principal.person_id, create=False)
        holds_one = get_catalogue(session, village).account_unit != AccountUnit.household or (
            household_of(session, village.id, principal.person_id) is not None
        )
        balance = (account.balance if account else 0) if holds_one else None
        where = _awaiting_me_where(session, principal, village)
        waiting = session.scalar(select(func.count(PointRecord.id)).where(*where)) if where else 0
        found.append(VillageAtAGlance(village, balance, waiting or 0))
    return found or None


def _lock_records(session: Session, village_id: int, record_ids: list[int]) -> list[PointRecord]:
    """The records, held until commit and read afresh. A request checks a record's status and
    approval level on the copy it loaded first; a second request deciding the same record at the
    same moment would pass the same checks. Taking the row lock makes it wait for the first to
    commit, and reading after the wait shows it what the first did. In id order, so that two
    batches never deadlock; SQLite's writers are already serialised (BEGIN IMMEDIATE)."""
    ids = sorted(set(record_ids))
    session.flush()
    columns = [attr.key for attr in sa_inspect(PointRecord).column_attrs]
    for record_id in ids:
        held = session.identity_map.get(identity_key(PointRecord, record_id))
        if held is not None:
            # Expired columns are filled from the locked rows below (relationships stay).
            session.expire(held, columns)
    return list(
        session.scalars(
            select(PointRecord)
            .where(PointRecord.id.in_(ids), PointRecord.organisation_id == village_id)
            .order_by(PointRecord.id)
            .with_for_update()
        )
    )


def decide(
    session: Session,
    actor: Principal,
    village: Organisation,
    record: PointRecord,
    decision: str,
    reason: str = "",
) -> PointRecord:
    if record.organisation_id != village.id:
        raise NotFound()
    catalogue = get_catalogue(session, village)
    if not _lock_records(session, village.id, [record.id]):
        raise NotFound()
    if record.status != RecordStatus.pending:
        raise Conflict(N_("This record is not waiting for approval"))
    role = approval_role(catalogue, record.approval_step)
    if role not in roles_in(session, actor.person_id, village.id):
        raise PermissionDenied(N_("This approval level is for another role"))
    if actor.person_id in (record.person_id, record.reported_by_person_id):
        raise PermissionDenied(N_("You cannot approve a record of your own"))
    if session.scalar(
        select(Approval.id).where(
            Approval.record_id == record.id,
            Approval.decided_by_person_id == actor.person_id,
            Approval.decision == Decision.approve,
        )
    ):
        raise PermissionDenied(N_("You already approved this record at an earlier level"))
    if decision not in {d.value for d in Decision}:
        raise InvalidInput(N_("Approve, reject, or return for more evidence"))
    reason = clean_text(reason, "reason", max_length=1000, required=decision != Decision.approve)
    before = audit.snapshot(record, ("status", "approval_step", "notice_id"))
    session.add(
        Approval(
            record_id=record.id,
            step=record.approval_step,
            role=role,
            decided_by_person_id=actor.person_id,
            decision=decision,
            reason=reason,
        )
    )
    if decision == Decision.reject:
        record.status = RecordStatus.rejected
    elif decision == Decision.return_:
        record.status = RecordStatus.returned
    elif record.approval_step + 1 < len(catalogue.approval_roles or ["cadre"]):
        record.approval_step += 1
    else:
        _publish(session, catalogue, village, record)
    session.flush()
    audit.record(
        session,
        actor,
        f"points.record.{decision}",
        "points_record",
        record.id,
        before=before,
        after={
            **audit.snapshot(record, ("status", "approval_step", "notice_id")),
            "reason": reason,
        },
    )
    if decision != Decision.approve:
        title = (
            N_("Your points record was rejected")
            if decision == Decision.reject
            else N_("Your points record needs more evidence")
        )
        notifications.notify(
            session,
            record.reported_by_person_id,
            kind="points.record",
            title=title,
            body=reason,
            link=f"/points/villages/{village.id}/records/{record.id}",
        )
    return record


def _todays_notice(
    session: Session, catalogue: RuleCatalogue, village: Organisation
) -> PublicNotice:
    """The public notice of the day, which stays up for `notice_days`. The day's first
    approvals may come at the same moment from two approvers: the notice is opened by an insert
    that does nothing when another has just opened it, and both records go onto that one."""
    now = utcnow()
    day = now.astimezone(SHANGHAI).date()
    number = f"{day:%Y%m%d}"
    query = select(PublicNotice).where(
        PublicNotice.organisation_id == village.id, PublicNotice.number == number
    )
    notice = session.scalar(query)
    if notice is None:
        session.execute(
            upsert(session, PublicNotice)
            .values(
                organisation_id=village.id,
                number=number,
                opens_at=now,
                closes_at=local_midnight(day + timedelta(days=catalogue.notice_days + 1)),
            )
            .on_conflict_do_nothing(index_elements=["organisation_id", "number"])
        )
        notice = session.scalar(query)
        assert notice is not None
    return notice


def _publish(
    session: Session,
    catalogue: RuleCatalogue,
    village: Organisation,
    record: PointRecord,
    notice: PublicNotice | None = None,
) -> PublicNotice:
    """Approved at the last level: onto today's public notice."""
    notice = notice or _todays_notice(session, catalogue, village)
    record.status = RecordStatus.in_notice
    record.approved_at = utcnow()
    record.notice_id = notice.id
    events.publish(
        session,
        "points.record.approved",
        {"record_id": record.id, "village_id": village.id, "notice_id": notice.id},
    )
    return notice


def resubmit(
    session: Session,
    actor: Principal,
    village: Organisation,
    record: PointRecord,
    *,
    note: str,
    evidence_file_id: int | None,
) -> PointRecord:
    """A returned record goes back to the first approval level with more evidence."""
    if record.organisation_id != village.id or actor.person_id != record.reported_by_person_id:
        raise NotFound()
    _lock_records(session, village.id, [record.id])
    if record.status != RecordStatus.returned:
        raise Conflict(N_("Only a record returned for more evidence can be resubmitted"))
    _check_evidence(session, actor, evidence_file_id)
    before = audit.snapshot(record, ("status", "note", "evidence_file_id"))
    record.note = clean_text(note, "note", max_length=1000, required=False) or record.note
    if evidence_file_id is not None:
        record.evidence_file_id = evidence_file_id
    record.status = RecordStatus.pending
    record.approval_step = 0
    record.submitted_at = utcnow()
    audit.record(
        session,
        actor,
        "points.record.resubmit",
        "points_record",
        record.id,
        before=before,
        after=audit.snapshot(record, ("status", "note", "evidence_file_id")),
    )
    return record


def approve_many(
    session: Session, actor: Principal, village: Organisation, record_ids: list[int]
) -> int:
    """Approve a selection at the actor's level (a meeting's 60 attendance records at once):
    the same checks as one decision each, all or nothing, one audit append for the batch."""
    ids = list(dict.fromkeys(record_ids))
    if not ids:
        raise InvalidInput(N_("Choose at least one record"))
    if len(ids) > MAX_BATCH:
        raise InvalidInput(N_("At most %(n)s records at once"), n=MAX_BATCH)
    catalogue = get_catalogue(session, village)
    levels = catalogue.approval_roles or [Reporter.cadre]
    held = roles_in(session, actor.person_id, village.id)
    records = _lock_records(session, village.id, ids)
    if len(records) != len(ids):
        raise NotFound()
    approved_before = set(
        session.scalars(
            select(Approval.record_id).where(
                Approval.record_id.in_(ids),
                Approval.decided_by_person_id == actor.person_id,
                Approval.decision == Decision.approve,
            )
        )
    )
    errors = []
    for record in records:
        if record.status != RecordStatus.pending:
            problem = gettext("This record is not waiting for approval")
        elif approval_role(catalogue, record.approval_step) not in held:
            problem = gettext("This approval level is for another role")
        elif actor.person_id in (record.person_id, record.reported_by_person_id):
            problem = gettext("You cannot approve a record of your own")
        elif record.id in approved_before:
            problem = gettext("You already approved this record at an earlier level")
        else:
            continue
        errors.append({"field": f"record {record.id}", "message": problem})
    if errors:
        raise PermissionDenied(
            N_("%(count)s records cannot be approved by you; nothing was approved"),
            count=len(errors),
            errors=errors,
        )
    notice: PublicNotice | None = None
    changes = []
    for record in records:
        before = {"status": record.status, "approval_step": record.approval_step}
        session.add(
            Approval(
                record_id=record.id,
                step=record.approval_step,
                role=approval_role(catalogue, record.approval_step),
                decided_by_person_id=actor.person_id,
                decision=Decision.approve,
            )
        )
        if record.approval_step + 1 < len(levels):
            record.approval_step += 1
        else:
            notice = _publish(session, catalogue, village, record, notice)
        changes.append(
            audit.Change(
                "points.record.approve",
                "points_record",
                record.id,
                before=before,
                after=audit.snapshot(record, ("status", "approval_step", "notice_id")),
            )
        )
    session.flush()
    audit.record_many(session, actor, changes)
    return len(records)


def approvals_of(session: Session, record: PointRecord) -> list[tuple[Approval, str]]:
    rows = session.execute(
        select(Approval, Person.name)
        .join(Person, Person.id == Approval.decided_by_person_id)
        .where(Approval.record_id == record.id)
        .order_by(Approval.id)
    ).all()
    return [(a, name) for a, name in rows]


def objections_of(session: Session, record: PointRecord) -> list[Objection]:
    return list(
        session.scalars(
            select(Objection).where(Objection.record_id == record.id).order_by(Objection.id)
        )
    )


def person_names(session: Session, person_ids: list[int]) -> dict[int, str]:
    return dict(
        session.execute(
            select(Person.id, Person.name).where(Person.id.in_(sorted(set(person_ids))))
        ).all()
    )


def accounts_by_id(session: Session, village: Organisation) -> list[PointsAccount]:
    return list(
        session.scalars(select(PointsAccount).where(PointsAccount.organisation_id == village.id))
    )


def save_evidence(session: Session, actor: Principal, filename: str, data: bytes) -> StoredFile:
    return files.save_upload(session, actor, filename=filename, data=data, accepted=IMAGE_TYPES)


def evidence_for(
    session: Session,
    principal: Principal,
    village: Organisation,
    record_id: int,
    *,
    thumbnail: bool = False,
) -> tuple[str, bytes]:
    """A record's evidence as (content type, bytes); a thumbnail is a small JPEG of a photo."""
    record = get_record_for(session, principal, village, record_id)
    if record.evidence_file_id is None:
        raise NotFound()
    stored = session.get(StoredFile, record.evidence_file_id)
    if stored is None or (thumbnail and stored.content_type not in files.IMAGE_TYPES):
        raise NotFound()
    data = files.storage().load(stored.storage_key)
    if thumbnail:
        return "image/jpeg", files.thumbnail(data)
    return stored.content_type, data


# --- public notice and objections -------------------------------------------------------------


def notices(session: Session, village: Organisation, limit: int = 30) -> list[PublicNotice]:
    return list(
        session.scalars(
            select(PublicNotice)
            .where(PublicNotice.organisation_id == village.id)
            .order_by(PublicNotice.opens_at.desc())
            .limit(limit)
        )
    )


def get_notice(session: Session, village: Organisation, notice_id: int) -> PublicNotice:
    notice = session.get(PublicNotice, notice_id)
    if notice is None or notice.organisation_id != village.id:
        raise NotFound()
    return notice


def notice_records(session: Session, notice: PublicNotice) -> list[PointRecord]:
    return list(
        session.scalars(
            select(PointRecord)
            .options(joinedload(PointRecord.rule), joinedload(PointRecord.person))
            .where(PointRecord.notice_id == notice.id)
            .order_by(PointRecord.id)
        )
    )


PUBLIC_NAME = "public_name"  # the consent purpose (core.people.CONSENT_PURPOSES)


def sees_full_names(session: Session, principal: Principal, village: Organisation) -> bool:
    """Members of the village (and those who oversee it) read the notice with every name, as
    the village's physical board shows it; anyone else online sees only the surname of whoever
    has not agreed to show their name (consent `public_name`)."""
    return is_member(session, principal.person_id, village.id) or can(
        session, principal, PointsPerm.VIEW, village
    )


def shown_names(
    session: Session, records: list[PointRecord], *, full_names: bool
) -> dict[int, str]:
    """Each person's name as the notice shows it: person id -> name, consents read at once."""
    names = {r.person_id: r.person.name for r in records}
    if full_names:
        return names
    agreed = consenting(session, names, PUBLIC_NAME)
    return {pid: name if pid in agreed else mask_name(name) for pid, name in names.items()}


BOARD_PER_PAGE = 10  # two or three screens of a phone


@dataclass(frozen=True)
class NoticeBoard:
    """The notices still up (each with how many records it holds) and one page of their
    records, found by a villager's name, with the names as this reader may see them (person id
    -> name). The printed notice (PDF) always lists every record."""

    notices: list[tuple[PublicNotice, int]]
    records: NumberedPage[PointRecord]
    names: dict[int, str] = field(default_factory=dict)


def notice_board(
    session: Session,
    village: Organisation,
    *,
    search: str | None = None,
    page: int = 1,
    full_names: bool = False,
) -> NoticeBoard:
    now = utcnow()
    open_notices = [
        (notice, count)
        for notice, count in session.execute(
            select(PublicNotice, func.count(PointRecord.id))
            .outerjoin(PointRecord, PointRecord.notice_id == PublicNotice.id)
            .where(PublicNotice.organisation_id == village.id, PublicNotice.closes_at > now)
            .group_by(PublicNotice.id)
            .order_by(PublicNotice.opens_at.desc(), PublicNotice.id.desc())
        )
    ]
    query = (
        select(PointRecord)
        .options(joinedload(PointRecord.rule), joinedload(PointRecord.person))
        .join(PublicNotice, PublicNotice.id == PointRecord.notice_id)
        .where(PublicNotice.organisation_id == village.id, PublicNotice.closes_at > now)
        .order_by(PublicNotice.opens_at.desc(), PublicNotice.id.desc(), PointRecord.id)
    )
    name = (search or "").strip()[:50]
    if name:
        matches = select(Person.id).where(Person.name.contains(name, autoescape=True))
        if not full_names:
            # Only what the page shows can be found: the whole name of those who agreed to
            # show it, the surname alone of the others.
            shown: ColumnElement[bool] = Person.id.in_(consenting_people(PUBLIC_NAME))
            if len(name) == 1:
                shown = or_(
                    shown, (func.substr(Person.name, 1, 1) == name) & (func.length(Person.name) > 1)
                )
            matches = matches.where(shown)
        query = query.where(PointRecord.person_id.in_(matches))
    records = numbered_page(session, query, page, BOARD_PER_PAGE)
    return NoticeBoard(
        notices=open_notices,
        records=records,
        names=shown_names(session, list(records.items), full_names=full_names),
    )


def raise_objection(
    session: Session, actor: Principal, village: Organisation, record: PointRecord, reason: str
) -> Objection:
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


def objections(
    session: Session, village: Organisation, status: str | None = None
) -> list[Objection]:
    query = select(Objection).where(Objection.organisation_id == village.id)
    if status:
        query = query.where(Objection.status == status)
    return list(session.scalars(query.order_by(Objection.id.desc()).limit(500)))


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
    *,
    uphold: bool,
    answer: str,
    adjusted_points: int | None = None,
) -> Objection:
    """The committee answers in writing. Upheld: the record's points become `adjusted_points`
    (0, or none given, strikes the record out)."""
    if (
        not can(session, actor, PointsPerm.MANAGE, village)
        or objection.organisation_id != village.id
    ):
        raise NotFound()
    if objection.status != ObjectionStatus.open:
        raise Conflict(N_("This objection has already been decided"))
    answer = clean_text(answer, "answer", max_length=2000)
    record = get_record(session, village, objection.record_id)
    if actor.person_id == record.person_id:
        raise PermissionDenied(N_("You cannot decide an objection to your own record"))
    points = (adjusted_points or 0) if uphold else 0
    # An adjustment keeps the record's sign, which no decision changes.
    if points and (abs(points) > MAX_POINTS or (points > 0) != (record.points > 0)):
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
        "points.objection.decided",
        {"objection_id": objection.id, "record_id": record.id, "upheld": uphold},
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


# --- settlement and corrections ---------------------------------------------------------------


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
                    "points.notice.settled",
                    {"notice_id": notice_id, "village_id": village_id},
                )
    return report


def lock_village(session: Session, village_id: int) -> RuleCatalogue:
    """Serialises the village's balance-moving work (settlement, redemptions, rollover,
    corrections). The catalogue returned is read after the wait (`current_period` as the
    previous holder left it), not the copy the session may have loaded before."""
    catalogue = session.scalar(
        select(RuleCatalogue)
        .where(RuleCatalogue.organisation_id == village_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if catalogue is None:
        raise NotFound()
    return catalogue


def _settle_village(
    session: Session, village_id: int, notice_ids: list[int], now: datetime
) -> tuple[int, int]:
    catalogue = session.scalar(
        select(RuleCatalogue).where(RuleCatalogue.organisation_id == village_id)
    )
    assert catalogue is not None
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
        assert account is not None
        found[key] = account.id
    return found


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
    session: Session, actor: Principal, village: Organisation, record: PointRecord, reason: str
) -> PointRecord:
    """A settled record found wrong later: reversed by an entry, never edited."""
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


# --- periods: base points and resets ----------------------------------------------------------


def roll_periods(session: Session, day: date | None = None) -> int:
    """At the start of each scoring period: reset balances (if the village resets) and grant
    base points. Runs once per village and period (`current_period` remembers)."""
    day = day or today_local()
    done = 0
    for catalogue in session.scalars(select(RuleCatalogue).order_by(RuleCatalogue.id)).all():
        period = catalogue.reset_period if catalogue.reset_period != ResetPeriod.none else "year"
        key = period_key(period, day)
        if catalogue.current_period == key:
            continue
        lock_village(session, catalogue.organisation_id)
        if catalogue.current_period == key:
            continue  # another run (a second worker) rolled it while this one waited
        first_run = catalogue.current_period == ""
        keys = _period_holders(session, catalogue)
        accounts = _accounts_for_keys(session, catalogue.organisation_id, keys)
        for account_id in sorted(accounts.values()):
            if catalogue.reset_period != ResetPeriod.none and not first_run:
                balance = session.scalar(
                    select(PointsAccount.balance).where(PointsAccount.id == account_id)
                )
                if balance:
                    post_entry(
                        session,
                        account_id,
                        catalogue.organisation_id,
                        -balance,
                        EntryKind.reset,
                        actor=SYSTEM,
                        note=f"period {key}",
                    )
            if catalogue.base_points:
                post_entry(
                    session,
                    account_id,
                    catalogue.organisation_id,
                    catalogue.base_points,
                    EntryKind.base,
                    actor=SYSTEM,
                    note=f"period {key}",
                )
        audit.record(
            session,
            SYSTEM,
            "points.period.roll",
            "points_catalogue",
            catalogue.id,
            before={"period": catalogue.current_period},
            after={"period": key, "accounts": len(accounts), "base": catalogue.base_points},
        )
        catalogue.current_period = key
        done += 1
    return done


def _period_holders(session: Session, catalogue: RuleCatalogue) -> set[str]:
    if catalogue.account_unit == AccountUnit.household:
        ids = session.scalars(
            select(Household.id).where(Household.organisation_id == catalogue.organisation_id)
        )
        return {f"h:{i}" for i in ids}
    ids = session.scalars(
        select(Membership.person_id).where(Membership.organisation_id == catalogue.organisation_id)
    )
    return {f"p:{i}" for i in ids}


# --- volunteer hours ---------------------------------------------------------------------------


def record_volunteer_hours(session: Session, payload: dict[str, Any]) -> list[PointRecord]:
    """Verified volunteer service becomes a pending points record in each village that has
    chosen a rule for it (rule points × whole hours), approved like any other record. The
    verifying organiser is its reporter; caps and household files apply as usual (a record
    that would break them is skipped, not forced)."""
    person_id = int(payload["person_id"])
    hours = int(payload["minutes"]) // 60
    if hours < 1:
        return []
    served_on = date.fromisoformat(str(payload["served_on"]))
    reporter = int(payload.get("verified_by") or person_id)
    made = []
    villages = session.scalars(
        select(Organisation)
        .join(Membership, Membership.organisation_id == Organisation.id)
        .join(RuleCatalogue, RuleCatalogue.organisation_id == Organisation.id)
        .where(Membership.person_id == person_id, RuleCatalogue.volunteer_rule_code != "")
    ).all()
    if not villages:
        return []
    # Two shifts verified at once are two messages that workers handle side by side: each
    # counts the caps under the villager's lock, as a submitted record does (`_lock_members`).
    # The villager's villages all at once, before the first audit entry: that entry holds the
    # audit chain's lock until commit, and a membership lock waited for after it could
    # deadlock with a record being submitted in the next village.
    session.execute(
        select(Membership.id)
        .where(
            Membership.person_id == person_id,
            Membership.organisation_id.in_(sorted(v.id for v in villages)),
        )
        .order_by(Membership.id)
        .with_for_update()
    )
    for village in villages:
        catalogue = get_catalogue(session, village)
        rule = session.scalar(
            select(PointRule).where(
                PointRule.catalogue_id == catalogue.id,
                PointRule.code == catalogue.volunteer_rule_code,
                PointRule.is_current.is_(True),
                PointRule.active.is_(True),
            )
        )
        household = household_of(session, village.id, person_id)
        if rule is None or (catalogue.account_unit == AccountUnit.household and not household):
            continue
        if rule.cap_count is not None and (
            _counted_against_cap(session, rule, person_id, served_on) >= rule.cap_count
        ):
            continue
        record = _new_record(
            village,
            Principal(person_id=reporter, name="volunteer"),
            rule,
            household,
            RecordRequest(
                rule.code,
                person_id,
                served_on,
                f"志愿服务 {hours} 小时（服务记录 {payload.get('signup_id')}）",
            ),
            None,
        )
        record.points = record.original_points = rule.points * hours
        session.add(record)
        session.flush()
        audit.record(
            session,
            SYSTEM,
            "points.record.volunteer_hours",
            "points_record",
            record.id,
            after=audit.snapshot(record, RECORD_AUDIT_FIELDS),
        )
        made.append(record)
    return made
