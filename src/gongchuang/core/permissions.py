"""Permissions, roles and the principal acting in a request.

A role held in an organisation grants its permissions over that organisation and the
organisations below it; a government department's role also reaches every organisation in its
region's subtree (a county bureau oversees the county's villages). Domains register their own
permissions and extend roles at import time of their `permissions.py`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.core.i18n import N_
from gongchuang.core.models import Membership, Organisation, OrganisationKind, Region


class CorePerm(enum.StrEnum):
    ORG_VIEW_MEMBERS = "org.view_members"
    ORG_MANAGE_MEMBERS = "org.manage_members"
    ORG_MANAGE_WEBHOOKS = "org.manage_webhooks"
    PERSON_VIEW_CONTACT = "person.view_contact"
    CREDENTIAL_ISSUE = "credential.issue"
    AUDIT_VIEW = "audit.view"
    REGION_MANAGE = "region.manage"


# Scope a token may carry to read whatever its owner may read.
READ_SCOPE = "read"


@dataclass(frozen=True)
class RoleDefinition:
    code: str
    label: str
    permissions: frozenset[str]


ROLES: dict[str, RoleDefinition] = {}
KNOWN_PERMISSIONS: set[str] = {p.value for p in CorePerm}


# What every logged-in person may do for themselves (sign up, report, redeem): held without
# any role, carried by a full token, absent from a read-only one.
SELF_SERVICE: set[str] = set()


def register_permissions(perms: type[enum.StrEnum]) -> None:
    KNOWN_PERMISSIONS.update(p.value for p in perms)


# Permissions an organisation's own roles (and its parents') grant, but a government
# department's reach over its region does not: a county bureau oversees villages and NGOs, it
# does not write their rules, record their points or run their activities.
LOCAL_ONLY: set[str] = set()


def register_local_only(*perms: str) -> None:
    LOCAL_ONLY.update(perms)


# Permissions that mean something only in some kinds of organisation: an "admin" of a village
# committee holds the admin role, but runs no 120 centre and no training institution there.
# Checked against the organisation acted on, whoever acts (the platform's operators too).
KIND_LIMITED: dict[str, frozenset[str]] = {}


def register_kinds(perm: str, *kinds: str) -> None:
    KIND_LIMITED[perm] = frozenset(kinds)


def kind_allows(perm: str, kind: str) -> bool:
    allowed = KIND_LIMITED.get(perm)
    return allowed is None or kind in allowed


def register_self_service(*perms: str) -> None:
    KNOWN_PERMISSIONS.update(perms)
    SELF_SERVICE.update(perms)


def register_role(code: str, label: str, permissions: set[str] | frozenset[str]) -> None:
    """Declare a role, or add permissions to one already declared."""
    existing = ROLES.get(code)
    merged = frozenset(permissions) | (existing.permissions if existing else frozenset())
    ROLES[code] = RoleDefinition(code, existing.label if existing else label, merged)


@dataclass(frozen=True)
class Role:
    """A role as a module grants it: the same code in several modules adds up (an "admin" holds
    each module's admin permissions)."""

    code: str
    label: str  # a message id
    permissions: frozenset[str]


@dataclass(frozen=True)
class Access:
    """A module's permissions and who holds them."""

    permissions: type[enum.StrEnum]
    roles: tuple[Role, ...] = ()
    # Granted by an organisation's own roles, not by a government department's reach over it.
    local_only: tuple[str, ...] = ()
    # What every signed-in person may do for themselves.
    self_service: tuple[str, ...] = ()
    # Permissions meaningful only in some kinds of organisation: permission -> kinds.
    kinds: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


register_role("admin", N_("Administrator"), {p.value for p in CorePerm} - {"region.manage"})
register_role(
    "cadre",
    N_("Cadre"),
    {CorePerm.ORG_VIEW_MEMBERS, CorePerm.PERSON_VIEW_CONTACT, CorePerm.AUDIT_VIEW},
)
register_role("grid_worker", N_("Grid worker"), {CorePerm.ORG_VIEW_MEMBERS})
register_role("staff", N_("Staff"), {CorePerm.ORG_VIEW_MEMBERS})
register_role("trainer", N_("Trainer"), {CorePerm.CREDENTIAL_ISSUE})
register_role("department_staff", N_("Department staff"), {CorePerm.AUDIT_VIEW})
register_role("member", N_("Member"), set())


@dataclass(frozen=True)
class Grant:
    organisation_id: int
    organisation_kind: str
    region_path: str
    permissions: frozenset[str]


@dataclass
class Principal:
    """Who is acting: a person through a web session or an API token, or the system."""

    person_id: int | None
    name: str
    is_platform_admin: bool = False
    # None: a browser session may do all its person may; a token only what its scopes allow.
    scopes: frozenset[str] | None = None
    via: str = "session"
    _grants: list[Grant] | None = field(default=None, repr=False)

    @property
    def is_authenticated(self) -> bool:
        return self.person_id is not None

    @property
    def audit_label(self) -> str:
        """No names in the ledger: it can never be edited, and a closed account's name must
        go. Pages show the person's current name beside the id."""
        if self.person_id is None:
            return self.name
        return f"person#{self.person_id} ({self.via})"

    def scope_allows(self, perm: str) -> bool:
        return self.scopes is None or perm in self.scopes

    def holds_anywhere(self, perm: str) -> bool:
        """Whether some role of the person grants `perm` somewhere (for menus: what to offer).
        Reads the grants the request already loaded (`grants`)."""
        if not self.scope_allows(perm):
            return False
        if self.is_platform_admin or (self.is_authenticated and perm in SELF_SERVICE):
            return True
        return any(
            perm in g.permissions and kind_allows(perm, g.organisation_kind)
            for g in self._grants or []
        )

    def grants(self, session: Session) -> list[Grant]:
        if self._grants is None:
            self._grants = load_grants(session, self.person_id) if self.person_id else []
        return self._grants


SYSTEM = Principal(person_id=None, name="system", is_platform_admin=True, via="system")
ANONYMOUS = Principal(person_id=None, name="anonymous", via="anonymous")


def load_grants(session: Session, person_id: int) -> list[Grant]:
    rows = session.execute(
        select(Membership.organisation_id, Membership.roles, Organisation.kind, Region.path)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .join(Region, Region.id == Organisation.region_id)
        .where(Membership.person_id == person_id)
    ).all()
    grants = []
    for org_id, roles, kind, path in rows:
        perms: set[str] = set()
        for role in roles or []:
            if role in ROLES:
                perms |= ROLES[role].permissions
        grants.append(Grant(org_id, kind, path, frozenset(perms)))
    return grants


def organisation_ancestry(session: Session, organisation_id: int) -> list[int]:
    """The organisation's id followed by its ancestors' ids, nearest first."""
    chain: list[int] = []
    current: int | None = organisation_id
    while current is not None and current not in chain:
        chain.append(current)
        current = session.scalar(select(Organisation.parent_id).where(Organisation.id == current))
    return chain


def has_permission(
    session: Session, principal: Principal, perm: str, organisation: Organisation | None
) -> bool:
    if not principal.scope_allows(perm):
        return False
    if organisation is not None and not kind_allows(perm, organisation.kind):
        return False
    if principal.is_platform_admin:
        return True
    if organisation is None:
        return False
    grants = [g for g in principal.grants(session) if perm in g.permissions]
    if not grants:
        return False
    ancestry = organisation_ancestry(session, organisation.id)
    region_path = session.scalar(select(Region.path).where(Region.id == organisation.region_id))
    for grant in grants:
        if grant.organisation_id in ancestry:
            return True
        if (
            perm not in LOCAL_ONLY
            and grant.organisation_kind == OrganisationKind.government_department
            and region_path is not None
            and region_path.startswith(grant.region_path)
        ):
            return True
    return False
