"""Links to the rest of the platform: first-aid holders among an organisation's volunteers,
invited into the emergency responder network (through an event).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.core import audit, credentials, events, notifications
from gongchuang.core.errors import InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.models import Organisation, Person
from gongchuang.core.permissions import Principal
from gongchuang.topics.volunteer import ResponderInvited
from gongchuang.volunteer.models import Activity, Shift, Signup, SignupStatus
from gongchuang.volunteer.service._common import can_manage


def first_aiders(session: Session, actor: Principal, organisation: Organisation) -> list[Person]:
    """Volunteers of the organisation's activities holding a valid first-aid credential."""
    if not can_manage(session, actor, organisation):
        raise NotFound()
    volunteer_ids = set(
        session.scalars(
            select(Signup.person_id)
            .join(Shift, Shift.id == Signup.shift_id)
            .join(Activity, Activity.id == Shift.activity_id)
            .where(
                Activity.organisation_id == organisation.id,
                Signup.status == SignupStatus.verified,
            )
        )
    )
    holders = {c.person_id for c in credentials.valid_credentials(session, "first_aid")}
    ids = sorted(volunteer_ids & holders)
    return list(session.scalars(select(Person).where(Person.id.in_(ids)).order_by(Person.name)))


def invite_responders(
    session: Session, actor: Principal, organisation: Organisation, person_ids: list[int]
) -> int:
    """Ask first-aid holders to join the emergency responder network; the emergency module
    picks the invitation up from the event (the volunteer decides there, with consent)."""
    allowed = {p.id for p in first_aiders(session, actor, organisation)}
    chosen = [p for p in dict.fromkeys(person_ids) if p in allowed]
    if not chosen:
        raise InvalidInput(N_("Choose volunteers who hold a valid first-aid certificate"))
    for person_id in chosen:
        notifications.notify(
            session,
            person_id,
            kind="volunteer.responder_invite",
            title=N_("You are invited to join the first-aid responder network"),
            body=organisation.name,
            link="/volunteer",
        )
        events.publish(
            session, ResponderInvited(person_id=person_id, organisation_id=organisation.id)
        )
    audit.record(
        session,
        actor,
        "volunteer.responder.invite",
        "organisation",
        organisation.id,
        after={"people": chosen},
    )
    return len(chosen)
