"""Who takes a quiz: a signed-in person or a guest known by a browser token, and the region
they are ranked in."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.core import regions
from gongchuang.core.errors import InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.identity import mask_name
from gongchuang.core.models import Person, Region
from gongchuang.core.permissions import Principal
from gongchuang.core.text import clean_text


@dataclass(frozen=True)
class Participant:
    key: str
    person_id: int | None
    nickname: str
    region_id: int | None
    region: Region | None = None  # when already read with the person


def person_key(person_id: int) -> str:
    return f"p:{person_id}"


def participant_for_person(
    session: Session, principal: Principal, nickname: str = ""
) -> Participant:
    if principal.person_id is None:
        raise NotFound()
    # The home region comes along (into the identity map) for the ranking region's lookup.
    row = session.execute(
        select(Person.name, Person.home_region_id, Region)
        .outerjoin(Region, Region.id == Person.home_region_id)
        .where(Person.id == principal.person_id)
    ).one()
    shown = clean_text(nickname, "nickname", max_length=20, required=False) or mask_name(row.name)
    return Participant(
        person_key(principal.person_id), principal.person_id, shown, row.home_region_id, row.Region
    )


def guest_key(guest_token: str) -> str | None:
    """A guest's participant key from their browser's random token; the token itself is never
    stored."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{20,64}", guest_token or ""):
        return None
    return "g:" + hashlib.sha256(guest_token.encode()).hexdigest()[:32]


def participant_for_guest(
    session: Session, guest_token: str, nickname: str, region_id: int | None = None
) -> Participant:
    key = guest_key(guest_token)
    if key is None:
        raise InvalidInput(N_("Your browser's quiz identity is missing: enable cookies"))
    shown = clean_text(nickname, "nickname", max_length=20)
    if region_id is not None and session.get(Region, region_id) is None:
        raise InvalidInput(
            N_("Unknown region"), errors=[{"field": "region_id", "message": N_("no such region")}]
        )
    return Participant(key, None, shown, region_id)


def new_guest_token() -> str:
    return secrets.token_urlsafe(24)


def ranking_region_of(session: Session, participant: Participant, level: str) -> int | None:
    """The region itself or its ancestor at the campaign's ranking level."""
    region = participant.region or (
        session.get(Region, participant.region_id) if participant.region_id else None
    )
    if region is None or region.level == level:
        return region.id if region else None
    ids = regions.path_ids(region.path)
    return session.scalar(select(Region.id).where(Region.id.in_(ids), Region.level == level))


def participant_key(principal: Principal, guest_token: str = "") -> str | None:
    """The key a visitor plays under: a signed-in person's own, else their browser's guest
    token's; None for a guest without one."""
    if principal.person_id:
        return person_key(principal.person_id)
    return guest_key(guest_token)
