"""Benefits partners offer to volunteers: offering one, who qualifies, claiming (within the
quota and each person's limit) and the partner using a claim's code once.
"""

from __future__ import annotations

import secrets

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from gongchuang.core import audit, organisations
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import Conflict, InvalidInput, NotFound
from gongchuang.core.i18n import N_, Phrase
from gongchuang.core.models import Organisation
from gongchuang.core.permissions import Principal, has_permission
from gongchuang.core.text import clean_text
from gongchuang.volunteer.models import Benefit, BenefitClaim
from gongchuang.volunteer.permissions import VolunteerPerm
from gongchuang.volunteer.schemas import BenefitIn, BenefitOffer, ClaimUse
from gongchuang.volunteer.service._common import local_day, lock_volunteers
from gongchuang.volunteer.service.profiles import require_volunteer
from gongchuang.volunteer.service.stars import star_level, total_minutes


def create_benefit(
    session: Session, actor: Principal, partner: Organisation, data: BenefitOffer
) -> Benefit:
    if not has_permission(session, actor, VolunteerPerm.BENEFIT, partner):
        raise NotFound()
    errors = []
    if not 0 <= data.min_star <= 10:
        errors.append(
            {"field": "min_star", "message": Phrase(N_("from %(low)s to %(high)s"), low=0, high=10)}
        )
    if not 0 <= data.min_hours <= 100_000:
        errors.append(
            {
                "field": "min_hours",
                "message": Phrase(N_("from %(low)s to %(high)s"), low=0, high=100_000),
            }
        )
    if not 1 <= data.per_person_limit <= 1000:
        errors.append(
            {
                "field": "per_person_limit",
                "message": Phrase(N_("from %(low)s to %(high)s"), low=1, high=1000),
            }
        )
    if data.quota is not None and not 1 <= data.quota <= 1_000_000:
        errors.append(
            {
                "field": "quota",
                "message": Phrase(N_("from %(low)s to %(high)s"), low=1, high=1_000_000),
            }
        )
    if errors:
        raise InvalidInput(N_("The benefit is not valid; nothing was saved"), errors=errors)
    benefit = Benefit(
        partner_organisation_id=partner.id,
        title=clean_text(data.title, "title", max_length=200),
        description=clean_text(data.description, "description", max_length=2000, required=False),
        min_star=data.min_star,
        min_hours=data.min_hours,
        per_person_limit=data.per_person_limit,
        quota=data.quota,
        claimed=0,
        valid_until=data.valid_until,
        active=True,
    )
    session.add(benefit)
    session.flush()
    audit.record(
        session,
        actor,
        "volunteer.benefit.create",
        "volunteer_benefit",
        benefit.id,
        after={"title": benefit.title, "min_star": data.min_star, "min_hours": data.min_hours},
    )
    return benefit


def offer_benefit(session: Session, actor: Principal, command: BenefitIn) -> Benefit:
    """A benefit offered by the partner the command names (the API and the partner's page send
    the same command)."""
    partner = organisations.get_organisation(session, command.partner_organisation_id)
    return create_benefit(session, actor, partner, command)


def eligible(session: Session, person_id: int, benefit: Benefit) -> bool:
    minutes = total_minutes(session, person_id)
    return minutes >= benefit.min_hours * 60 and star_level(session, minutes) >= benefit.min_star


def claim_benefit(session: Session, actor: Principal, benefit_id: int) -> BenefitClaim:
    volunteer = require_volunteer(session, actor)
    benefit = session.get(Benefit, benefit_id)
    if benefit is None or not benefit.active:
        raise NotFound()
    if benefit.valid_until is not None and benefit.valid_until < local_day(utcnow()):
        raise Conflict(N_("This benefit has ended"))
    if not eligible(session, volunteer.person_id, benefit):
        raise Conflict(
            N_("This benefit is for volunteers with %(stars)s stars and %(hours)s hours or more"),
            stars=benefit.min_star,
            hours=benefit.min_hours,
        )
    # Serialise one person's claims, then count them. (The totals row locked here before does
    # not exist until a first hour is verified, so a benefit open to new volunteers had no lock.)
    lock_volunteers(session, [volunteer.person_id])
    used = session.scalar(
        select(func.count(BenefitClaim.id)).where(
            BenefitClaim.benefit_id == benefit.id, BenefitClaim.person_id == volunteer.person_id
        )
    )
    if (used or 0) >= benefit.per_person_limit:
        raise Conflict(N_("You have already claimed this benefit as often as allowed"))
    moved = session.execute(
        update(Benefit)
        .where(
            Benefit.id == benefit.id,
            or_(Benefit.quota.is_(None), Benefit.claimed < Benefit.quota),
        )
        .values(claimed=Benefit.claimed + 1)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(N_("All of this benefit has been claimed"))
    claim = BenefitClaim(
        benefit_id=benefit.id, person_id=volunteer.person_id, code=_unused_claim_code(session)
    )
    session.add(claim)
    session.flush()
    audit.record(
        session,
        actor,
        "volunteer.benefit.claim",
        "volunteer_benefit_claim",
        claim.id,
        after={"benefit": benefit.id},
    )
    return claim


def _unused_claim_code(session: Session) -> str:
    """Eight characters a till can type. Drawn again when an earlier claim has it: among a
    hundred thousand claims a repeat is likely, and the unique code would refuse the claim."""
    while True:
        code = secrets.token_hex(4).upper()
        if session.scalar(select(BenefitClaim.id).where(BenefitClaim.code == code)) is None:
            return code


def use_claim(session: Session, actor: Principal, partner: Organisation, code: str) -> BenefitClaim:
    """The partner checks the code the volunteer shows, once."""
    if not has_permission(session, actor, VolunteerPerm.BENEFIT, partner):
        raise NotFound()
    claim = session.scalar(
        select(BenefitClaim)
        .options(joinedload(BenefitClaim.benefit))
        .where(BenefitClaim.code == code.strip().upper()[:16])
    )
    if claim is None or claim.benefit.partner_organisation_id != partner.id:
        raise NotFound(N_("No claim of this partner has this code"))
    # Two tills scanning the code at once: the first UPDATE takes it, the second matches no row.
    used = session.execute(
        update(BenefitClaim)
        .where(BenefitClaim.id == claim.id, BenefitClaim.used_at.is_(None))
        .values(used_at=utcnow(), used_by_person_id=actor.person_id)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(N_("This code was already used"))
    session.refresh(claim, ["used_at", "used_by_person_id"])
    audit.record(
        session, actor, "volunteer.benefit.use", "volunteer_benefit_claim", claim.id, after={}
    )
    return claim


def use_claim_code(session: Session, actor: Principal, command: ClaimUse) -> BenefitClaim:
    """The code a volunteer shows, checked at the partner the command names."""
    partner = organisations.get_organisation(session, command.partner_organisation_id)
    return use_claim(session, actor, partner, command.code)
