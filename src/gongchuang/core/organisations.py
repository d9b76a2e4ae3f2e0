"""Organisations, memberships and roles."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from gongchuang.core import audit, live, notifications, people, spreadsheets
from gongchuang.core.clock import SHANGHAI
from gongchuang.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    refuse_bad_rows,
)
from gongchuang.core.i18n import N_, Phrase, translatable
from gongchuang.core.identity import is_valid_phone, normalise_phone
from gongchuang.core.models import Membership, Organisation, OrganisationKind, Person, Region
from gongchuang.core.permissions import (
    ROLES,
    CorePerm,
    Principal,
    has_permission,
)
from gongchuang.core.text import clean_text

ORGANISATION_KIND_LABELS = {
    OrganisationKind.village_committee: N_("Village committee"),
    OrganisationKind.residents_committee: N_("Residents' committee"),
    OrganisationKind.ngo: N_("Non-profit organisation"),
    OrganisationKind.company: N_("Company or venue"),
    OrganisationKind.school: N_("School or university"),
    OrganisationKind.hospital: N_("Hospital"),
    OrganisationKind.dispatch_centre: N_("120 dispatch centre"),
    OrganisationKind.government_department: N_("Government department"),
    OrganisationKind.platform: N_("Platform operator"),
}


def create_organisation(
    session: Session,
    actor: Principal,
    *,
    name: str,
    kind: str,
    region: Region,
    parent: Organisation | None = None,
    description: str = "",
) -> Organisation:
    errors = []
    try:
        name = clean_text(name, "name", max_length=200)
        description = clean_text(description, "description", max_length=2000, required=False)
    except InvalidInput as exc:
        errors += exc.errors
    if kind not in OrganisationKind.__members__:
        errors.append(
            {"field": "kind", "message": Phrase(N_("unknown kind %(kind)s"), kind=repr(kind))}
        )
    if errors:
        raise InvalidInput(errors=errors)
    org = Organisation(
        name=name,
        kind=kind,
        region_id=region.id,
        parent_id=parent.id if parent else None,
        description=description,
    )
    session.add(org)
    session.flush()
    audit.record(
        session,
        actor,
        "organisation.create",
        "organisation",
        org.id,
        after={"name": name, "kind": kind, "region": region.code},
    )
    return org


def _load(session: Session, organisation_id: int) -> Organisation | None:
    # A query, not session.get(): the identity map may hold it without its region loaded.
    return session.scalar(
        select(Organisation)
        .options(joinedload(Organisation.region))
        .where(Organisation.id == organisation_id)
    )


def get_organisation(session: Session, organisation_id: int) -> Organisation:
    org = _load(session, organisation_id)
    if org is None:
        raise NotFound()
    return org


def get_organisation_for(
    session: Session, principal: Principal, organisation_id: int, perm: str
) -> Organisation:
    """Fetch and check: the same NotFound for a missing organisation and a forbidden one."""
    org = _load(session, organisation_id)
    if org is None or not has_permission(session, principal, perm, org):
        raise NotFound()
    return org


def create_child_or_platform_organisation(
    session: Session,
    actor: Principal,
    *,
    name: str,
    kind: str,
    region: Region,
    parent: Organisation | None,
    description: str = "",
) -> Organisation:
    """Platform administrators create any organisation; an organisation's administrators
    create organisations below it (a federation its district teams)."""
    allowed = actor.is_platform_admin and actor.scope_allows(CorePerm.ORG_MANAGE_MEMBERS)
    if not allowed and parent is not None:
        allowed = has_permission(session, actor, CorePerm.ORG_MANAGE_MEMBERS, parent)
    if not allowed:
        raise NotFound() if parent is not None else PermissionDenied()
    organisation = create_organisation(
        session,
        actor,
        name=name,
        kind=kind,
        region=region,
        parent=parent,
        description=description,
    )
    if actor.person_id is not None and not actor.is_platform_admin:
        _record_membership(
            session,
            actor,
            organisation,
            actor.person_id,
            ["admin"],
            reason="created the organisation",
        )
    return organisation


def organisations_query(
    *, region: Region | None = None, kind: str | None = None, search: str | None = None
) -> Select[Any]:
    query = select(Organisation).options(joinedload(Organisation.region))
    if region is not None:
        query = query.join(Region, Region.id == Organisation.region_id).where(
            Region.path.startswith(region.path)
        )
    if kind:
        query = query.where(Organisation.kind == kind)
    if search and search.strip():
        query = query.where(Organisation.name.contains(search.strip(), autoescape=True))
    return query


def list_organisations(
    session: Session, *, region: Region | None = None, kind: str | None = None
) -> list[Organisation]:
    query = organisations_query(region=region, kind=kind).order_by(Organisation.id)
    return list(session.scalars(query))


def _role_labels(roles: list[str]) -> dict[str, list[str]]:
    """Roles as their labels, translated when the notification is read (never the codes)."""
    return translatable(*(ROLES[r].label if r in ROLES else r for r in roles))


def _check_roles(roles: list[str]) -> list[str]:
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise InvalidInput(
            N_("Unknown roles: %(roles)s"),
            roles=", ".join(unknown),
            errors=[
                {
                    "field": "roles",
                    "message": Phrase(N_("unknown: %(names)s"), names=", ".join(unknown)),
                }
            ],
        )
    return sorted(set(roles)) or ["member"]


def members_query(organisation: Organisation, search: str | None = None) -> Select[Any]:
    query = (
        select(Membership)
        .join(Person, Person.id == Membership.person_id)
        .options(joinedload(Membership.person))
        .where(Membership.organisation_id == organisation.id)
    )
    term = (search or "").strip()
    if term:
        query = query.where(
            or_(
                Person.name.contains(term, autoescape=True),
                Person.phone.contains(term, autoescape=True),
            )
        )
    return query


def list_members(
    session: Session, organisation: Organisation, search: str | None = None
) -> list[Membership]:
    return list(session.scalars(members_query(organisation, search).order_by(Membership.id)))


def memberships_of(session: Session, person_id: int) -> list[Membership]:
    return list(
        session.scalars(
            select(Membership)
            .options(joinedload(Membership.organisation))
            .where(Membership.person_id == person_id)
            .order_by(Membership.id)
        )
    )


def organisations_with(session: Session, principal: Principal, perm: str) -> list[Organisation]:
    """The organisations the principal belongs to and holds `perm` in (for "my …" menus)."""
    if principal.person_id is None:
        return []
    return [
        m.organisation
        for m in memberships_of(session, principal.person_id)
        if has_permission(session, principal, perm, m.organisation)
    ]


def _record_membership(
    session: Session,
    actor: Principal,
    organisation: Organisation,
    person_id: int,
    roles: list[str],
    *,
    title: str = "",
    reason: str | None = None,
) -> Membership:
    membership = Membership(
        person_id=person_id, organisation_id=organisation.id, roles=roles, title=title
    )
    try:
        # One membership per person and organisation (uq_membership_person_id): of two adds
        # at once, the second is told the person is already a member.
        with session.begin_nested():
            session.add(membership)
            session.flush()
    except IntegrityError:
        person = session.get(Person, person_id)
        if person is None or _membership_of(session, organisation, person_id) is None:
            raise
        raise Conflict(N_("%(name)s is already a member"), name=person.name) from None
    after: dict[str, object] = {
        "person_id": person_id,
        "organisation_id": organisation.id,
        "roles": roles,
    }
    if reason:
        after["reason"] = reason
    audit.record(session, actor, "membership.add", "membership", membership.id, after=after)
    return membership


def add_member(
    session: Session,
    actor: Principal,
    organisation: Organisation,
    *,
    phone: str,
    roles: list[str],
    title: str = "",
    register_name: str | None = None,
    check: bool = True,
) -> Membership:
    """Add a person, found by phone, with roles. Only org.manage_members may.

    With `register_name`, someone not yet registered is registered on the spot, without a
    password: a cadre signing up an elderly villager who has no smartphone. They can set a
    password later through a cadre; the registration is audited as the cadre's act."""
    if check and not has_permission(session, actor, CorePerm.ORG_MANAGE_MEMBERS, organisation):
        raise NotFound()
    roles = _check_roles(roles)
    person = session.scalar(select(Person).where(Person.phone == normalise_phone(phone)))
    if person is None and register_name and register_name.strip():
        person = people.register_person(
            session, actor, name=register_name, phone=phone, home_region_id=organisation.region_id
        )
    if person is None:
        raise InvalidInput(
            N_("No one is registered with this phone number. Give their name to register them."),
            errors=[{"field": "phone", "message": N_("not registered")}],
        )
    membership = _record_membership(
        session,
        actor,
        organisation,
        person.id,
        roles,
        title=clean_text(title, "title", max_length=100, required=False),
    )
    notifications.notify(
        session,
        person.id,
        kind="membership.added",
        title=N_("You joined %(organisation)s"),
        body=N_("Your roles: %(roles)s"),
        params={"organisation": organisation.name, "roles": _role_labels(roles)},
        link=f"/orgs/{organisation.id}",
    )
    live.announce(session, f"org:{organisation.id}", "members", {"count_changed": True})
    return membership


def _membership_of(session: Session, organisation: Organisation, person_id: int) -> int | None:
    return session.scalar(
        select(Membership.id).where(
            Membership.person_id == person_id, Membership.organisation_id == organisation.id
        )
    )


def _hold_administrators(
    session: Session, actor: Principal, organisation: Organisation, membership_id: int
) -> Membership:
    """Lock the organisation's row until commit, then read the membership to change, and the
    actor's own right to change it, afresh: changes to an organisation's members happen one at
    a time, each seeing the one before it (two administrators removing or demoting each other
    at once would each still count the other, and leave none; one already removed would still
    act). FOR NO KEY UPDATE, so rows that merely point at the organisation are not held up."""
    session.execute(
        select(Organisation.id)
        .where(Organisation.id == organisation.id)
        .with_for_update(key_share=True)
    )
    # The grants the request loaded before the lock may be gone by now.
    fresh = replace(actor, _grants=None)
    if not has_permission(session, fresh, CorePerm.ORG_MANAGE_MEMBERS, organisation):
        raise Conflict(N_("Your roles in %(organisation)s changed"), organisation=organisation.name)
    membership = session.get(Membership, membership_id, populate_existing=True)
    if membership is None or membership.organisation_id != organisation.id:
        raise NotFound()
    return membership


def _would_leave_no_admin(
    session: Session,
    organisation: Organisation,
    membership: Membership,
    new_roles: list[str] | None,
) -> bool:
    """Read under `_hold_administrators`: plain columns, never objects the session may hold
    from before the lock."""
    if "admin" not in membership.roles or (new_roles and "admin" in new_roles):
        return False
    others = session.scalars(
        select(Membership.roles).where(
            Membership.organisation_id == organisation.id, Membership.id != membership.id
        )
    )
    return not any("admin" in (roles or []) for roles in others)


def set_roles(
    session: Session,
    actor: Principal,
    organisation: Organisation,
    membership_id: int,
    roles: list[str],
) -> Membership:
    if not has_permission(session, actor, CorePerm.ORG_MANAGE_MEMBERS, organisation):
        raise NotFound()
    roles = _check_roles(roles)
    membership = _hold_administrators(session, actor, organisation, membership_id)
    if _would_leave_no_admin(session, organisation, membership, roles):
        raise Conflict(N_("An organisation must keep at least one administrator"))
    before = {"roles": list(membership.roles)}
    membership.roles = roles
    audit.record(
        session,
        actor,
        "membership.roles",
        "membership",
        membership.id,
        before=before,
        after={"roles": roles},
    )
    notifications.notify(
        session,
        membership.person_id,
        kind="membership.roles",
        title=N_("Your roles in %(organisation)s changed"),
        body=N_("Your roles: %(roles)s"),
        params={"organisation": organisation.name, "roles": _role_labels(roles)},
        link=f"/orgs/{organisation.id}",
    )
    return membership


def remove_member(
    session: Session, actor: Principal, organisation: Organisation, membership_id: int
) -> None:
    if not has_permission(session, actor, CorePerm.ORG_MANAGE_MEMBERS, organisation):
        raise NotFound()
    membership = _hold_administrators(session, actor, organisation, membership_id)
    if _would_leave_no_admin(session, organisation, membership, None):
        raise Conflict(N_("An organisation must keep at least one administrator"))
    audit.record(
        session,
        actor,
        "membership.remove",
        "membership",
        membership.id,
        before={"person_id": membership.person_id, "roles": list(membership.roles)},
    )
    session.delete(membership)
    session.flush()


def members_workbook(session: Session, viewer: Principal, organisation: Organisation) -> bytes:
    """The member list as an Excel workbook, masked exactly as the page shows it, in the
    same columns `import_members` reads, so a cadre can edit it and import it back."""
    from gongchuang.core.i18n import gettext

    rows = list_members(session, organisation)
    views = people.views_within(session, viewer, organisation, [m.person for m in rows])
    return spreadsheets.workbook_bytes(
        [gettext("Name"), gettext("Phone"), gettext("Title"), gettext("Roles"), gettext("Joined")],
        [
            [
                view.name,
                view.phone,
                membership.title,
                " ".join(membership.roles),
                membership.joined_at.astimezone(SHANGHAI).strftime("%Y-%m-%d"),
            ]
            for membership, view in zip(rows, views, strict=True)
        ],
        gettext("Members"),
    )


MEMBER_COLUMNS = {
    "name": ("name", "姓名"),
    "phone": ("phone", "手机号", "手机号码", "电话"),
    "title": ("title", "职务"),
    "roles": ("roles", "角色"),
}
ROLE_ALIASES = {
    "管理员": "admin",
    "村干部": "cadre",
    "网格员": "grid_worker",
    "工作人员": "staff",
    "培训师": "trainer",
    "成员": "member",
    "村民": "member",
}


@dataclass(frozen=True)
class MemberImport:
    added: int
    registered: int
    unchanged: int


def import_members(
    session: Session, actor: Principal, organisation: Organisation, data: bytes, filename: str
) -> MemberImport:
    """Add members from a spreadsheet (name, phone, title, roles). All-or-nothing: any bad row
    and nothing is stored; people not yet registered are registered without a password."""
    if not has_permission(session, actor, CorePerm.ORG_MANAGE_MEMBERS, organisation):
        raise NotFound()
    rows = spreadsheets.read_rows(data, filename, MEMBER_COLUMNS, required={"name", "phone"})
    errors: list[dict[str, object]] = []
    seen: dict[str, int] = {}
    parsed = []
    for row in rows:
        phone = normalise_phone(row.values["phone"])
        roles = [
            ROLE_ALIASES.get(r, r)
            for r in row.values.get("roles", "").replace("，", " ").replace(",", " ").split()
        ]
        problems = []
        if not row.values["name"]:
            problems.append(N_("name is empty"))
        if not is_valid_phone(phone):
            problems.append(
                Phrase(
                    N_("phone %(phone)s is not an 11-digit mobile number"),
                    phone=repr(row.values["phone"]),
                )
            )
        elif phone in seen:
            problems.append(Phrase(N_("phone repeats line %(line)s"), line=seen[phone]))
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            problems.append(Phrase(N_("unknown roles: %(roles)s"), roles=", ".join(unknown)))
        for problem in problems:
            errors.append({"line": row.line, "message": problem})
        seen.setdefault(phone, row.line)
        parsed.append((row, phone, sorted(set(roles)) or ["member"]))
    spreadsheets.name_rows(errors, rows, "phone")
    refuse_bad_rows(errors)
    existing = set(
        session.scalars(
            select(Person.phone)
            .join(Membership, Membership.person_id == Person.id)
            .where(Membership.organisation_id == organisation.id)
        )
    )
    added = registered = unchanged = 0
    for row, phone, roles in parsed:
        if phone in existing:
            unchanged += 1
            continue
        is_new = session.scalar(select(Person.id).where(Person.phone == phone)) is None
        add_member(
            session,
            actor,
            organisation,
            phone=phone,
            roles=roles,
            title=row.values.get("title", ""),
            register_name=row.values["name"],
            check=False,
        )
        added += 1
        registered += int(is_new)
    audit.record(
        session,
        actor,
        "membership.import",
        "organisation",
        organisation.id,
        after={
            "added": added,
            "registered": registered,
            "unchanged": unchanged,
            "file": filename[:100],
        },
    )
    return MemberImport(added, registered, unchanged)
