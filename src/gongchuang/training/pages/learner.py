"""A learner's pages: the catalogue, a course and its lessons (offline-capable), progress,
completion, the course quiz and certificates."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from gongchuang.core import files, organisations, people
from gongchuang.core.clock import utcnow
from gongchuang.core.errors import NotFound
from gongchuang.core.identity import mask_name
from gongchuang.core.permissions import Principal
from gongchuang.core.web import (
    CsrfChecked,
    CurrentPrincipal,
    DbSession,
    Id,
    LoggedIn,
    redirect,
    render,
)
from gongchuang.training import quiz, reports, service
from gongchuang.training.models import Course, LessonKind
from gongchuang.training.pages._common import labels
from gongchuang.training.permissions import TrainingPerm
from gongchuang.training.service.views import enrolment_out

router = APIRouter(include_in_schema=False)


@router.get("/training", response_class=HTMLResponse)
def home(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    category: Annotated[str, Query(max_length=32)] = "",
    q: Annotated[str, Query(max_length=50)] = "",
) -> HTMLResponse:
    mine = []
    classes = []
    expiring = []
    if principal.person_id:
        for enrolment, course in service.my_enrolments(session, principal.person_id):
            out = enrolment_out(session, enrolment)
            mine.append((course, out))
        classes = service.my_classes(session, principal.person_id)
        expiring = service.expiring_credentials(session, principal.person_id)
    return render(
        request,
        "training/home.html",
        {
            **labels(),
            "courses": service.catalog(
                session, category=category if category in service.CATEGORIES else None, search=q
            ),
            "category": category,
            "q": q,
            "mine": mine,
            "classes": classes,
            "expiring": expiring,
            "campaigns": quiz.public_campaigns(session),
            "publishers": organisations.organisations_with(session, principal, TrainingPerm.PUBLISH)
            if principal.person_id
            else [],
            "institutions": organisations.organisations_with(
                session, principal, TrainingPerm.INSTITUTION
            )
            if principal.person_id
            else [],
            "departments": organisations.organisations_with(
                session, principal, TrainingPerm.DEPARTMENT
            )
            if principal.person_id
            else [],
        },
    )


def _course_context(session: Session, principal: Principal, course: Course) -> dict[str, Any]:
    enrolment = (
        service.enrolment_of(session, principal.person_id, course.id)
        if principal.person_id
        else None
    )
    state = service.course_state(session, enrolment) if enrolment else None
    lessons = state.lessons if state else service.lessons_of(session, course.id)
    progress = state.progress if state else {}
    organisation = organisations.get_organisation(session, course.organisation_id)
    return {
        **labels(),
        "course": course,
        "organisation": organisation,
        "lessons": lessons,
        "enrolment": enrolment,
        "state": enrolment_out(session, enrolment, state) if enrolment else None,
        "progress": progress,
        "can_edit": service.can_edit(session, principal, course),
        # What the service worker keeps for reading offline: pages and their files.
        "offline_urls": [f"/training/courses/{course.id}"]
        + [f"/training/courses/{course.id}/lessons/{lesson.id}" for lesson in lessons]
        + [
            f"/training/lessons/{lesson.id}/file"
            for lesson in lessons
            if lesson.file_id and lesson.kind != LessonKind.video
        ]
        if enrolment
        else [],
    }


@router.get("/training/courses/{course_id}", response_class=HTMLResponse)
def course_page(
    request: Request, course_id: Id, session: DbSession, principal: CurrentPrincipal
) -> HTMLResponse:
    course = service.get_course(session, principal, course_id)
    context = _course_context(session, principal, course)
    context["offline_json"] = json.dumps(context["offline_urls"])
    return render(request, "training/course.html", context)


@router.post("/training/courses/{course_id}/enrol", dependencies=[CsrfChecked])
def enrol(course_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    service.enrol(session, principal, course_id)
    return redirect(f"/training/courses/{course_id}")


@router.post("/training/courses/{course_id}/complete", dependencies=[CsrfChecked])
def complete(course_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    service.complete_course(session, principal, course_id)
    return redirect(f"/training/courses/{course_id}?completed=1")


@router.get("/training/courses/{course_id}/lessons/{lesson_id}", response_class=HTMLResponse)
def lesson_page(
    request: Request, course_id: Id, lesson_id: Id, session: DbSession, principal: CurrentPrincipal
) -> HTMLResponse:
    course, lesson = service.get_lesson(session, principal, lesson_id, course_id=course_id)
    context = _course_context(session, principal, course)
    lessons = context["lessons"]
    index = [item.id for item in lessons].index(lesson.id)
    progress = context["progress"].get(lesson.id)
    return render(
        request,
        "training/lesson.html",
        {
            **context,
            "lesson": lesson,
            "previous": lessons[index - 1] if index > 0 else None,
            "next": lessons[index + 1] if index + 1 < len(lessons) else None,
            "position": progress.position_seconds if progress else 0,
            "done": bool(progress and progress.completed_at),
            "paragraphs": [p for p in lesson.body.split("\n") if p.strip()],
        },
    )


@router.post("/training/lessons/{lesson_id}/done", dependencies=[CsrfChecked])
def lesson_done(lesson_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    """The form behind the "done" button when scripts do not run."""
    course, lesson = service.get_lesson(session, principal, lesson_id)
    service.record_progress(
        session, principal, [service.ProgressItem(lesson.id, 0, True, utcnow())]
    )
    return redirect(f"/training/courses/{course.id}/lessons/{lesson.id}")


@router.get("/training/lessons/{lesson_id}/file")
def lesson_file(lesson_id: Id, session: DbSession, principal: CurrentPrincipal) -> Response:
    stored = service.lesson_file(session, principal, lesson_id)
    return Response(
        files.storage().load(stored.storage_key),
        media_type=stored.content_type,
        headers={"Cache-Control": "private, max-age=86400"},
    )


@router.post("/training/courses/{course_id}/quiz", dependencies=[CsrfChecked])
def course_quiz(course_id: Id, session: DbSession, principal: LoggedIn) -> Response:
    attempt = quiz.start_course_quiz(session, principal, course_id)
    return redirect(f"/quiz/attempts/{attempt.id}")


@router.get("/training/courses/{course_id}/certificate.pdf")
def certificate(
    request: Request, course_id: Id, session: DbSession, principal: LoggedIn
) -> Response:
    enrolment, course = service.completed_enrolment(session, principal, course_id)
    person = people.get_person(session, enrolment.person_id)
    issuer = organisations.get_organisation(session, course.organisation_id)
    verify = (
        f"{str(request.base_url).rstrip('/')}/training/certificates/{enrolment.certificate_code}"
    )
    return Response(
        reports.certificate_pdf(enrolment, course, person.name, issuer.name, verify),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="certificate-{course.id}.pdf"'},
    )


@router.get("/training/certificates/{code}", response_class=HTMLResponse)
def verify_certificate(request: Request, code: str, session: DbSession) -> HTMLResponse:
    try:
        enrolment, course, person = service.certificate_by_code(session, code)
    except NotFound:
        return render(request, "training/certificate_check.html", {"found": False}, 404)
    issuer = organisations.get_organisation(session, course.organisation_id)
    return render(
        request,
        "training/certificate_check.html",
        {
            "found": True,
            "holder": mask_name(person.name),
            "course": course,
            "issuer": issuer,
            "enrolment": enrolment,
        },
    )
