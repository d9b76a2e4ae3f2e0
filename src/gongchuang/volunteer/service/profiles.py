"""Volunteer profiles and e-cards: registering, what is kept with consent (the home location
only for matching), the real-name mark and the card anyone can verify.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from gongchuang.config import get_settings
from gongchuang.core import audit, geo, people
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import InvalidInput, NotFound, PermissionDenied
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.identity import mask_name
from gongchuang.core.models import Person, Region
from gongchuang.core.permissions import Principal
from gongchuang.core.text import clean_text
from gongchuang.volunteer.models import Volunteer
from gongchuang.volunteer.schemas import ProfileIn
from gongchuang.volunteer.service._common import local_day, not_an_option
from gongchuang.volunteer.service.stars import star_level, total_minutes
from gongchuang.volunteer.service.vocabulary import AVAILABILITY, CATEGORIES, SKILLS

LOCATION_PURPOSE = "volunteer_location"
SERVICE_PURPOSE = "volunteer_service"
# What the person consents to, in their words (the manifest declares them to the platform).
CONSENT_PURPOSES = {
    SERVICE_PURPOSE: N_("Keep my volunteer profile to offer me activities and record my hours"),
    LOCATION_PURPOSE: N_("Keep my home location to suggest volunteer activities near me"),
}


def home_point(session: Session, volunteer: Volunteer) -> geo.Point | None:
    """The volunteer's home, only while they consent to its use for matching."""
    if volunteer.home_lat is None or volunteer.home_lng is None:
        return None
    if not people.has_consent(session, volunteer.person_id, LOCATION_PURPOSE):
        return None
    return geo.Point(volunteer.home_lat, volunteer.home_lng)


def get_volunteer(session: Session, person_id: int | None) -> Volunteer | None:
    if person_id is None:
        return None
    return session.scalar(select(Volunteer).where(Volunteer.person_id == person_id))


def require_volunteer(session: Session, principal: Principal) -> Volunteer:
    volunteer = get_volunteer(session, principal.person_id)
    if volunteer is None:
        raise InvalidInput(N_("Register as a volunteer first"))
    return volunteer


def _validate_profile(session: Session, data: ProfileIn) -> dict[str, Any]:
    errors: list[dict[str, Any]] = []
    unknown = [s for s in data.skills if s not in SKILLS]
    if unknown:
        errors.append({"field": "skills", "message": not_an_option(unknown)})
    unknown = [i for i in data.interests if i not in CATEGORIES]
    if unknown:
        errors.append({"field": "interests", "message": not_an_option(unknown)})
    unknown = [a for a in data.availability if a not in AVAILABILITY]
    if unknown:
        errors.append({"field": "availability", "message": not_an_option(unknown)})
    languages = []
    for raw in data.languages[:10]:
        try:
            languages.append(clean_text(raw, "languages", max_length=30))
        except InvalidInput:
            errors.append({"field": "languages", "message": gettext("one short name each")})
    today = local_day(utcnow())
    if data.birth_date is not None and not (
        today.replace(year=today.year - 110) < data.birth_date <= today
    ):
        errors.append({"field": "birth_date", "message": gettext("not a plausible birth date")})
    region_id = None
    if data.home_region_code:
        region_id = session.scalar(select(Region.id).where(Region.code == data.home_region_code))
        if region_id is None:
            errors.append({"field": "home_region_code", "message": gettext("no such region")})
    lat = lng = None
    if data.share_location and data.home_lat is not None and data.home_lng is not None:
        point = geo.point_in_china(data.home_lat, data.home_lng, data.location_is_gcj02)
        if point is None:
            errors.append({"field": "home_lat", "message": gettext("not a place in China")})
        else:
            lat, lng = round(point.lat, 4), round(point.lng, 4)  # ~10 m is plenty to match
    if errors:
        raise InvalidInput(N_("Some of the profile is not valid; nothing was saved"), errors=errors)
    return {
        "skills": sorted(set(data.skills)),
        "interests": sorted(set(data.interests)),
        "languages": languages,
        "availability": sorted(set(data.availability)),
        "birth_date": data.birth_date,
        "home_region_id": region_id,
        "home_lat": lat,
        "home_lng": lng,
    }


PROFILE_FIELDS = ("skills", "interests", "languages", "availability", "home_region_id")


def save_profile(session: Session, actor: Principal, data: ProfileIn) -> Volunteer:
    """Register (or update) the acting person as a volunteer. Location is kept only with the
    volunteer's consent to location-based matching; withdrawing it erases the location."""
    if actor.person_id is None:
        raise PermissionDenied()
    values = _validate_profile(session, data)
    person = people.get_person(session, actor.person_id)
    volunteer = get_volunteer(session, actor.person_id)
    before = audit.snapshot(volunteer, PROFILE_FIELDS) if volunteer else None
    if volunteer is None:
        volunteer = _register(session, person)
        if volunteer is None:  # registered a moment ago by another request: update that
            volunteer = get_volunteer(session, actor.person_id)
            if volunteer is None:
                raise RuntimeError("a volunteer profile refused as a duplicate cannot be found")
            before = audit.snapshot(volunteer, PROFILE_FIELDS)
        else:
            people.set_consent(session, actor, person, SERVICE_PURPOSE, True)
    for name, value in values.items():
        setattr(volunteer, name, value)
    if people.has_consent(session, person.id, LOCATION_PURPOSE) != data.share_location:
        people.set_consent(session, actor, person, LOCATION_PURPOSE, data.share_location)
    session.flush()
    audit.record(
        session,
        actor,
        "volunteer.profile.register" if before is None else "volunteer.profile.update",
        "volunteer_profile",
        volunteer.id,
        before=before,
        after={
            **audit.snapshot(volunteer, PROFILE_FIELDS),
            "location": volunteer.home_lat is not None,
        },
    )
    return volunteer


def _register(session: Session, person: Person) -> Volunteer | None:
    """The person's new profile; None if another request of theirs made it first (the unique
    person stops this one, in a savepoint so that the request goes on)."""
    volunteer = Volunteer(person_id=person.id, card_code=secrets.token_urlsafe(12))
    try:
        with session.begin_nested():
            session.add(volunteer)
            session.flush()
    except IntegrityError:
        return None
    return volunteer


def is_real_name(person: Person) -> bool:
    """Real-name verified: a resident ID on file (checked by its GB 11643 check digit)."""
    return person.id_number_hash is not None


def card_token(volunteer: Volunteer) -> str:
    return URLSafeSerializer(get_settings().secret_key, salt="volunteer-card").dumps(
        volunteer.card_code
    )


@dataclass
class CardView:
    masked_name: str
    real_name: bool
    star: int
    hours: float
    since: date
    valid: bool


def verify_card(session: Session, token: str) -> CardView:
    try:
        code = URLSafeSerializer(get_settings().secret_key, salt="volunteer-card").loads(token)
    except BadSignature:
        raise NotFound(N_("This volunteer card is not genuine")) from None
    volunteer = session.scalar(
        select(Volunteer).options(joinedload(Volunteer.person)).where(Volunteer.card_code == code)
    )
    if volunteer is None:
        raise NotFound(N_("This volunteer card is not genuine"))
    minutes = total_minutes(session, volunteer.person_id)
    return CardView(
        masked_name=mask_name(volunteer.person.name),
        real_name=is_real_name(volunteer.person),
        star=star_level(session, minutes),
        hours=round(minutes / 60, 1),
        since=local_day(volunteer.registered_at),
        valid=volunteer.person.is_active,
    )
