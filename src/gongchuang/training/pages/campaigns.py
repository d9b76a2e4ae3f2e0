"""The public quiz campaigns: a campaign's page and leaderboard, playing a paper (guests
welcome, known by a cookie) and its result."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from gongchuang.core.clock import utcnow
from gongchuang.core.errors import NotFound
from gongchuang.core.forms import (
    parse_form,
)
from gongchuang.core.pdf import qr_svg
from gongchuang.core.permissions import Principal
from gongchuang.core.web import (
    CsrfChecked,
    CurrentPrincipal,
    DbSession,
    FormFields,
    Id,
    cookie_secure,
    redirect,
    render,
)
from gongchuang.training import quiz, service
from gongchuang.training.models import AttemptStatus, QuizAudience
from gongchuang.training.pages._common import (
    optional_whole_number,
    text_field,
)
from gongchuang.training.quiz.views import campaign_out, leaderboard_out
from gongchuang.training.schemas import AttemptStartIn, SubmissionIn

router = APIRouter(include_in_schema=False)
GUEST_COOKIE = "gc_quiz_guest"


def _participant_key(request: Request, principal: Principal) -> str | None:
    return quiz.participant_key(principal, request.cookies.get(GUEST_COOKIE, ""))


def _owned_attempt(
    request: Request, principal: Principal, session: Session, attempt_id: int
) -> Any:
    key = _participant_key(request, principal)
    if key is None:
        raise NotFound()
    return quiz.get_attempt_for(session, attempt_id, key)


@router.get("/quiz", response_class=HTMLResponse)
def campaigns(request: Request, session: DbSession) -> HTMLResponse:
    return render(request, "training/quiz_list.html", {"campaigns": quiz.public_campaigns(session)})


@router.get("/quiz/{slug}", response_class=HTMLResponse)
def campaign_page(
    request: Request, slug: str, session: DbSession, principal: CurrentPrincipal
) -> HTMLResponse:
    campaign = quiz.campaign_by_slug(session, slug)
    if campaign.audience != QuizAudience.public:
        raise NotFound()
    key = _participant_key(request, principal)
    return render(
        request,
        "training/campaign.html",
        {
            "campaign": campaign,
            "summary": campaign_out(session, campaign),
            "scoring": quiz.scoring_text(campaign),
            "board": leaderboard_out(session, campaign, key),
            "regions": quiz.ranking_regions(session, campaign) if not principal.person_id else [],
            "running": quiz.is_running(campaign),
        },
    )


@router.get("/quiz/{slug}/leaderboard", response_class=HTMLResponse)
def leaderboard_fragment(
    request: Request, slug: str, session: DbSession, principal: CurrentPrincipal
) -> HTMLResponse:
    campaign = quiz.campaign_by_slug(session, slug)
    key = _participant_key(request, principal)
    return render(
        request,
        "training/_leaderboard.html",
        {"campaign": campaign, "board": leaderboard_out(session, campaign, key)},
    )


@router.post("/quiz/{slug}/start", dependencies=[CsrfChecked])
def start(
    request: Request,
    slug: str,
    session: DbSession,
    principal: CurrentPrincipal,
    nickname: Annotated[str, Form(max_length=40)] = "",
    region_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    campaign = quiz.campaign_by_slug(session, slug)
    command = parse_form(AttemptStartIn, {"nickname": nickname})
    token = request.cookies.get(GUEST_COOKIE, "")
    new_token = None
    if principal.person_id:
        participant = quiz.participant_for_person(session, principal, command.nickname)
    else:
        if not token:
            token = new_token = quiz.new_guest_token()
        participant = quiz.participant_for_guest(
            session, token, command.nickname, optional_whole_number(region_id, "region_id")
        )
    attempt = quiz.start_attempt(session, campaign, participant)
    response = redirect(f"/quiz/attempts/{attempt.id}")
    if new_token:
        response.set_cookie(
            GUEST_COOKIE,
            new_token,
            max_age=365 * 86_400,
            httponly=True,
            samesite="lax",
            secure=cookie_secure(request),
        )
    return response


@router.get("/quiz/attempts/{attempt_id}", response_class=HTMLResponse)
def attempt_page(
    request: Request, attempt_id: Id, session: DbSession, principal: CurrentPrincipal
) -> Response:
    attempt = _owned_attempt(request, principal, session, attempt_id)
    if attempt.status == AttemptStatus.submitted:
        return redirect(f"/quiz/attempts/{attempt.id}/result")
    campaign = quiz.campaign_of(session, attempt)
    remaining = max(0, int((attempt.deadline_at - utcnow()).total_seconds()))
    return render(
        request,
        "training/attempt.html",
        {
            "attempt": attempt,
            "campaign": campaign,
            "questions": quiz.paper_of(session, attempt),
            "remaining": remaining,
            "expired": attempt.status == AttemptStatus.expired or remaining <= 0,
            # One key per rendered paper: a double tap or a resend scores once.
            "submission_key": secrets.token_urlsafe(16),
        },
    )


@router.post("/quiz/attempts/{attempt_id}", dependencies=[CsrfChecked])
def submit(
    request: Request,
    attempt_id: Id,
    session: DbSession,
    principal: CurrentPrincipal,
    form: FormFields,
) -> Response:
    attempt = _owned_attempt(request, principal, session, attempt_id)
    answers = [
        [v for v in form.getlist(f"q{number}") if isinstance(v, str)]
        for number in range(attempt.question_count)
    ]
    command = parse_form(
        SubmissionIn,
        {"submission_key": text_field(form, "submission_key"), "answers": answers},
        {
            place: f"q{number}"
            for number, chosen in enumerate(answers)
            for place in (
                f"answers.{number}",
                *(f"answers.{number}.{i}" for i in range(len(chosen))),
            )
        },
    )
    quiz.submit_attempt(session, attempt.id, attempt.participant_key, command)
    return redirect(f"/quiz/attempts/{attempt.id}/result")


@router.get("/quiz/attempts/{attempt_id}/result", response_class=HTMLResponse)
def result_page(
    request: Request, attempt_id: Id, session: DbSession, principal: CurrentPrincipal
) -> Response:
    attempt = _owned_attempt(request, principal, session, attempt_id)
    if attempt.status != AttemptStatus.submitted:
        return redirect(f"/quiz/attempts/{attempt.id}")
    campaign = quiz.campaign_of(session, attempt)
    course = None
    if campaign.audience == QuizAudience.course:
        course = service.course_of_quiz(session, campaign.id)
    share = f"{str(request.base_url).rstrip('/')}/quiz/results/{attempt.share_code}"
    return render(
        request,
        "training/result.html",
        {
            "attempt": attempt,
            "campaign": campaign,
            "course": course,
            "questions": quiz.paper_of(session, attempt),
            "standing": quiz.standing_of(session, campaign.id, attempt.participant_key),
            "share_url": share,
            "share_qr": qr_svg(share, 160),
            "passed": quiz.attempt_passed(campaign, attempt.correct_count, attempt.question_count),
        },
    )


@router.get("/quiz/results/{code}", response_class=HTMLResponse)
def shared_result(request: Request, code: str, session: DbSession) -> HTMLResponse:
    attempt = quiz.attempt_by_share_code(session, code)
    campaign = quiz.campaign_of(session, attempt)
    return render(
        request,
        "training/shared_result.html",
        {
            "attempt": attempt,
            "campaign": campaign,
            "standing": quiz.standing_of(session, campaign.id, attempt.participant_key),
        },
    )
