"""People: registration, profile, consents, and what others may see of them."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from gongchuang.config import get_settings
from gongchuang.core import audit
from gongchuang.core.auth import revoke_other_sessions
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.identity import (
    is_valid_phone,
    is_valid_resident_id,
    mask_phone,
    mask_resident_id,
    normalise_phone,
)
from gongchuang.core.models import ConsentRecord, Membership, Organisation, Person
from gongchuang.core.passwords import hash_password, verify_password
from gongchuang.core.permissions import CorePerm, Principal, has_permission
from gongchuang.core.text import clean_text

CONSENT_PURPOSES = {
    "privacy_policy": N_("Privacy policy and terms of use"),
    "location_for_matching": N_("Use my location, only while on duty, to match me to nearby needs"),
    "sms_notifications": N_("Send me text messages about my activities"),
    "public_name": N_("Show my name on public notices"),
}


def register_consent_purpose(code: str, label: str) -> None:
    """A domain declares a purpose it asks consent for (shown on the profile page)."""
    CONSENT_PURPOSES.setdefault(code, label)


MIN_PASSWORD_LENGTH = 8
SELF_REGISTRATION = Principal(person_id=None, name="self-registration", via="registration")


def resident_id_hash(number: str) -> str:
    """Keyed hash, so the table cannot be reversed by hashing all possible ID numbers."""
    key = get_settings().secret_key.encode()
    return hmac.new(key, number.strip().upper().encode(), hashlib.sha256).hexdigest()


def validate_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            N_("The password must be at least %(n)s characters long"),
            n=MIN_PASSWORD_LENGTH,
            errors=[{"field": "password", "message": N_("Please choose a longer password.")}],
        )


def register_person(
    session: Session,
    actor: Principal,
    *,
    name: str,
    phone: str,
    password: str | None = None,
    resident_id: str | None = None,
    home_region_id: int | None = None,
    is_platform_admin: bool = False,
) -> Person:
    phone = normalise_phone(phone)
    errors = []
    try:
        name = clean_text(name, "name", max_length=100)
    except InvalidInput as exc:
        errors += exc.errors
    if not is_valid_phone(phone):
        errors.append(
            {"field": "phone", "message": N_("Please enter an 11-digit mainland mobile number.")}
        )
    if resident_id and not is_valid_resident_id(resident_id):
        errors.append(
            {
                "field": "resident_id",
                "message": N_("This ID number is not valid: please check its digits."),
            }
        )
    if errors:
        raise InvalidInput(errors=errors)
    if password is not None:
        validate_password(password)
    if session.scalar(select(Person.id).where(Person.phone == phone)) is not None:
        raise Conflict(
            N_("This phone number is already registered"),
            errors=[
                {"field": "phone", "message": N_("This number is registered already: log in.")}
            ],
        )
    id_hash = resident_id_hash(resident_id) if resident_id else None
    if id_hash and session.scalar(select(Person.id).where(Person.id_number_hash == id_hash)):
        raise Conflict(
            N_("This resident ID number is already registered"),
            errors=[{"field": "resident_id", "message": N_("This ID number is registered.")}],
        )
    person = Person(
        name=name,
        phone=phone,
        password_hash=hash_password(password) if password else None,
        id_number_hash=id_hash,
        id_number_masked=mask_resident_id(resident_id) if resident_id else None,
        home_region_id=home_region_id,
        is_platform_admin=is_platform_admin,
    )
    session.add(person)
    session.flush()
    audit.record(
        session,
        actor,
        "person.register",
        "person",
        person.id,
        after={"phone": mask_phone(phone), "admin": is_platform_admin},
    )
    return person


def register_self(
    session: Session,
    *,
    name: str,
    phone: str,
    password: str,
    accept_privacy_policy: bool,
    resident_id: str | None = None,
    home_region_id: int | None = None,
) -> Person:
    """A person signs up: consent to the privacy policy is required and recorded (PIPL)."""
    if not accept_privacy_policy:
        raise InvalidInput(
            N_("Please read and accept the privacy policy to register"),
            errors=[
                {
                    "field": "accept_privacy_policy",
                    "message": N_("Please tick this box to accept the notice and the terms."),
                }
            ],
        )
    person = register_person(
        session,
        SELF_REGISTRATION,
        name=name,
        phone=phone,
        password=password,
        resident_id=(resident_id or "").strip() or None,
        home_region_id=home_region_id,
    )
    owner = Principal(person_id=person.id, name=person.name, via="registration")
    set_consent(session, owner, person, "privacy_policy", True)
    return person


def get_person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None or not person.is_active:
        raise NotFound()
    return person


def get_person_by_phone(session: Session, phone: str) -> Person:
    person = session.scalar(select(Person).where(Person.phone == normalise_phone(phone)))
    if person is None or not person.is_active:
        raise InvalidInput(
            N_("No one is registered with this phone number"),
            errors=[{"field": "phone", "message": N_("not registered")}],
        )
    return person


def can_see_contact(session: Session, viewer: Principal, person: Person) -> bool:
    """The owner, a platform admin, or staff holding person.view_contact in one of the
    person's organisations may see the full phone number."""
    if viewer.person_id == person.id:
        return True
    if not viewer.is_authenticated:
        return False
    if viewer.is_platform_admin and viewer.scope_allows(CorePerm.PERSON_VIEW_CONTACT):
        return True
    orgs = session.scalars(
        select(Organisation)
        .join(Membership, Membership.organisation_id == Organisation.id)
        .where(Membership.person_id == person.id)
    ).all()
    return any(has_permission(session, viewer, CorePerm.PERSON_VIEW_CONTACT, o) for o in orgs)


def get_person_for(session: Session, viewer: Principal, person_id: int) -> Person:
    """Fetch and check: a person is visible to themselves, to people who share an organisation
    with them, and to administrators; to anyone else they do not exist (no name enumeration)."""
    person = session.get(Person, person_id)
    if person is None or not person.is_active or not viewer.is_authenticated:
        raise NotFound()
    if viewer.person_id == person.id or viewer.is_platform_admin:
        return person
    theirs = set(
        session.scalars(select(Membership.organisation_id).where(Membership.person_id == person.id))
    )
    mine = set(
        session.scalars(
            select(Membership.organisation_id).where(Membership.person_id == viewer.person_id)
        )
    )
    if theirs & mine or can_see_contact(session, viewer, person):
        return person
    raise NotFound()


@dataclass
class PersonView:
    id: int
    name: str
    phone: str
    phone_is_masked: bool
    resident_id: str | None


def view_person(session: Session, viewer: Principal, person: Person) -> PersonView:
    full = can_see_contact(session, viewer, person)
    return PersonView(
        id=person.id,
        name=person.name,
        phone=person.phone if full else mask_phone(person.phone),
        phone_is_masked=not full,
        resident_id=person.id_number_masked if full else None,
    )


def views_within(
    session: Session, viewer: Principal, organisation: Organisation, members: list[Person]
) -> list[PersonView]:
    """How the members of one organisation appear in its member list: full contacts for its
    staff holding person.view_contact, masked for everyone else (except oneself). One
    permission check for the whole list, not one per member."""
    full = has_permission(session, viewer, CorePerm.PERSON_VIEW_CONTACT, organisation)
    views = []
    for person in members:
        shown = full or person.id == viewer.person_id
        views.append(
            PersonView(
                id=person.id,
                name=person.name,
                phone=person.phone if shown else mask_phone(person.phone),
                phone_is_masked=not shown,
                resident_id=person.id_number_masked if shown else None,
            )
        )
    return views


def set_consent(
    session: Session, actor: Principal, person: Person, purpose: str, granted: bool
) -> ConsentRecord:
    if purpose not in CONSENT_PURPOSES:
        raise InvalidInput(N_("Unknown consent purpose: %(purpose)s"), purpose=purpose)
    record = ConsentRecord(person_id=person.id, purpose=purpose, granted=granted)
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor,
        "person.consent",
        "person",
        person.id,
        after={"purpose": purpose, "granted": granted},
    )
    return record


def current_consents(session: Session, person_id: int) -> dict[str, tuple[bool, datetime]]:
    rows = session.scalars(
        select(ConsentRecord).where(ConsentRecord.person_id == person_id).order_by(ConsentRecord.id)
    ).all()
    return {r.purpose: (r.granted, r.recorded_at) for r in rows}


def has_consent(session: Session, person_id: int, purpose: str) -> bool:
    state = current_consents(session, person_id).get(purpose)
    return bool(state and state[0])


def consenting_people(purpose: str) -> Select[int]:
    """The ids of the people whose latest word on `purpose` is yes, as a subquery."""
    latest = (
        select(func.max(ConsentRecord.id))
        .where(ConsentRecord.purpose == purpose)
        .group_by(ConsentRecord.person_id)
    )
    return select(ConsentRecord.person_id).where(
        ConsentRecord.id.in_(latest), ConsentRecord.granted.is_(True)
    )


def consenting(session: Session, person_ids: Iterable[int], purpose: str) -> set[int]:
    """Which of these people currently consent to `purpose`, in one query."""
    ids = set(person_ids)
    if not ids:
        return set()
    query = consenting_people(purpose).where(ConsentRecord.person_id.in_(ids))
    return set(session.scalars(query))


def update_profile(session: Session, actor: Principal, person: Person, *, name: str) -> Person:
    name = clean_text(name, "name", max_length=100)
    person.name = name
    audit.record(session, actor, "person.update", "person", person.id, after={"changed": ["name"]})
    return person


def confirm_password(person: Person, password: str) -> None:
    if not person.password_hash or not verify_password(person.password_hash, password):
        raise InvalidInput(
            N_("The current password is not correct"),
            errors=[{"field": "password", "message": N_("incorrect")}],
        )


def change_password(
    session: Session,
    actor: Principal,
    person: Person,
    current: str,
    new: str,
    *,
    keep_session: str | None = None,
) -> None:
    """Change the password and sign out every other browser session of this person."""
    confirm_password(person, current)
    validate_password(new)
    person.password_hash = hash_password(new)
    signed_out = revoke_other_sessions(session, person.id, keep_session)
    audit.record(
        session,
        actor,
        "person.change_password",
        "person",
        person.id,
        after={"other_sessions_signed_out": signed_out},
    )


ERASED_NAME = "已注销用户"


def export_personal_data(session: Session, person: Person) -> dict[str, object]:
    """Everything the platform core holds about a person (PIPL art. 45: access and copy)."""
    from gongchuang.core.models import AuditEntry, Credential, Notification

    memberships = session.scalars(select(Membership).where(Membership.person_id == person.id)).all()
    orgs = {
        o.id: o.name
        for o in session.scalars(
            select(Organisation).where(
                Organisation.id.in_([m.organisation_id for m in memberships])
            )
        )
    }
    consents = session.scalars(
        select(ConsentRecord).where(ConsentRecord.person_id == person.id).order_by(ConsentRecord.id)
    ).all()
    credentials = session.scalars(select(Credential).where(Credential.person_id == person.id))
    notes = session.scalars(
        select(Notification).where(Notification.person_id == person.id).order_by(Notification.id)
    )
    trail = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.object_type == "person", AuditEntry.object_id == str(person.id))
        .order_by(AuditEntry.id)
    )
    return audit._jsonable(
        {
            "profile": {
                "id": person.id,
                "name": person.name,
                "phone": person.phone,
                "resident_id": person.id_number_masked,
                "created_at": person.created_at,
                "last_login_at": person.last_login_at,
            },
            "consents": [
                {"purpose": c.purpose, "granted": c.granted, "at": c.recorded_at} for c in consents
            ],
            "memberships": [
                {
                    "organisation": orgs.get(m.organisation_id),
                    "roles": m.roles,
                    "title": m.title,
                    "joined_at": m.joined_at,
                }
                for m in memberships
            ],
            "credentials": [
                {
                    "kind": c.kind,
                    "title": c.title,
                    "certificate_no": c.certificate_no,
                    "valid_from": c.valid_from,
                    "valid_until": c.valid_until,
                    "revoked_at": c.revoked_at,
                }
                for c in credentials
            ],
            "notifications": [
                {
                    "kind": n.kind,
                    "title": n.title,
                    "params": n.params,
                    "created_at": n.created_at,
                    "read_at": n.read_at,
                }
                for n in notes
            ],
            "audit_trail": [
                {"action": e.action, "at": e.occurred_at, "by": e.actor_label} for e in trail
            ],
        }
    )


def erase_person(session: Session, actor: Principal, person: Person) -> None:
    """Close an account (PIPL art. 47). Identifying data is erased; records that others rely
    on (ledgers, audit) keep only the anonymous person id. Consents are withdrawn, sessions and
    tokens revoked, memberships ended."""
    from gongchuang.core.models import ApiToken, PushSubscription, WebSession

    now = utcnow()
    for purpose, (granted, _at) in current_consents(session, person.id).items():
        if granted:
            session.add(ConsentRecord(person_id=person.id, purpose=purpose, granted=False))
    for membership in session.scalars(select(Membership).where(Membership.person_id == person.id)):
        audit.record(
            session,
            actor,
            "membership.remove",
            "membership",
            membership.id,
            before={"person_id": person.id, "roles": list(membership.roles)},
            after={"reason": "account closed"},
        )
        session.delete(membership)
    for web_session in session.scalars(
        select(WebSession).where(WebSession.person_id == person.id, WebSession.revoked_at.is_(None))
    ):
        web_session.revoked_at = now
    for token in session.scalars(
        select(ApiToken).where(ApiToken.person_id == person.id, ApiToken.revoked_at.is_(None))
    ):
        token.revoked_at = now
    for subscription in session.scalars(
        select(PushSubscription).where(PushSubscription.person_id == person.id)
    ):
        session.delete(subscription)
    person.name = ERASED_NAME
    person.phone = f"erased-{person.id}"
    person.password_hash = None
    person.id_number_hash = None
    person.id_number_masked = None
    person.is_active = False
    person.is_platform_admin = False
    session.flush()
    audit.record(
        session,
        actor,
        "person.erase",
        "person",
        person.id,
        after={"reason": "account closed at the person's request"},
    )
