"""Demo data for rural training and quizzes: the provincial programme with its three-year plan,
accredited institutions in two provinces with past classes, online courses with lessons written
for villagers, and two question banks (emergency knowledge, low-carbon living) with campaigns
already played by demo people."""

from __future__ import annotations

import io
import random
import secrets
from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gongchuang.core import files, organisations
from gongchuang.core.clock import local_today, utcnow
from gongchuang.core.models import Organisation, OrganisationKind, Person, Region
from gongchuang.core.permissions import SYSTEM, Principal
from gongchuang.training import quiz, service, targets
from gongchuang.training.demo_content import COURSES, EMERGENCY_QUESTIONS, LOW_CARBON_QUESTIONS
from gongchuang.training.models import ClassTrainee, LessonKind, Question, TrainingClass
from gongchuang.training.schemas import (
    AssessmentIn,
    LessonIn,
    ScoreIn,
    SubmissionIn,
    TargetIn,
    TargetsIn,
)

DEMO_TRAINEE_NAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"


def _pdf_card(title: str, lines: list[str]) -> bytes:
    from reportlab.lib.pagesizes import A5
    from reportlab.pdfgen import canvas

    from gongchuang.core.pdf import register_cjk_font

    font = register_cjk_font()
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A5)
    pdf.setTitle(title)
    width, height = A5
    pdf.setFont(font, 18)
    pdf.drawCentredString(width / 2, height - 50, title)
    pdf.setFont(font, 11)
    y = height - 90
    for line in lines:
        pdf.drawString(30, y, line)
        y -= 20
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def _questions(
    session: Session, bank_id: int, rows: list[tuple[str, str, list[str], list[int], str, str, str]]
) -> None:
    for kind, stem, options, correct, explanation, source, tag in rows:
        quiz.add_question(
            session,
            SYSTEM,
            bank_id,
            quiz.QuestionInput(kind, stem, options, correct, explanation, source, tag),
        )


def _roster_csv(
    rng: random.Random, count: int, phone_base: int, resident_id: Callable[[], str]
) -> bytes:
    lines = ["姓名,手机号,身份证号,职务"]
    for n in range(count):
        name = rng.choice(DEMO_TRAINEE_NAMES) + rng.choice("建国秀英志强桂兰海燕红梅德华春生")
        position = rng.choice(["村支书", "村主任", "合作社理事长", "致富带头人"])
        lines.append(f"{name},{phone_base + n},{resident_id()},{position}")
    return ("\n".join(lines) + "\n").encode()


def _past_class(
    session: Session,
    rng: random.Random,
    institution: Organisation,
    actor: Principal,
    programme_id: int,
    *,
    title: str,
    starts_on: date,
    trainees: int,
    phone_base: int,
    resident_id: Callable[[], str],
    credential: tuple[str, str, int] | None = None,
) -> TrainingClass:
    """A class run through the service as an institution would, then dated in the past."""
    klass = service.create_class(
        session,
        actor,
        institution,
        service.ClassInput(
            title=title,
            cohort=f"{starts_on.year}年第{(starts_on.month + 2) // 3}期",
            starts_on=starts_on,
            ends_on=starts_on + timedelta(days=10),
            onsite_days=11,
            online_hours=32,
            programme_id=programme_id,
            venue=f"{institution.name}培训楼",
            trainer_name=rng.choice(["刘教授", "陈老师", "黄研究员", "周医生"]),
            funding_per_trainee_fen=320000,
            credential_kind=credential[0] if credential else None,
            credential_title=credential[1] if credential else "",
            credential_valid_days=credential[2] if credential else None,
        ),
    )
    service.import_roster(
        session, actor, klass.id, _roster_csv(rng, trainees, phone_base, resident_id), "roster.csv"
    )
    roster = service.roster(session, klass.id)
    for offset in range(11):
        present = {t.id for t, _p in roster if rng.random() < 0.95}
        service.record_attendance(
            session, actor, klass.id, klass.starts_on + timedelta(days=offset), present
        )
    service.record_assessment(
        session,
        actor,
        klass.id,
        AssessmentIn(
            scores=[ScoreIn(trainee_id=t.id, score=rng.randint(52, 98)) for t, _p in roster]
        ),
    )
    for item, share in (("teaching", 0.35), ("lodging", 0.4), ("materials", 0.1)):
        service.record_expense(
            session,
            actor,
            klass.id,
            item=item,
            amount_fen=int(klass.funding_per_trainee_fen * len(roster) * share),
        )
    service.complete_class(session, actor, klass.id)
    finished = utcnow() - timedelta(days=(local_today() - klass.ends_on).days)
    klass.completed_at = finished
    session.execute(
        update(ClassTrainee)
        .where(ClassTrainee.class_id == klass.id, ClassTrainee.completed_at.is_not(None))
        .values(completed_at=finished)
    )
    return klass


def load_demo(
    session: Session,
    rng: random.Random,
    *,
    hospital: Organisation,
    department_person: Person,
    institution_person: Person,
    learner_phones: list[str],
    resident_id: Callable[[str], str],
) -> str:
    today = local_today()
    hunan = session.scalar(select(Region).where(Region.code == "430000"))
    guizhou = session.scalar(select(Region).where(Region.code == "520000"))
    loudi = session.scalar(select(Region).where(Region.code == "431300"))
    if not (hunan and guizhou and loudi):
        raise RuntimeError("the demo needs the regions of Hunan and Guizhou loaded first")

    def org(name: str, kind: OrganisationKind, region: Region, about: str) -> Organisation:
        return organisations.create_organisation(
            session, SYSTEM, name=name, kind=kind, region=region, description=about
        )

    province = org(
        "湖南省农业农村厅（示范）",
        OrganisationKind.government_department,
        hunan,
        "“为村耕耘者”项目的省级主管部门：认定培训机构、下达目标、抽查。",
    )
    guizhou_department = org(
        "贵州省农业农村厅（示范）",
        OrganisationKind.government_department,
        guizhou,
        "贵州省项目主管部门。",
    )
    academy = org(
        "湖南乡村振兴培训学院（示范）",
        OrganisationKind.school,
        loudi,
        "省级认定的乡村振兴带头人培训机构。",
    )
    guizhou_school = org(
        "黔东南乡村人才培训学校（示范）", OrganisationKind.school, guizhou, "贵州省认定的培训机构。"
    )
    organisations.add_member(
        session,
        SYSTEM,
        province,
        phone=department_person.phone,
        roles=["admin", "department_staff"],
        title="处长",
        check=False,
    )
    organisations.add_member(
        session,
        SYSTEM,
        academy,
        phone=institution_person.phone,
        roles=["admin", "trainer"],
        title="校长",
        check=False,
    )
    department_actor = Principal(person_id=department_person.id, name=department_person.name)
    institution_actor = Principal(person_id=institution_person.id, name=institution_person.name)

    start_year = today.year - 1
    programme = targets.create_programme(
        session,
        department_actor,
        province,
        code=f"WCGYZ-{start_year}",
        name=f"为村耕耘者乡村振兴带头人培训（{start_year}–{start_year + 2}）",
        start_year=start_year,
        end_year=start_year + 2,
    )
    plan: list[TargetIn] = []
    for region, offline, online in (
        (hunan, (120, 280, 400), (600, 1400, 2000)),
        (guizhou, (60, 140, 200), (300, 700, 1000)),
    ):
        for index, year in enumerate(range(start_year, start_year + 3)):
            for mode, planned in (("offline", offline[index]), ("online", online[index])):
                plan.append(
                    TargetIn(
                        region_code=region.code, year=year, mode=mode, cumulative_planned=planned
                    )
                )
    targets.set_targets(session, SYSTEM, programme.id, TargetsIn(targets=plan))

    valid_until = today + timedelta(days=3 * 365)
    for department, institution in (
        (province, academy),
        (province, hospital),
        (guizhou_department, guizhou_school),
    ):
        service.accredit(
            session,
            SYSTEM,
            department,
            institution,
            accreditation_no=f"PX-{department.id:03d}-{institution.id:04d}",
            valid_until=valid_until,
        )

    def new_id() -> str:
        return resident_id("431322")

    phone = 13600000000
    classes = 0
    plans = [
        (academy, institution_actor, "乡村振兴带头人示范班", None),
        (guizhou_school, SYSTEM, "村党组织书记能力提升班", None),
        (hospital, SYSTEM, "应急救护员培训班", ("first_aid", "红十字救护员证", 730)),
    ]
    for months_ago in (14, 11, 8, 6, 4, 2):
        for institution, actor, title, credential in plans:
            starts = today - timedelta(days=30 * months_ago + rng.randint(0, 20))
            if starts.year < start_year:
                continue
            _past_class(
                session,
                rng,
                institution,
                actor,
                programme.id,
                title=title,
                starts_on=starts,
                trainees=rng.randint(18, 30),
                phone_base=phone,
                resident_id=new_id,
                credential=credential,
            )
            phone += 100
            classes += 1
    upcoming = service.create_class(
        session,
        institution_actor,
        academy,
        service.ClassInput(
            title="乡村振兴带头人示范班",
            cohort=f"{today.year}年冬季班",
            starts_on=today,
            ends_on=today + timedelta(days=10),
            onsite_days=11,
            online_hours=32,
            programme_id=programme.id,
            venue="湖南乡村振兴培训学院培训楼",
            trainer_name="刘教授",
            funding_per_trainee_fen=320000,
        ),
    )
    service.import_roster(
        session,
        institution_actor,
        upcoming.id,
        _roster_csv(rng, 24, phone, new_id),
        "roster.csv",
    )
    service.spot_check(
        session,
        department_actor,
        upcoming.id,
        province,
        checked_on=today,
        present_count=23,
        finding="satisfactory",
        note="",
    )

    emergency_bank = quiz.create_bank(
        session, SYSTEM, hospital, "应急百问题库", "急救、防火、防灾常识。"
    )
    _questions(session, emergency_bank.id, EMERGENCY_QUESTIONS)
    carbon_bank = quiz.create_bank(
        session, SYSTEM, province, "低碳生活题库", "双碳目标、垃圾分类、节能。"
    )
    _questions(session, carbon_bank.id, LOW_CARBON_QUESTIONS)

    course_ids = []
    publisher_for = {"health": hospital}
    for category, title, author, summary, lessons, course_quiz in COURSES:
        publisher = publisher_for.get(category, province)
        course = service.create_course(
            session,
            SYSTEM,
            publisher,
            service.CourseInput(title, summary, category, author, programme.id),
        )
        for lesson_title, body in lessons:
            service.add_lesson(
                session,
                SYSTEM,
                course.id,
                LessonIn(title=lesson_title, kind="text", body=body, duration_seconds=600),
            )
        if category == "agriculture":
            card = files.save_upload(
                session,
                SYSTEM,
                filename="水稻病虫害识别卡.pdf",
                data=_pdf_card(
                    "水稻常见病虫害识别卡",
                    [
                        "稻瘟病：叶片梭形病斑，中央灰白、边缘褐色。",
                        "纹枯病：叶鞘云纹状病斑，高温高湿易发。",
                        "稻飞虱：聚集稻丛基部吸汁，严重时成片倒伏。",
                        "二化螟：钻蛀茎秆，造成枯心和白穗。",
                    ],
                ),
            )
            service.add_lesson(
                session,
                SYSTEM,
                course.id,
                LessonIn(
                    title="病虫害识别卡（可下载）",
                    kind=LessonKind.document.value,
                    body="下载这张识别卡，下田时对照查看。",
                ),
                card,
            )
        if course_quiz:
            quiz.set_course_quiz(
                session,
                SYSTEM,
                course.id,
                bank_id=emergency_bank.id,
                tag=course_quiz[0],
                count=course_quiz[1],
                pass_percent=60,
            )
        service.set_course_status(session, SYSTEM, course.id, "published")
        course_ids.append(course.id)

    # Learners who finished the policy course over the past months (online progress).
    learners = list(session.scalars(select(Person).where(Person.phone.in_(learner_phones))))
    completed = 0
    for person in learners:
        actor = Principal(person_id=person.id, name=person.name)
        course_id = course_ids[rng.choice([0, 1, 3])]
        service.enrol(session, actor, course_id)
        course_lessons = service.lessons_of(session, course_id)
        done = course_lessons if rng.random() < 0.7 else course_lessons[:1]
        service.record_progress(
            session, actor, [service.ProgressItem(lesson.id, 0, True, utcnow()) for lesson in done]
        )
        enrolment = service.enrolment_of(session, person.id, course_id)
        if enrolment and enrolment.completed_at:
            # Spread over the past year; they enrolled a few weeks before finishing (a
            # certificate reads "from <enrolled> to <completed>").
            enrolment.completed_at = utcnow() - timedelta(days=rng.randint(5, 330))
            enrolment.enrolled_at = enrolment.completed_at - timedelta(days=rng.randint(3, 40))
            completed += 1

    now = utcnow()
    campaigns = []
    for slug, title, bank, points, description in (
        (
            "yingji-baiwen",
            "应急百问（示范）",
            emergency_bank,
            (1, 0, 2),
            "每份试卷5道题，5分钟内完成。答完得1分，全部答对再加2分。\n看看您所在的乡镇能排第几！",
        ),
        (
            "ditan-dati",
            "低碳生活知识答题（示范）",
            carbon_bank,
            (0, 1, 2),
            "每答对一题得1分，全对再加2分。每天可以答3次。",
        ),
    ):
        campaigns.append(
            quiz.create_campaign(
                session,
                SYSTEM,
                session.get(Organisation, bank.organisation_id) or province,
                quiz.CampaignInput(
                    slug=slug,
                    title=title,
                    description=description,
                    pools=[{"bank_id": bank.id, "tag": "", "count": 5}],
                    starts_at=now - timedelta(days=10),
                    ends_at=now + timedelta(days=60),
                    time_limit_seconds=300,
                    daily_attempt_limit=3,
                    points_for_completing=points[0],
                    points_per_correct=points[1],
                    points_for_all_correct=points[2],
                    ranking_level="town",
                ),
            )
        )
        quiz.set_campaign_status(session, SYSTEM, campaigns[-1].id, "open")
    attempts = 0
    for person in learners:
        participant = quiz.participant_for_person(
            session, Principal(person_id=person.id, name=person.name)
        )
        for campaign in campaigns:
            for _ in range(rng.randint(0, 2)):
                attempt = quiz.start_attempt(session, campaign, participant)
                answers = []
                for item in attempt.paper:
                    question = session.get(Question, item["q"])
                    if question is None:
                        raise LookupError(f"question {item['q']} of attempt {attempt.id}")
                    right = [item["order"].index(i) for i in question.correct]
                    wrong = [(right[0] + 1) % len(item["order"])]
                    answers.append(right if rng.random() < 0.8 else wrong)
                quiz.submit_attempt(
                    session,
                    attempt.id,
                    participant.key,
                    SubmissionIn(submission_key=secrets.token_urlsafe(12), answers=answers),
                )
                attempts += 1
    session.flush()
    return (
        f"training: 1 programme, 3 institutions, {classes} past classes, {len(course_ids)} courses "
        f"({completed} online completions), 2 question banks "
        f"({len(EMERGENCY_QUESTIONS) + len(LOW_CARBON_QUESTIONS)} questions), "
        f"{attempts} quiz attempts"
    )
