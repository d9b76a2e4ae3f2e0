"""The volunteer REST API under /api/v1/volunteer."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from gongchuang.core import organisations
from gongchuang.core.api import PROBLEMS
from gongchuang.core.errors import AuthenticationRequired
from gongchuang.core.permissions import Principal
from gongchuang.core.web import DbSession, Id, LoggedIn, Require
from gongchuang.volunteer import links, recommend, reports, service
from gongchuang.volunteer.permissions import VolunteerPerm
from gongchuang.volunteer.schemas import (
    ActivityCreate,
    ActivityIn,
    ActivityOut,
    BenefitIn,
    BenefitOut,
    CallAnswer,
    CallIn,
    CallOut,
    CardOut,
    CertificateCheck,
    CertificateIn,
    CertificateOut,
    CheckIn,
    CheckinCodeOut,
    CheckOut,
    ClaimOut,
    ClaimUse,
    CountOut,
    DashboardOut,
    FeedbackIn,
    FillOut,
    HoursApproval,
    HoursCorrection,
    HoursEntryOut,
    InviteIn,
    ProfileIn,
    ProfileOut,
    RecommendationOut,
    RosterRow,
    ShiftIn,
    ShiftOut,
    SignupOut,
    StarsIn,
)

router = APIRouter(prefix="/api/v1/volunteer", tags=["volunteer"], responses=PROBLEMS)
Volunteering = Annotated[Principal, Depends(Require(VolunteerPerm.PARTICIPATE))]
Organiser = Annotated[Principal, Depends(Require(VolunteerPerm.MANAGE))]
Partner = Annotated[Principal, Depends(Require(VolunteerPerm.BENEFIT))]


def _person_id(principal: Principal) -> int:
    """The signed-in caller's person (a signed-in principal always has one)."""
    if principal.person_id is None:
        raise AuthenticationRequired()
    return principal.person_id


# --- profile and card -------------------------------------------------------------------------


@router.put("/me", summary="Register as a volunteer, or update the profile")
def save_profile(
    body: ProfileIn, request: Request, session: DbSession, principal: Volunteering
) -> ProfileOut:
    service.save_profile(session, principal, body)
    return service.profile_out(session, links.site(request), principal)


@router.get("/me", summary="My volunteer profile, hours and star level")
def my_profile(request: Request, session: DbSession, principal: LoggedIn) -> ProfileOut:
    return service.profile_out(session, links.site(request), principal)


@router.get("/cards/{token}", summary="Verify an electronic volunteer card (no login)")
def verify_card(token: Annotated[str, Path(max_length=200)], session: DbSession) -> CardOut:
    return CardOut.model_validate(service.verify_card(session, token))


@router.get("/me/hours", summary="My hours ledger")
def my_hours(session: DbSession, principal: LoggedIn) -> list[HoursEntryOut]:
    person_id = _person_id(principal)
    return [HoursEntryOut.model_validate(e) for e in service.hours_ledger(session, person_id)]


# --- activities -------------------------------------------------------------------------------


@router.get(
    "/activities",
    summary="Open activities with shifts to come, soonest first",
    description="Filtered by category, organisation, the Beijing dates a shift starts on (both "
    "ends included) and words in the title, place or description; `page` counts from 1.",
)
def list_activities(
    session: DbSession,
    category: Annotated[str | None, Query(max_length=32)] = None,
    organisation_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    date_from: Annotated[date | None, Query()] = None,
    date_to: Annotated[date | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=50)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 200,
) -> list[ActivityOut]:
    filters = service.ActivityFilter(category, organisation_id, date_from, date_to, q)
    found = service.open_activities(session, filters, limit=per_page, page=page, past_end=True)
    return [service.activity_out(session, a) for a, _ in found.items]


@router.get("/activities/{activity_id}")
def get_activity(activity_id: Id, session: DbSession) -> ActivityOut:
    return service.activity_out(session, service.get_activity(session, activity_id))


@router.get("/recommendations", summary="Activities for me, best first")
def recommendations(
    session: DbSession,
    principal: LoggedIn,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[RecommendationOut]:
    volunteer = service.require_volunteer(session, principal)
    return [
        RecommendationOut(activity=service.activity_out(session, a), score=round(s, 4))
        for a, s in recommend.for_volunteer(session, volunteer, limit)
    ]


@router.post("/activities", status_code=201, summary="Publish an activity with its shifts")
def create_activity(body: ActivityCreate, session: DbSession, principal: Organiser) -> ActivityOut:
    activity = service.publish_activity(session, principal, body)
    return service.activity_out(session, service.get_activity(session, activity.id))


@router.put("/activities/{activity_id}", summary="Edit details; sign-ups stay")
def update_activity(
    activity_id: Id, body: ActivityIn, session: DbSession, principal: Organiser
) -> ActivityOut:
    activity = service.get_activity_to_manage(session, principal, activity_id)
    service.update_activity(session, principal, activity, body)
    return service.activity_out(session, activity)


@router.post("/activities/{activity_id}/shifts", status_code=201)
def add_shift(activity_id: Id, body: ShiftIn, session: DbSession, principal: Organiser) -> ShiftOut:
    activity = service.get_activity_to_manage(session, principal, activity_id)
    shift = service.add_shift(session, principal, activity, body)
    return ShiftOut.model_validate(shift)


@router.post("/activities/{activity_id}/cancel", summary="Cancel and tell everyone signed up")
def cancel_activity(
    activity_id: Id,
    session: DbSession,
    principal: Organiser,
    reason: Annotated[str, Query(min_length=1, max_length=500)],
) -> CountOut:
    activity = service.get_activity_to_manage(session, principal, activity_id)
    return CountOut(count=service.cancel_activity(session, principal, activity, reason))


@router.get("/shifts/{shift_id}/roster", summary="Who is coming, and what happened")
def roster(shift_id: Id, session: DbSession, principal: Organiser) -> list[RosterRow]:
    shift = service.get_shift_to_manage(session, principal, shift_id)
    return service.roster_out(session, shift)


@router.get("/shifts/{shift_id}/checkin-code", summary="The rotating QR code to show on site")
def checkin_code(
    shift_id: Id, request: Request, session: DbSession, principal: Organiser
) -> CheckinCodeOut:
    shift = service.get_shift_to_manage(session, principal, shift_id)
    code = service.checkin_code(session, principal, shift)
    return service.checkin_code_out(links.site(request), code)


# --- sign-up and check-in ---------------------------------------------------------------------


@router.post(
    "/shifts/{shift_id}/signups", status_code=201, summary="Sign up (or join the waitlist)"
)
def sign_up(shift_id: Id, session: DbSession, principal: Volunteering) -> SignupOut:
    signup = service.sign_up(session, principal, shift_id)
    return SignupOut.model_validate(service.get_signup(session, signup.id))


@router.get("/me/signups")
def my_signups(session: DbSession, principal: LoggedIn) -> list[SignupOut]:
    person_id = _person_id(principal)
    return [SignupOut.model_validate(s) for s in service.my_signups(session, person_id)]


@router.post("/signups/{signup_id}/cancel", summary="Give the place up (the waitlist moves up)")
def cancel_signup(signup_id: Id, session: DbSession, principal: Volunteering) -> SignupOut:
    signup = service.get_signup(session, signup_id)
    service.cancel_signup(session, principal, signup)
    return SignupOut.model_validate(signup)


@router.post("/check", summary="Check in, or out if already in (QR code and/or location)")
def check(body: CheckIn, session: DbSession, principal: Volunteering) -> CheckOut:
    result = service.check(session, principal, **body.model_dump())
    return service.check_out(result)


@router.post("/signups/{signup_id}/no-show")
def no_show(signup_id: Id, session: DbSession, principal: Organiser) -> SignupOut:
    signup = service.get_signup(session, signup_id)
    return SignupOut.model_validate(service.mark_no_show(session, principal, signup))


@router.post("/hours/approvals", summary="Confirm pending hours (bulk, or one set by hand)")
def approve_hours(body: HoursApproval, session: DbSession, principal: Organiser) -> CountOut:
    return CountOut(count=service.confirm_hours(session, principal, body))


@router.post("/signups/{signup_id}/correction", summary="Correct confirmed hours, with a reason")
def correct_hours(
    signup_id: Id, body: HoursCorrection, session: DbSession, principal: Organiser
) -> HoursEntryOut:
    signup = service.get_signup(session, signup_id)
    entry = service.correct_hours(session, principal, signup, body.minutes, body.reason)
    return HoursEntryOut.model_validate(entry)


@router.post("/signups/{signup_id}/feedback", status_code=201)
def feedback(
    signup_id: Id, body: FeedbackIn, session: DbSession, principal: Volunteering
) -> CountOut:
    signup = service.get_signup(session, signup_id)
    service.leave_feedback(session, principal, signup, body.rating, body.comment)
    return CountOut(count=1)


# --- certificates -----------------------------------------------------------------------------


@router.post("/me/certificates", status_code=201, summary="A certificate of my verified hours")
def issue_certificate(
    body: CertificateIn, request: Request, session: DbSession, principal: Volunteering
) -> CertificateOut:
    certificate = service.issue_certificate(session, principal, **body.model_dump())
    return service.certificate_out(links.site(request), certificate)


@router.get("/me/certificates")
def my_certificates(
    request: Request, session: DbSession, principal: LoggedIn
) -> list[CertificateOut]:
    person_id = _person_id(principal)
    return service.certificates_out(session, links.site(request), person_id)


@router.get(
    "/me/certificates/{certificate_id}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def certificate_pdf(
    certificate_id: Id, request: Request, session: DbSession, principal: LoggedIn
) -> Response:
    certificate = service.get_certificate_for(session, principal, certificate_id)
    verify = links.certificate_check_url(request, certificate)
    return Response(reports.certificate_pdf(certificate, verify), media_type="application/pdf")


@router.get("/certificates/{code}", summary="Verify a certificate (no login; reveals little)")
def verify_certificate(
    code: Annotated[str, Path(max_length=32)], session: DbSession
) -> CertificateCheck:
    return service.certificate_check(service.certificate_by_code(session, code))


# --- benefits ---------------------------------------------------------------------------------


@router.get("/benefits", summary="Benefits on offer, and whether I qualify")
def list_benefits(session: DbSession, principal: LoggedIn) -> list[BenefitOut]:
    return service.benefits_out(session, principal.person_id or 0)


@router.post("/benefits", status_code=201, summary="A partner offers a benefit")
def create_benefit(body: BenefitIn, session: DbSession, principal: Partner) -> CountOut:
    benefit = service.offer_benefit(session, principal, body)
    return CountOut(count=benefit.id)


@router.post("/benefits/{benefit_id}/claims", status_code=201)
def claim_benefit(benefit_id: Id, session: DbSession, principal: Volunteering) -> ClaimOut:
    claim = service.claim_benefit(session, principal, benefit_id)
    return service.claim_out(session, claim)


@router.post("/claims/use", summary="The partner checks a volunteer's code, once")
def use_claim(body: ClaimUse, session: DbSession, principal: Partner) -> CountOut:
    claim = service.use_claim_code(session, principal, body)
    return CountOut(count=claim.id)


# --- mobilisation -----------------------------------------------------------------------------


@router.post("/calls", status_code=201, summary="Mobilise: many sites, days and shifts at once")
def create_call(body: CallIn, session: DbSession, principal: Organiser) -> CallOut:
    call = service.launch_call(session, principal, body)
    return service.call_out(session, call.id)


@router.get("/calls/{call_id}", summary="The fill-rate board")
def get_call(call_id: Id, session: DbSession) -> CallOut:
    return service.call_out(session, call_id)


@router.put("/calls/{call_id}/answer", summary="Offer to serve: how far, when, how often")
def answer_call(
    call_id: Id, body: CallAnswer, session: DbSession, principal: Volunteering
) -> CountOut:
    call = service.get_call(session, call_id)
    row = service.answer_call(session, principal, call, **body.model_dump())
    return CountOut(count=row.id)


@router.post("/calls/{call_id}/fill", summary="Place the volunteers who answered")
def fill_call(call_id: Id, session: DbSession, principal: Organiser) -> FillOut:
    call = service.get_call(session, call_id)
    return FillOut(placed=service.fill_call(session, principal, call))


# --- organisation side ------------------------------------------------------------------------


@router.get("/organisations/{organisation_id}/dashboard")
def dashboard(organisation_id: Id, session: DbSession, principal: Organiser) -> DashboardOut:
    organisation = organisations.get_organisation_for(
        session, principal, organisation_id, VolunteerPerm.MANAGE
    )
    figures = reports.org_dashboard(session, organisation)
    return DashboardOut.model_validate(figures)


@router.post("/organisations/{organisation_id}/responder-invitations")
def invite_responders(
    organisation_id: Id, body: InviteIn, session: DbSession, principal: Organiser
) -> CountOut:
    organisation = organisations.get_organisation_for(
        session, principal, organisation_id, VolunteerPerm.MANAGE
    )
    return CountOut(
        count=service.invite_responders(session, principal, organisation, body.person_ids)
    )


@router.put("/stars", summary="Star-level thresholds in hours (platform administrators)")
def set_stars(
    body: StarsIn,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require(VolunteerPerm.MANAGE, platform=True))],
) -> StarsIn:
    return StarsIn(thresholds=service.set_star_thresholds(session, principal, body.thresholds))
