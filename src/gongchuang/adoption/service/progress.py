"""The live progress of a season ("38,000 m² adopted in 30 hours") and share links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongchuang.adoption.models import HOLDING, AdoptionOrder, Offering, ShareLink
from gongchuang.adoption.service._common import new_code, public_offering
from gongchuang.adoption.service.stock import left
from gongchuang.core import live
from gongchuang.core.clock import utcnow
from gongchuang.core.permissions import Principal


def channel(offering_id: int) -> str:
    return f"adoption:offering:{offering_id}"


@dataclass(frozen=True)
class Progress:
    offering_id: int
    adopted_units: int
    adopted_m2: int
    total_units: int
    available_units: int
    adopters: int
    first_adopted_at: datetime | None

    @property
    def hours_since_first(self) -> float | None:
        if self.first_adopted_at is None:
            return None
        return round((utcnow() - self.first_adopted_at).total_seconds() / 3600, 1)

    @property
    def percent(self) -> int:
        return round(100 * self.adopted_units / self.total_units) if self.total_units else 0


def progress(session: Session, offering: Offering) -> Progress:
    adopters = (
        session.scalar(
            select(func.count(func.distinct(AdoptionOrder.adopter_id))).where(
                AdoptionOrder.offering_id == offering.id,
                AdoptionOrder.status.in_([s.value for s in HOLDING]),
            )
        )
        or 0
    )
    return Progress(
        offering_id=offering.id,
        adopted_units=offering.allocated_units,
        adopted_m2=offering.allocated_units * offering.unit_area_m2,
        total_units=offering.total_units,
        available_units=left(offering),
        adopters=adopters,
        first_adopted_at=offering.first_adopted_at,
    )


def announce_progress(session: Session, offering: Offering) -> None:
    """Tell the season's open pages (after commit) the new figures. Counted from the row this
    transaction holds locked, so the last announcement is the true one."""
    live.announce(
        session,
        channel(offering.id),
        "progress",
        {
            "adopted_units": offering.allocated_units,
            "adopted_m2": offering.allocated_units * offering.unit_area_m2,
            "available_units": left(offering),
            "total_units": offering.total_units,
        },
    )


def share_link(session: Session, actor: Principal, offering_id: int) -> ShareLink:
    """The person's link to the season (made on first asking; one per person and season)."""
    offering = public_offering(session, offering_id)
    if actor.person_id is None:
        raise LookupError("a share link needs a person")
    existing = session.scalar(
        select(ShareLink).where(
            ShareLink.offering_id == offering.id, ShareLink.owner_id == actor.person_id
        )
    )
    if existing is not None:
        return existing
    link = ShareLink(code=new_code("", 8), offering_id=offering.id, owner_id=actor.person_id)
    try:
        with session.begin_nested():
            session.add(link)
            session.flush()
    except IntegrityError:
        # Asked twice at once: the other request made it.
        made = session.scalar(
            select(ShareLink).where(
                ShareLink.offering_id == offering.id, ShareLink.owner_id == actor.person_id
            )
        )
        if made is None:
            raise
        return made
    return link


def share_url(site: str, code: str) -> str:
    """Where a share link leads (what its QR code holds), from the site's address."""
    return f"{site}/adoption/s/{code}"


def share_link_by_code(session: Session, code: str) -> ShareLink | None:
    return session.scalar(select(ShareLink).where(ShareLink.code == code))


def attributed(session: Session, link: ShareLink) -> tuple[int, int]:
    """(adoptions, units) that came through the link and were paid."""
    row = session.execute(
        select(func.count(AdoptionOrder.id), func.coalesce(func.sum(AdoptionOrder.units), 0)).where(
            AdoptionOrder.share_link_id == link.id,
            AdoptionOrder.status.in_([s.value for s in HOLDING]),
        )
    ).one()
    return int(row[0]), int(row[1])
