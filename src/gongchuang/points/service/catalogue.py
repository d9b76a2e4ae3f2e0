"""The rule catalogue of a village: set-up from a template, settings, categories and rules."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from gongchuang.core import audit
from gongchuang.core.errors import Conflict, InvalidInput, NotFound
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.models import (
    Organisation,
)
from gongchuang.core.permissions import Principal
from gongchuang.core.text import clean_text
from gongchuang.points.catalogue_templates import TEMPLATES, CatalogueTemplate
from gongchuang.points.models import (
    AccountUnit,
    PointRule,
    PointsAccount,
    RuleCatalogue,
    RuleCategory,
)
from gongchuang.points.permissions import PointsPerm
from gongchuang.points.schemas import (
    RULE_REFUSED,
    SETTINGS_REFUSED,
    CatalogueIn,
    CategoryIn,
    RuleActiveIn,
    RuleIn,
    SettingsIn,
    parse,
)
from gongchuang.points.service.access import (
    can,
)


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
    command: CatalogueIn | None = None,
    /,
    *,
    template_code: str = "",
    account_unit: str | None = None,
) -> RuleCatalogue:
    """Points set up in a village from an example catalogue (the command; or its template's
    code and the unit, as they were passed before there was one)."""
    if command is not None:
        template_code, account_unit = command.template, command.account_unit
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
        # In the creator's language; the village may rename it.
        name=gettext(N_("%(village)s points rules"), village=village.name),
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
    session: Session,
    actor: Principal,
    village: Organisation,
    command: SettingsIn | None = None,
    /,
    **changes: Any,
) -> RuleCatalogue:
    """Change the settings the command gives (those left out stay). Keywords instead of a
    command are read into one, and checked the same way."""
    if not can(session, actor, PointsPerm.MANAGE, village):
        raise NotFound()
    if command is None:
        command = parse(SettingsIn, changes, SETTINGS_REFUSED)
    catalogue = get_catalogue(session, village)
    wanted = command.model_dump(exclude_none=True)
    errors: list[dict[str, Any]] = []
    if wanted.get("account_unit", catalogue.account_unit) != catalogue.account_unit and (
        session.scalar(
            select(PointsAccount.id).where(PointsAccount.organisation_id == village.id).limit(1)
        )
    ):
        errors.append(
            {"field": "account_unit", "message": gettext("cannot change once balances exist")}
        )
    if wanted.get("volunteer_rule_code") and not session.scalar(
        select(PointRule.id).where(
            PointRule.catalogue_id == catalogue.id,
            PointRule.code == wanted["volunteer_rule_code"],
            PointRule.is_current.is_(True),
        )
    ):
        errors.append({"field": "volunteer_rule_code", "message": gettext("no such rule")})
    if errors:
        raise InvalidInput(SETTINGS_REFUSED, errors=errors)
    before = audit.snapshot(catalogue, SETTING_FIELDS)
    for name, value in wanted.items():
        setattr(catalogue, name, value)
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


RuleInput = RuleIn  # the rule command's name where it was a dataclass of this module


def _validate_rule(session: Session, catalogue: RuleCatalogue, data: RuleIn) -> dict[str, Any]:
    """The command's values for a rule row, after the checks that need the database (the
    category is this catalogue's) and the cleaning of its texts."""
    errors: list[dict[str, Any]] = []
    category = session.get(RuleCategory, data.category_id)
    if category is None or category.catalogue_id != catalogue.id:
        errors.append({"field": "category_id", "message": gettext("no such category")})
    try:
        title = clean_text(data.title, "title", max_length=200)
    except InvalidInput as exc:
        errors.append({"field": "title", "message": exc.detail()})
        title = ""
    if errors:
        raise InvalidInput(RULE_REFUSED, errors=errors)
    return {
        "category_id": data.category_id,
        "title": title,
        "description": clean_text(data.description, "description", max_length=2000, required=False),
        "points": data.points,
        "evidence_required": data.evidence_required,
        "cap_count": data.cap_count,
        "cap_period": data.cap_period,
        "reporters": list(data.reporters),
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
    session: Session, actor: Principal, village: Organisation, command: CategoryIn | str
) -> RuleCategory:
    name = command.name if isinstance(command, CategoryIn) else command
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


def add_rule(session: Session, actor: Principal, village: Organisation, data: RuleIn) -> PointRule:
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
    session: Session, actor: Principal, village: Organisation, code: str, data: RuleIn
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
    session: Session,
    actor: Principal,
    village: Organisation,
    code: str,
    command: RuleActiveIn | bool,
) -> PointRule:
    """A rule retired, or brought back."""
    active = command.active if isinstance(command, RuleActiveIn) else command
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
