"""The first-aid responder network: joining, going on and off duty, venues' invitations."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.core import audit, credentials, notifications, people
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.models import Organisation, Person
from gongchuang.core.permissions import SYSTEM, Principal, has_permission
from gongchuang.emergency import matching
from gongchuang.emergency.models import Responder, ResponderStatus
from gongchuang.emergency.permissions import EmergencyPerm
from gongchuang.emergency.schemas import DutyIn, StaffInvite
from gongchuang.emergency.service._common import (
    FIRST_AID,
    _clear_location,
    acting_person_id,
    member_by_phone,
    to_wgs84,
)
from gongchuang.topics.volunteer import ResponderInvited

LOCATION_PURPOSE = "emergency.responder_location"


# What the person consents to, in their words (the manifest declares them to the platform).
CONSENT_PURPOSES = {
    LOCATION_PURPOSE: N_(
        "Share my location while I am on duty as a first-aid responder, only to match me to "
        "emergencies nearby"
    ),
}


def get_responder(session: Session, person_id: int | None) -> Responder | None:
    if person_id is None:
        return None
    return session.scalar(select(Responder).where(Responder.person_id == person_id))


def holds_first_aid(session: Session, person_id: int) -> bool:
    return bool(credentials.holders(session, FIRST_AID, [person_id]))


def join_network(session: Session, actor: Principal) -> Responder:
    person_id = acting_person_id(actor)
    if not holds_first_aid(session, person_id):
        raise InvalidInput(
            N_("Only people with a valid first-aid certificate can join the responder network")
        )
    responder = get_responder(session, person_id)
    if responder is None:
        responder = Responder(person_id=person_id)
        session.add(responder)
    if responder.status != ResponderStatus.active:
        responder.status = ResponderStatus.active
        responder.joined_at = utcnow()
        session.flush()
        audit.record(
            session, actor, "emergency.responder.join", "emergency_responder", responder.id
        )
    return responder


def set_duty(session: Session, actor: Principal, command: DutyIn) -> Responder:
    """On or off duty, as the API and the responder page read it."""
    person_id = acting_person_id(actor)
    responder = get_responder(session, person_id)
    if responder is None or responder.status != ResponderStatus.active:
        raise InvalidInput(N_("Join the responder network first"))
    if not command.on_duty:
        if responder.on_duty:
            _clear_location(responder)
            audit.record(
                session, actor, "emergency.responder.off_duty", "emergency_responder", responder.id
            )
        return responder
    if not holds_first_aid(session, person_id):
        raise InvalidInput(
            N_("Your first-aid certificate is no longer valid; renew it to go on duty")
        )
    person = people.get_person(session, person_id)
    if command.consent_location:
        people.set_consent(session, actor, person, LOCATION_PURPOSE, True)
    if not people.has_consent(session, person_id, LOCATION_PURPOSE):
        raise InvalidInput(
            N_("Going on duty shares your location for matching; please agree to that first"),
            errors=[{"field": "consent_location", "message": N_("required")}],
        )
    if command.location is None:
        raise InvalidInput(
            N_("Your location is needed to go on duty"),
            errors=[{"field": "location", "message": N_("required")}],
        )
    lat, lng = to_wgs84(command.location.lat, command.location.lng, command.location.crs)
    was_on = responder.on_duty
    responder.on_duty = True
    responder.lat, responder.lng = lat, lng
    responder.duty_cell = matching.geo_cell(lat, lng)
    responder.located_at = utcnow()
    if not was_on:
        # The place itself is not written to the audit chain: it is kept only while on duty.
        audit.record(
            session, actor, "emergency.responder.on_duty", "emergency_responder", responder.id
        )
    return responder


def withdraw(session: Session, actor: Principal) -> Responder:
    responder = get_responder(session, actor.person_id)
    if responder is None:
        raise NotFound()
    _clear_location(responder)
    responder.status = ResponderStatus.withdrawn
    audit.record(
        session, actor, "emergency.responder.withdraw", "emergency_responder", responder.id
    )
    return responder


def invite(
    session: Session, actor: Principal, organisation: Organisation, person_id: int
) -> Responder:
    """A venue registers one of its staff (or a volunteer organisation invites a first-aider):
    the person still opts in themselves, since it is their location."""
    responder = get_responder(session, person_id)
    if responder is None:
        responder = Responder(person_id=person_id, organisation_id=organisation.id)
        session.add(responder)
    elif responder.organisation_id is None:
        responder.organisation_id = organisation.id
    session.flush()
    if responder.status != ResponderStatus.active:
        responder.status = ResponderStatus.invited
        notifications.notify(
            session,
            person_id,
            kind="emergency.invite",
            title=N_("You are invited to join the first-aid responder network"),
            body=organisation.name,
            link="/emergency",
        )
    audit.record(
        session,
        actor,
        "emergency.responder.invite",
        "emergency_responder",
        responder.id,
        after={"organisation_id": organisation.id},
    )
    return responder


def invite_staff(
    session: Session, actor: Principal, venue: Organisation, command: StaffInvite
) -> Responder:
    """A venue's member with a valid first-aid certificate, registered as its responder."""
    if not has_permission(session, actor, EmergencyPerm.VENUE, venue):
        raise NotFound()
    person = member_by_phone(session, venue.id, command.phone)
    if person is None:
        raise InvalidInput(
            N_("Only members of your organisation can be registered as its responders"),
            errors=[{"field": "phone", "message": N_("not a member of your organisation")}],
        )
    if not holds_first_aid(session, person.id):
        raise InvalidInput(
            N_("This person has no valid first-aid certificate"),
            errors=[{"field": "phone", "message": N_("no valid first-aid certificate")}],
        )
    return invite(session, actor, venue, person.id)


def invite_volunteer(session: Session, event: ResponderInvited) -> None:
    """A volunteer organisation's invitation (its event) becomes this network's own invitation,
    which the person accepts or not, with consent."""
    organisation = session.get(Organisation, event.organisation_id)
    if organisation is not None and session.get(Person, event.person_id) is not None:
        invite(session, SYSTEM, organisation, event.person_id)
