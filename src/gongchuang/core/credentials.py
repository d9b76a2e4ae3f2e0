"""The credential registry: certificates people hold (first aid ...), issued by organisations.

Training issues credentials here; emergency and volunteer modules read them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, joinedload

from gongchuang.core import audit, events, jobs, notifications
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import InvalidInput, NotFound
from gongchuang.core.i18n import N_, Phrase
from gongchuang.core.models import Credential, Job, Organisation, Person, StoredFile
from gongchuang.core.permissions import CorePerm, Principal, has_permission
from gongchuang.core.topics import (
    CORE_TOPICS,
    CredentialExpiring,
    CredentialIssued,
    CredentialRevoked,
)

for _topic in CORE_TOPICS:
    events.register_topic(_topic)
jobs.register_periodic("credential.remind_renewal", 6 * 3600)
# Days before expiry at which the holder is reminded to renew (a refresher course takes time).
RENEWAL_REMINDER_DAYS = (60, 7)

CREDENTIAL_KINDS = {
    "first_aid": N_("First-aid certificate"),
    "aed_operator": N_("AED operator"),
    "volunteer_training": N_("Volunteer training"),
    "vocational": N_("Vocational skill certificate"),
}


def issue_credential(
    session: Session,
    actor: Principal,
    issuer: Organisation,
    person: Person,
    *,
    kind: str,
    title: str,
    certificate_no: str,
    valid_from: datetime,
    valid_until: datetime | None,
    evidence_file_id: int | None = None,
) -> Credential:
    if not has_permission(session, actor, CorePerm.CREDENTIAL_ISSUE, issuer):
        raise NotFound()
    errors = []
    if kind not in CREDENTIAL_KINDS:
        errors.append(
            {"field": "kind", "message": Phrase(N_("unknown kind %(kind)s"), kind=repr(kind))}
        )
    if not (title or "").strip():
        errors.append({"field": "title", "message": N_("required")})
    if not (certificate_no or "").strip():
        errors.append({"field": "certificate_no", "message": N_("required")})
    if valid_until is not None and valid_until <= valid_from:
        errors.append(
            {"field": "valid_until", "message": N_("must be after the date it is valid from")}
        )
    if evidence_file_id is not None:
        evidence = session.get(StoredFile, evidence_file_id)
        if evidence is None or not (
            actor.is_platform_admin or evidence.uploader_person_id == actor.person_id
        ):
            errors.append({"field": "evidence_file_id", "message": N_("not a file you uploaded")})
    if errors:
        raise InvalidInput(errors=errors)
    credential = Credential(
        person_id=person.id,
        kind=kind,
        title=title.strip(),
        issuer_organisation_id=issuer.id,
        certificate_no=certificate_no.strip(),
        valid_from=valid_from,
        valid_until=valid_until,
        evidence_file_id=evidence_file_id,
    )
    session.add(credential)
    session.flush()
    audit.record(
        session,
        actor,
        "credential.issue",
        "credential",
        credential.id,
        after={
            "person_id": person.id,
            "kind": kind,
            "issuer": issuer.id,
            "valid_until": valid_until,
        },
    )
    events.publish(
        session,
        CredentialIssued(
            credential_id=credential.id, person_id=person.id, kind=kind, organisation_id=issuer.id
        ),
    )
    notifications.notify(
        session,
        person.id,
        kind="credential.issued",
        title=N_("You received a credential: %(title)s"),
        params={"title": credential.title},
        link="/me",
    )
    return credential


def revoke_credential(
    session: Session, actor: Principal, credential_id: int, reason: str
) -> Credential:
    credential = session.get(Credential, credential_id)
    issuer = session.get(Organisation, credential.issuer_organisation_id) if credential else None
    if (
        credential is None
        or issuer is None
        or not has_permission(session, actor, CorePerm.CREDENTIAL_ISSUE, issuer)
    ):
        raise NotFound()
    if not (reason or "").strip():
        raise InvalidInput(
            N_("Give a reason for revoking"),
            errors=[{"field": "reason", "message": N_("required")}],
        )
    if credential.revoked_at is None:
        credential.revoked_at = utcnow()
        credential.revoked_reason = reason.strip()[:500]
        audit.record(
            session,
            actor,
            "credential.revoke",
            "credential",
            credential.id,
            after={"reason": credential.revoked_reason},
        )
        events.publish(
            session,
            CredentialRevoked(
                credential_id=credential.id,
                person_id=credential.person_id,
                organisation_id=issuer.id,
            ),
        )
    return credential


def credentials_of(session: Session, person_id: int) -> list[Credential]:
    return list(
        session.scalars(
            select(Credential)
            .options(joinedload(Credential.issuer))
            .where(Credential.person_id == person_id)
            .order_by(Credential.valid_from.desc())
        )
    )


def issued_by(session: Session, organisation_id: int, limit: int = 50) -> list[Credential]:
    return list(
        session.scalars(
            select(Credential)
            .options(joinedload(Credential.person))
            .where(Credential.issuer_organisation_id == organisation_id)
            .order_by(Credential.id.desc())
            .limit(limit)
        )
    )


def _valid(kind: str, moment: datetime | None) -> list[ColumnElement[bool]]:
    moment = moment or utcnow()
    return [
        Credential.kind == kind,
        Credential.revoked_at.is_(None),
        Credential.valid_from <= moment,
        or_(Credential.valid_until.is_(None), Credential.valid_until > moment),
    ]


def valid_credentials(
    session: Session, kind: str, *, at: datetime | None = None, person_id: int | None = None
) -> list[Credential]:
    """Credentials of a kind valid at a moment (e.g. a volunteer activity's requirement)."""
    query = select(Credential).where(*_valid(kind, at))
    if person_id is not None:
        query = query.where(Credential.person_id == person_id)
    return list(session.scalars(query))


def holders(
    session: Session, kind: str, person_ids: list[int], *, at: datetime | None = None
) -> set[int]:
    """Which of these people hold a valid credential of the kind (one query for many)."""
    if not person_ids:
        return set()
    return set(
        session.scalars(
            select(Credential.person_id).where(
                Credential.person_id.in_(person_ids), *_valid(kind, at)
            )
        )
    )


def remind_renewals(session: Session, now: datetime | None = None) -> int:
    """Remind holders whose credential expires within 60 and again within 7 days, once each;
    a holder who already holds a newer valid credential of the kind has renewed and is left be.
    Published as `credential.expiring` too, so a training module can point to a course."""
    now = now or utcnow()
    sent = 0
    horizon = now + timedelta(days=max(RENEWAL_REMINDER_DAYS))
    expiring = session.scalars(
        select(Credential).where(
            Credential.revoked_at.is_(None),
            Credential.valid_until.is_not(None),
            Credential.valid_until > now,
            Credential.valid_until <= horizon,
        )
    ).all()
    for credential in expiring:
        if credential.valid_until is None:  # never expires; the query leaves these out
            continue
        renewed = session.scalar(
            select(Credential.id).where(
                Credential.person_id == credential.person_id,
                Credential.id != credential.id,
                *_valid(credential.kind, now),
                or_(
                    Credential.valid_until.is_(None),
                    Credential.valid_until > credential.valid_until,
                ),
            )
        )
        if renewed is not None:
            continue
        days_left = (credential.valid_until - now).days
        due = [
            d
            for d in RENEWAL_REMINDER_DAYS
            if days_left < d and str(d) not in (credential.reminders_sent or [])
        ]
        if not due:
            continue
        credential.reminders_sent = [*(credential.reminders_sent or []), *(str(d) for d in due)]
        notifications.notify(
            session,
            credential.person_id,
            kind="credential.expiring",
            title=N_("Your %(title)s expires in %(days)s days: renew it in time"),
            params={"title": credential.title, "days": days_left},
            link="/me",
            channels=("sms",),
        )
        events.publish(
            session,
            CredentialExpiring(
                credential_id=credential.id,
                person_id=credential.person_id,
                kind=credential.kind,
                valid_until=credential.valid_until,
                organisation_id=credential.issuer_organisation_id,
            ),
        )
        sent += 1
    return sent


@jobs.job_handler("credential.remind_renewal", lease_seconds=600)
def _remind_renewal(session: Session, job: Job) -> None:
    remind_renewals(session)
