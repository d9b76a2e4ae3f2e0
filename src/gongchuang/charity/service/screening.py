"""The facts the anti-gaming rules (`rules.screen`) judge a donation by, read from the
database: how new the donor's account is, how many donations came from the same device or
network address just before, whether the donor works for the charity, whether the two
charities' people give to each other, and the donor's refunds after a match.

Device and address are kept only as keyed hashes, and only to spot bursts (PIPL: the purpose
is fraud prevention of matched giving; the raw values are never stored)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from gongchuang.charity.models import Donation, DonationStatus, Match, MatchStatus, Pot, Project
from gongchuang.charity.service.rules import DEFAULT_POLICY, ScreeningFacts
from gongchuang.config import get_settings
from gongchuang.core.models import Membership, Person

# Donations from one device or address within this window count as one burst.
BURST_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class DonationOrigin:
    """Where a donation was made from, as the web layer saw it (raw; hashed before storing)."""

    device: str = ""
    address: str = ""


def origin_hash(value: str) -> str:
    if not value:
        return ""
    key = get_settings().secret_key.encode()
    return hmac.new(key, b"charity-origin:" + value.encode(), hashlib.sha256).hexdigest()[:32]


def _recent(
    session: Session,
    column: InstrumentedAttribute[str],
    value: str,
    donation: Donation,
    at: datetime,
) -> int:
    if not value:
        return 0
    return int(
        session.scalar(
            select(func.count())
            .select_from(Donation)
            .where(
                column == value,
                Donation.created_at > at - BURST_WINDOW,
                Donation.created_at <= at,
                Donation.id != donation.id,
            )
        )
        or 0
    )


def _organisations_of(session: Session, person_id: int) -> set[int]:
    return set(
        session.scalars(select(Membership.organisation_id).where(Membership.person_id == person_id))
    )


def _reciprocal(session: Session, donor_orgs: set[int], project: Project, pot: Pot) -> bool:
    """A member of the project's organisation had a match from this pot for a project of an
    organisation the donor belongs to: money going round between two charities' people."""
    if not donor_orgs:
        return False
    their_people = select(Membership.person_id).where(
        Membership.organisation_id == project.organisation_id
    )
    return (
        session.scalar(
            select(Match.id)
            .where(
                Match.pot_id == pot.id,
                Match.organisation_id.in_(donor_orgs),
                Match.donor_id.in_(their_people),
                Match.status != MatchStatus.clawed_back,
            )
            .limit(1)
        )
        is not None
    )


def facts(
    session: Session, donation: Donation, project: Project, pot: Pot, at: datetime
) -> ScreeningFacts:
    donor = session.get(Person, donation.donor_id)
    registered = donor.created_at if donor is not None else at
    donor_orgs = _organisations_of(session, donation.donor_id)
    # Donations of this donor refunded after a pot had matched them.
    refunded_after_match = int(
        session.scalar(
            select(func.count(func.distinct(Match.donation_id)))
            .join(Donation, Donation.id == Match.donation_id)
            .where(Match.donor_id == donation.donor_id, Donation.status == DonationStatus.refunded)
        )
        or 0
    )
    return ScreeningFacts(
        donation_fen=donation.amount_fen,
        account_age=at - registered,
        same_device_recent=_recent(
            session, Donation.device_hash, donation.device_hash, donation, at
        ),
        same_address_recent=_recent(
            session, Donation.address_hash, donation.address_hash, donation, at
        ),
        donor_is_charity_staff=project.organisation_id in donor_orgs,
        reciprocal=_reciprocal(session, donor_orgs, project, pot),
        refunds_after_match=refunded_after_match,
    )


POLICY = DEFAULT_POLICY
