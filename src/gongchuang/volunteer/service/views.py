"""What the API returns of profiles, activities, rosters, certificates, benefits and calls where
the answer is more than a copy of one row (it needs the session: totals, star levels, shifts,
fill rates; or the site's address, for the addresses it hands out). Read-only; nothing here writes.
Plain copies are read by the schemas themselves (`XOut.model_validate(row)`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gongchuang.core import people
from gongchuang.core.identity import mask_name
from gongchuang.core.permissions import Principal
from gongchuang.core.schemas import read_model
from gongchuang.volunteer.models import Activity, BenefitClaim, Certificate, Shift
from gongchuang.volunteer.schemas import (
    ActivityOut,
    BenefitOut,
    CallOut,
    CertificateCheck,
    CertificateOut,
    CheckinCodeOut,
    CheckOut,
    ClaimOut,
    FillRowOut,
    ProfileOut,
    RosterRow,
    ShiftOut,
    SignupOut,
)
from gongchuang.volunteer.service._common import local_day
from gongchuang.volunteer.service.addresses import (
    card_url,
    certificate_check_url,
    certificate_pdf_url,
    checkin_url,
)
from gongchuang.volunteer.service.calls import get_call
from gongchuang.volunteer.service.checkin import CHECKIN_SECONDS, CheckResult
from gongchuang.volunteer.service.partner_benefits import eligible
from gongchuang.volunteer.service.profiles import is_real_name, require_volunteer
from gongchuang.volunteer.service.queries import (
    benefits,
    benefits_title,
    call_shift_count,
    certificates_of,
    fill_board,
    roster,
    shifts_of,
)
from gongchuang.volunteer.service.stars import reliability, star_level, totals


def _hours(minutes: int) -> float:
    return round(minutes / 60, 1)


def profile_out(session: Session, site: str, principal: Principal) -> ProfileOut:
    """The caller's volunteer profile with their hours, star level and e-card address."""
    volunteer = require_volunteer(session, principal)
    person = people.get_person(session, volunteer.person_id)
    total = totals(session, volunteer.person_id)
    return ProfileOut(
        person_id=person.id,
        name=person.name,
        real_name=is_real_name(person),
        skills=volunteer.skills,
        interests=volunteer.interests,
        languages=volunteer.languages,
        availability=volunteer.availability,
        birth_date=volunteer.birth_date,
        shares_location=volunteer.home_lat is not None,
        hours=_hours(total.minutes),
        star=star_level(session, total.minutes),
        completed_shifts=total.completed_shifts,
        no_shows=total.no_shows,
        card_url=card_url(site, volunteer),
    )


def activity_out(session: Session, activity: Activity) -> ActivityOut:
    """An activity with its organisation's name and its shifts."""
    return read_model(
        ActivityOut,
        activity,
        organisation_name=activity.organisation.name,
        shifts=[ShiftOut.model_validate(s) for s in shifts_of(session, activity)],
    )


def check_out(result: CheckResult) -> CheckOut:
    """What a check in or out did, said as the sign-up it changed."""
    return CheckOut(
        action=result.action,
        signup=SignupOut(
            id=result.signup_id,
            shift_id=result.shift_id,
            activity_id=result.activity_id,
            activity_title=result.activity_title,
            starts_at=result.starts_at,
            ends_at=result.ends_at,
            status=result.status,
            checked_in_at=result.checked_in_at,
            checked_out_at=result.checked_out_at,
            auto_checked_out=False,
            late_minutes=result.late_minutes,
            early_minutes=result.early_minutes,
            pending_minutes=result.pending_minutes,
        ),
    )


def roster_out(session: Session, shift: Shift) -> list[RosterRow]:
    """Who is coming to a shift and what happened, with each one's reliability."""
    return [
        read_model(
            RosterRow,
            signup,
            signup_id=signup.id,
            name=signup.person.name,
            reliability=reliability(totals(session, signup.person_id)),
        )
        for signup in roster(session, shift)
    ]


def checkin_code_out(site: str, code: str) -> CheckinCodeOut:
    """The rotating code with the address its QR code opens."""
    return CheckinCodeOut(code=code, url=checkin_url(site, code), valid_seconds=CHECKIN_SECONDS)


def certificate_out(site: str, certificate: Certificate) -> CertificateOut:
    """A certificate with the addresses to check it and to download it."""
    return read_model(
        CertificateOut,
        certificate,
        hours=_hours(certificate.minutes),
        verify_url=certificate_check_url(site, certificate),
        pdf_url=certificate_pdf_url(site, certificate),
    )


def certificates_out(session: Session, site: str, person_id: int) -> list[CertificateOut]:
    return [certificate_out(site, c) for c in certificates_of(session, person_id)]


def certificate_check(certificate: Certificate) -> CertificateCheck:
    """What anyone may learn of a certificate from its code: little, the holder masked."""
    return read_model(
        CertificateCheck,
        certificate,
        holder=mask_name(certificate.holder_name),
        hours=_hours(certificate.minutes),
        issued_on=local_day(certificate.issued_at),
        valid=certificate.revoked_at is None,
    )


def benefits_out(session: Session, person_id: int) -> list[BenefitOut]:
    """Benefits on offer, and whether the person (0: nobody) qualifies for each."""
    return [
        read_model(BenefitOut, b, partner=b.partner.name, eligible=eligible(session, person_id, b))
        for b in benefits(session)
    ]


def claim_out(session: Session, claim: BenefitClaim) -> ClaimOut:
    return read_model(ClaimOut, claim, title=benefits_title(session, claim.benefit_id))


def call_out(session: Session, call_id: int) -> CallOut:
    """A mobilisation call with its fill-rate board."""
    call = get_call(session, call_id)
    board = fill_board(session, call)
    return CallOut(
        id=call.id,
        title=call.title,
        category=call.category,
        sites=len({r.activity_id for r in board}),
        shifts=call_shift_count(session, call),
        capacity=sum(r.capacity for r in board),
        taken=sum(r.taken for r in board),
        board=[FillRowOut.model_validate(r) for r in board],
    )
