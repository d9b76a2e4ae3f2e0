"""A provincial department, an accredited institution with a trainer, a course with a quiz,
a question bank and an open public campaign, and learners."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from gongchuang.core import organisations, regions
from gongchuang.core.clock import local_today, utcnow
from gongchuang.core.identity import id_check_digit
from gongchuang.core.models import Organisation, OrganisationKind, Person
from gongchuang.core.permissions import SYSTEM
from gongchuang.training import quiz, service
from gongchuang.training.models import Course, QuizCampaign, TrainingClass
from tests.support.principals import acting
from tests.support.world import World, make_person

QUESTIONS = [
    ("single", "按压频率？", ["60", "80", "110", "140"], [2], "100～120次/分。", "AHA 2020", "cpr"),
    ("single", "按压深度？", ["3厘米", "5～6厘米", "8厘米"], [1], "5～6厘米。", "AHA 2020", "cpr"),
    ("true_false", "先确认环境安全？", [], [0], "先保证安全。", "红十字会", "cpr"),
    (
        "multiple",
        "低碳做法？",
        ["自带袋子", "随手关灯", "一次性餐具"],
        [0, 1],
        "前两项。",
        "生态环境部",
        "life",
    ),
    ("true_false", "燃气泄漏开灯查？", [], [1], "会产生电火花。", "消防救援局", "fire"),
]


def add_questions(session: Session, bank_id: int) -> None:
    for kind, stem, options, correct, explanation, source, tag in QUESTIONS:
        quiz.add_question(
            session,
            SYSTEM,
            bank_id,
            quiz.QuestionInput(kind, stem, options, correct, explanation, source, tag),
        )


def resident_id(serial: int, region: str = "431322") -> str:
    first17 = f"{region}19800101{serial:03d}"
    return first17 + id_check_digit(first17)


def roster_csv(rows: list[tuple[str, str, str]]) -> bytes:
    lines = ["姓名,手机号,身份证号,职务"] + [f"{n},{p},{i},村支书" for n, p, i in rows]
    return ("\n".join(lines) + "\n").encode()


def answers_for(session: Session, attempt, right: bool = True) -> list[list[int]]:  # type: ignore[no-untyped-def]
    """The shown positions a participant who knows (or does not know) the answers would pick."""
    out = []
    for item in attempt.paper:
        question = session.get(quiz.Question, item["q"])
        correct = sorted(item["order"].index(i) for i in question.correct)
        out.append(correct if right else [(correct[0] + 1) % len(item["order"])])
    return out


@dataclass
class TrainingWorld:
    world: World
    department: Organisation
    institution: Organisation
    department_staff: Person
    trainer: Person
    learner: Person
    other_learner: Person
    course: Course
    course_quiz: QuizCampaign
    campaign: QuizCampaign


@pytest.fixture
def tw(session: Session, world: World) -> TrainingWorld:
    province = regions.get_region(session, "430000")
    department = organisations.create_organisation(
        session,
        SYSTEM,
        name="湖南省农业农村厅",
        kind=OrganisationKind.government_department,
        region=province,
    )
    institution = organisations.create_organisation(
        session, SYSTEM, name="乡村振兴培训学院", kind=OrganisationKind.school, region=world.county
    )
    staff = make_person(session, "13700000100", "省厅处长")
    trainer = make_person(session, "13700000101", "培训老师")
    learner = make_person(session, "13700000102", "学员甲")
    learner.home_region_id = world.village_a_region.id
    other = make_person(session, "13700000103", "学员乙")
    organisations.add_member(
        session, SYSTEM, department, phone=staff.phone, roles=["department_staff"], check=False
    )
    organisations.add_member(
        session, SYSTEM, institution, phone=trainer.phone, roles=["admin", "trainer"], check=False
    )
    service.accredit(
        session,
        SYSTEM,
        department,
        institution,
        accreditation_no="HN-001",
        valid_until=local_today() + timedelta(days=365),
    )
    bank = quiz.create_bank(session, SYSTEM, institution, "题库")
    add_questions(session, bank.id)
    course = service.create_course(
        session,
        SYSTEM,
        institution,
        service.CourseInput(
            "心肺复苏",
            "理论课",
            "health",
            "急诊科",
            credential_kind="aed_operator",
            credential_title="AED操作员",
            credential_valid_days=730,
        ),
    )
    for n in range(2):
        service.add_lesson(
            session, SYSTEM, course.id, service.LessonInput(f"第{n + 1}课", "text", "正文。")
        )
    course_quiz = quiz.set_course_quiz(
        session, SYSTEM, course.id, bank_id=bank.id, tag="cpr", count=3, pass_percent=60
    )
    service.set_course_status(session, SYSTEM, course.id, "published")
    campaign = quiz.create_campaign(
        session,
        SYSTEM,
        institution,
        quiz.CampaignInput(
            slug="test-quiz",
            title="答题",
            pools=[{"bank_id": bank.id, "tag": "", "count": 4}],
            time_limit_seconds=300,
            daily_attempt_limit=3,
            ranking_level="county",
            starts_at=utcnow() - timedelta(days=1),
        ),
    )
    quiz.set_campaign_status(session, SYSTEM, campaign.id, "open")
    session.flush()
    return TrainingWorld(
        world,
        department,
        institution,
        staff,
        trainer,
        learner,
        other,
        course,
        course_quiz,
        campaign,
    )


def open_class(session: Session, tw: TrainingWorld, **changes) -> TrainingClass:  # type: ignore[no-untyped-def]
    today = local_today()
    data = {
        "title": "带头人示范班",
        "starts_on": today - timedelta(days=10),
        "ends_on": today,
        "onsite_days": 3,
        "venue": "培训楼",
        "trainer_name": "刘老师",
        "funding_per_trainee_fen": 100_000,
        "credential_kind": "first_aid",
        "credential_title": "红十字救护员证",
        "credential_valid_days": 730,
    }
    data.update(changes)
    return service.create_class(
        session, acting(tw.trainer), tw.institution, service.ClassInput(**data)
    )
