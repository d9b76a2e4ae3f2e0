"""The training API: courses, offline progress sync, classes and rosters, quizzes, targets."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.core.clock import local_today
from gongchuang.training.models import ClassTrainee, Enrolment, QuizAttempt
from tests.conftest import api_token, csrf_token, login
from tests.training.conftest import TrainingWorld, answers_for, resident_id, roster_csv


def test_course_from_publishing_to_certificate(client, tw: TrainingWorld, session: Session) -> None:
    publisher = api_token(client, tw.trainer.phone, ["training.publish"])
    created = client.post(
        "/api/v1/training/courses",
        json={
            "organisation_id": tw.institution.id,
            "title": "农村电商入门",
            "category": "ecommerce",
        },
        headers=publisher,
    )
    assert created.status_code == 201, created.text
    course_id = created.json()["id"]
    assert (
        client.put(
            f"/api/v1/training/courses/{course_id}/status",
            json={"status": "published"},
            headers=publisher,
        ).status_code
        == 422
    )  # no lessons yet
    lesson = client.post(
        f"/api/v1/training/courses/{course_id}/lessons",
        json={"title": "选品", "body": "选本地特色产品。"},
        headers=publisher,
    ).json()
    assert (
        client.put(
            f"/api/v1/training/courses/{course_id}/status",
            json={"status": "published"},
            headers=publisher,
        ).json()["status"]
        == "published"
    )
    assert any(c["id"] == course_id for c in client.get("/api/v1/training/courses").json())

    learner = api_token(client, tw.learner.phone, ["training.learn"])
    assert (
        client.post(f"/api/v1/training/courses/{course_id}/enrolment", headers=learner).status_code
        == 200
    )
    incomplete = client.post(f"/api/v1/training/courses/{course_id}/completion", headers=learner)
    assert incomplete.status_code == 422
    assert incomplete.headers["content-type"].startswith("application/problem+json")
    assert incomplete.json()["errors"][0]["message"] == "Finish every lesson"
    # The phone's offline queue arrives: the lesson is done, the course completes on its own.
    yesterday = (datetime.now(UTC) - timedelta(hours=20)).isoformat()
    synced = client.post(
        "/api/v1/training/progress",
        json={
            "items": [
                {
                    "lesson_id": lesson["id"],
                    "position_seconds": 0,
                    "completed": True,
                    "recorded_at": yesterday,
                }
            ]
        },
        headers=learner,
    )
    assert synced.json() == {"applied": 1}
    state = client.get(f"/api/v1/training/courses/{course_id}/enrolment", headers=learner).json()
    assert state["completed_at"] and state["certificate_url"]
    code = state["certificate_url"]  # the PDF needs a session; its QR opens the public check
    login(client, tw.learner.phone)
    pdf = client.get(code)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    certificate = session.scalar(
        select(Enrolment.certificate_code).where(Enrolment.course_id == course_id)
    )
    public = client.get(f"/api/v1/training/certificates/{certificate}").json()
    assert public["course"] == "农村电商入门" and public["holder"].startswith("学")
    assert "*" in public["holder"]
    assert client.get("/api/v1/training/certificates/nonsense").status_code == 404


def test_progress_refuses_naive_times_and_strangers(client, tw: TrainingWorld) -> None:
    learner = api_token(client, tw.other_learner.phone, ["training.learn"])
    lesson_id = client.get(f"/api/v1/training/courses/{tw.course.id}").json()["lessons"][0]["id"]
    naive = client.post(
        "/api/v1/training/progress",
        json={"items": [{"lesson_id": lesson_id, "recorded_at": "2026-01-01T10:00:00"}]},
        headers=learner,
    )
    assert naive.status_code == 422
    stranger = client.post(
        "/api/v1/training/progress",
        json={"items": [{"lesson_id": lesson_id, "recorded_at": "2026-01-01T10:00:00+08:00"}]},
        headers=learner,
    )
    assert stranger.status_code == 422
    assert stranger.json()["errors"][0]["message"] == "not enrolled"


def test_quiz_through_the_api(client, tw: TrainingWorld, session: Session) -> None:
    learner = api_token(client, tw.learner.phone, ["training.learn"])
    started = client.post(
        "/api/v1/training/campaigns/test-quiz/attempts", json={"nickname": "甲"}, headers=learner
    )
    assert started.status_code == 200, started.text
    paper = started.json()
    assert len(paper["questions"]) == 4
    assert "correct" not in str(paper) and "explanation" not in str(paper)
    attempt = session.get(QuizAttempt, paper["id"])
    body = {"submission_key": "api-key-0001", "answers": answers_for(session, attempt)}
    result = client.post(
        f"/api/v1/training/attempts/{paper['id']}/submission", json=body, headers=learner
    )
    assert result.status_code == 200 and result.json()["score"] == 3
    assert all(q["explanation"] for q in result.json()["questions"])
    again = client.post(
        f"/api/v1/training/attempts/{paper['id']}/submission", json=body, headers=learner
    )
    assert again.json() == result.json()
    other = client.post(
        f"/api/v1/training/attempts/{paper['id']}/submission",
        json={**body, "submission_key": "api-key-0002"},
        headers=learner,
    )
    assert other.status_code == 409
    board = client.get("/api/v1/training/campaigns/test-quiz/leaderboard").json()
    assert board["people"][0]["name"] == "甲" and board["people"][0]["total_score"] == 3
    assert board["me"] is None  # anonymous
    campaign = client.get("/api/v1/training/campaigns/test-quiz").json()
    assert (campaign["participants"], campaign["attempts"]) == (1, 1)
    # Someone else cannot submit this attempt.
    stranger = api_token(client, tw.other_learner.phone, ["training.learn"])
    assert (
        client.post(
            f"/api/v1/training/attempts/{paper['id']}/submission",
            json={**body, "submission_key": "api-key-0003"},
            headers=stranger,
        ).status_code
        == 404
    )


def test_class_through_the_api(client, tw: TrainingWorld, session: Session) -> None:
    staff = api_token(client, tw.trainer.phone, ["training.institution"])
    today = local_today()
    created = client.post(
        f"/api/v1/training/institutions/{tw.institution.id}/classes",
        json={
            "title": "示范班",
            "starts_on": str(today - timedelta(days=1)),
            "ends_on": str(today),
            "onsite_days": 2,
            "online_hours": 32,
            "venue": "培训楼",
            "trainer_name": "刘老师",
            "funding_per_trainee_fen": 320000,
            "credential_kind": "first_aid",
            "credential_title": "救护员证",
            "credential_valid_days": 730,
        },
        headers=staff,
    )
    assert created.status_code == 201, created.text
    class_id = created.json()["id"]
    bad = roster_csv([("甲", "13900000041", resident_id(41)), ("乙", "13900000041", "123")])
    refused = client.post(
        f"/api/v1/training/classes/{class_id}/roster",
        files={"file": ("roster.csv", bad, "text/csv")},
        headers=staff,
    )
    assert refused.status_code == 422
    assert {e["line"] for e in refused.json()["errors"]} == {3}
    assert session.scalar(select(func.count(ClassTrainee.id))) == 0
    good = roster_csv(
        [("甲", "13900000041", resident_id(41)), ("乙", "13900000042", resident_id(42))]
    )
    imported = client.post(
        f"/api/v1/training/classes/{class_id}/roster",
        files={"file": ("roster.csv", good, "text/csv")},
        headers=staff,
    )
    assert imported.json() == {"added": 2, "registered": 2, "unchanged": 0}
    roster = client.get(f"/api/v1/training/classes/{class_id}/roster", headers=staff).json()
    assert all("*" in t["phone"] and "*" in t["resident_id"] for t in roster)
    ids = [t["id"] for t in roster]
    for day in (today - timedelta(days=1), today):
        client.put(
            f"/api/v1/training/classes/{class_id}/attendance/{day}",
            json={"present": ids},
            headers=staff,
        )
    client.put(
        f"/api/v1/training/classes/{class_id}/assessment",
        json={"scores": [{"trainee_id": ids[0], "score": 88}, {"trainee_id": ids[1], "score": 30}]},
        headers=staff,
    )
    done = client.post(f"/api/v1/training/classes/{class_id}/completion", headers=staff)
    assert done.json() == {"completed": 1, "not_passed": 1, "credentials": 1}
    spent = client.post(
        f"/api/v1/training/classes/{class_id}/expenses",
        json={"item": "lodging", "amount_fen": 700000},
        headers=staff,
    )
    assert spent.status_code == 409  # over the 2 × 3,200 yuan budget
    # The department spot-checks; the learner sees nothing.
    department = api_token(client, tw.department_staff.phone, ["training.department"])
    check = client.post(
        f"/api/v1/training/classes/{class_id}/spot-checks",
        json={
            "department_organisation_id": tw.department.id,
            "checked_on": str(today),
            "present_count": 2,
            "finding": "satisfactory",
        },
        headers=department,
    )
    assert check.status_code == 201
    learner = api_token(client, tw.learner.phone, ["training.institution"])
    assert client.get(f"/api/v1/training/classes/{class_id}", headers=learner).status_code == 404


def test_programme_targets_and_progress(client, tw: TrainingWorld) -> None:
    department = api_token(client, tw.department_staff.phone, ["training.department"])
    year = local_today().year
    programme = client.post(
        f"/api/v1/training/departments/{tw.department.id}/programmes",
        json={"code": "P-1", "name": "为村耕耘者", "start_year": year, "end_year": year + 2},
        headers=department,
    ).json()
    report = client.put(
        f"/api/v1/training/programmes/{programme['id']}/targets",
        json={
            "targets": [
                {"region_code": "430000", "year": y, "mode": "offline", "cumulative_planned": n}
                for y, n in zip(range(year, year + 3), (30, 70, 100), strict=True)
            ]
        },
        headers=department,
    )
    assert report.status_code == 200, report.text
    assert report.json()["provinces"][0]["planned"] == {"offline": 30}
    shrinking = client.put(
        f"/api/v1/training/programmes/{programme['id']}/targets",
        json={
            "targets": [
                {
                    "region_code": "430000",
                    "year": year,
                    "mode": "offline",
                    "cumulative_planned": 50,
                },
                {
                    "region_code": "430000",
                    "year": year + 1,
                    "mode": "offline",
                    "cumulative_planned": 40,
                },
            ]
        },
        headers=department,
    )
    assert shrinking.status_code == 422
    progress = client.get(
        f"/api/v1/training/programmes/{programme['id']}/progress?year={year + 1}",
        headers=department,
    ).json()
    assert progress["provinces"][0]["planned"] == {"offline": 70}
    outsider = api_token(client, tw.learner.phone, ["training.department"])
    assert (
        client.get(
            f"/api/v1/training/programmes/{programme['id']}/progress", headers=outsider
        ).status_code
        == 404
    )


def test_guest_attempt_on_the_public_pages(client, tw: TrainingWorld, session: Session) -> None:
    page = client.get("/quiz/test-quiz")
    assert page.status_code == 200
    started = client.post(
        "/quiz/test-quiz/start",
        data={"nickname": "过路人", "csrf_token": csrf_token(client)},
        follow_redirects=False,
    )
    assert started.status_code == 303 and client.cookies.get("gc_quiz_guest")
    attempt_url = started.headers["location"]
    attempt = session.get(QuizAttempt, int(attempt_url.rsplit("/", 1)[1]))
    assert attempt.participant_key.startswith("g:") and attempt.person_id is None
    # The same browser gets the same running attempt back.
    again = client.post(
        "/quiz/test-quiz/start",
        data={"nickname": "过路人", "csrf_token": csrf_token(client)},
        follow_redirects=False,
    )
    assert again.headers["location"] == attempt_url
    form = {"csrf_token": csrf_token(client), "submission_key": "page-key-0001"}
    for number, chosen in enumerate(answers_for(session, attempt)):
        form[f"q{number}"] = [str(c) for c in chosen]
    submitted = client.post(attempt_url, data=form, follow_redirects=False)
    assert submitted.status_code == 303
    result = client.get(submitted.headers["location"])
    score = re.search(r'data-testid="score">([^<]+)<', result.text).group(1)
    assert re.findall(r"\d+", score) == ["4", "4", "3"]  # 4 of 4 correct, 3 points
    # Another browser (no cookie) cannot open the attempt.
    client.cookies.delete("gc_quiz_guest")
    assert client.get(attempt_url).status_code == 404


def test_the_department_follows_a_class_page_to_its_institution(
    client, tw: TrainingWorld, session: Session
) -> None:
    """Every link on a class page opens for the department that oversees it: the institution's
    page, without the institution's own forms."""
    from tests.training.conftest import open_class

    klass = open_class(session, tw)
    session.commit()
    login(client, tw.department_staff.phone)
    page = client.get(f"/training/classes/{klass.id}")
    assert page.status_code == 200
    link = f"/training/institutions/{tw.institution.id}"
    assert f'href="{link}"' in page.text
    institution = client.get(link)
    assert institution.status_code == 200, institution.text
    assert klass.title in institution.text
    assert f'action="{link}/classes"' not in institution.text  # opening classes is theirs
    login(client, tw.other_learner.phone)
    assert client.get(link).status_code == 404
