"""Training and quiz rules through the service layer, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gongchuang.core import credentials
from gongchuang.core.clock import local_today, utcnow
from gongchuang.core.errors import Conflict, InvalidInput, NotFound
from gongchuang.core.models import Credential, Notification, Person
from gongchuang.core.permissions import SYSTEM
from gongchuang.training import quiz, service, targets
from gongchuang.training.models import (
    Accreditation,
    Attendance,
    ClassTrainee,
    LessonProgress,
    QuizAttempt,
    QuizRegionTally,
    QuizStanding,
)
from tests.support.principals import acting
from tests.support.spreadsheets import xlsx as workbook
from tests.support.world import make_person
from tests.training.commands import plan, scores, submit
from tests.training.conftest import (
    QUESTIONS,
    TrainingWorld,
    answers_for,
    open_class,
    resident_id,
    roster_csv,
)

# --- roster, attendance, completion, credentials -----------------------------------------------


def test_roster_import_attendance_completion_issue_credentials(session, tw: TrainingWorld):
    trainer = acting(tw.trainer)
    klass = open_class(session, tw)
    result = service.import_roster(
        session,
        trainer,
        klass.id,
        roster_csv(
            [
                ("张三", "13900000001", resident_id(1)),
                ("李四", "13900000002", resident_id(2)),
                ("王五", "13900000003", resident_id(3)),
            ]
        ),
        "roster.csv",
    )
    assert (result.added, result.registered, result.unchanged) == (3, 3, 0)
    roster = service.roster(session, klass.id)
    ids = {person.name: trainee.id for trainee, person in roster}
    # The ID number is kept only as a hash and a masked form.
    person = session.scalar(select(Person).where(Person.phone == "13900000001"))
    assert person.id_number_masked and "*" in person.id_number_masked
    days = [klass.starts_on + timedelta(days=n) for n in range(3)]
    for day in days:
        service.record_attendance(session, trainer, klass.id, day, {ids["张三"], ids["李四"]})
    service.record_attendance(
        session, trainer, klass.id, days[0], {ids["张三"], ids["李四"], ids["王五"]}
    )
    service.record_assessment(
        session, trainer, klass.id, scores({ids["张三"]: 90, ids["李四"]: 40, ids["王五"]: 95})
    )
    outcome = service.complete_class(session, trainer, klass.id)
    assert (outcome.completed, outcome.not_passed, outcome.credentials) == (1, 2, 1)
    statuses = {p.name: (t.status, t.outcome_note) for t, p in service.roster(session, klass.id)}
    assert statuses["张三"][0] == "completed"
    assert statuses["李四"] == ("not_passed", "assessment 40 < 60")
    assert statuses["王五"] == ("not_passed", "attendance 1/3 days")
    # The credential is in the core registry, readable by the emergency and volunteer modules.
    zhang = session.scalar(select(Person).where(Person.phone == "13900000001"))
    assert credentials.holders(session, "first_aid", [zhang.id]) == {zhang.id}
    held = credentials.valid_credentials(session, "first_aid", person_id=zhang.id)[0]
    assert held.valid_until and (held.valid_until - utcnow()).days in (729, 730)
    # A completed class is closed to changes.
    with pytest.raises(Conflict):
        service.record_assessment(session, trainer, klass.id, scores({ids["李四"]: 99}))
    with pytest.raises(Conflict):
        service.complete_class(session, trainer, klass.id)


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ([("张三", "13900000001", "431322198001010011")], "resident ID number is invalid"),
        (
            [("张三", "13900000001", resident_id(1)), ("李四", "13900000001", resident_id(2))],
            "phone repeats line 3",
        ),
        ([("张三", "12345", resident_id(1))], "is not an 11-digit mobile number"),
        (
            [("张三", "13900000001", resident_id(1)), ("李四", "13900000002", resident_id(1))],
            "resident ID repeats line 3",
        ),
    ],
)
def test_bad_roster_rows_store_nothing(session, tw: TrainingWorld, rows, problem):
    klass = open_class(session, tw)
    people_before = session.scalar(select(func.count(Person.id)))
    good = [("好人", "13900000099", resident_id(99))]
    with pytest.raises(InvalidInput) as caught:
        service.import_roster(
            session, acting(tw.trainer), klass.id, roster_csv(good + rows), "r.csv"
        )
    assert any(problem in e["message"] for e in caught.value.errors)
    assert all(isinstance(e["line"], int) for e in caught.value.errors)
    assert session.scalar(select(func.count(ClassTrainee.id))) == 0
    assert session.scalar(select(func.count(Person.id))) == people_before


def test_roster_from_excel_and_existing_people(session, tw: TrainingWorld):
    klass = open_class(session, tw)
    make_person(session, "13900000005", "已注册")
    data = workbook(
        [
            ["姓名", "手机号码", "身份证号码", "职务"],
            ["已注册", "13900000005", resident_id(5), "村主任"],
            ["新学员", "13900000006", resident_id(6), ""],
        ]
    )
    result = service.import_roster(session, acting(tw.trainer), klass.id, data, "roster.xlsx")
    assert (result.added, result.registered) == (2, 1)
    again = service.import_roster(session, acting(tw.trainer), klass.id, data, "roster.xlsx")
    assert (again.added, again.unchanged) == (0, 2)
    # The same phone with another person's ID number is refused.
    clash = workbook([["姓名", "手机号", "身份证号"], ["冒名", "13900000007", resident_id(5)]])
    with pytest.raises(InvalidInput, match="different phone"):
        service.import_roster(session, acting(tw.trainer), klass.id, clash, "c.xlsx")


def test_class_rules(session, tw: TrainingWorld):
    trainer = acting(tw.trainer)
    with pytest.raises(InvalidInput):
        open_class(session, tw, onsite_days=30)  # more days on site than the class lasts
    future = open_class(
        session, tw, starts_on=local_today(), ends_on=local_today() + timedelta(days=5)
    )
    service.import_roster(
        session, trainer, future.id, roster_csv([("甲", "13900000011", resident_id(11))]), "r.csv"
    )
    with pytest.raises(InvalidInput, match="still to come"):
        service.record_attendance(
            session, trainer, future.id, local_today() + timedelta(days=1), set()
        )
    with pytest.raises(InvalidInput, match="within the class dates"):
        service.record_attendance(
            session, trainer, future.id, local_today() - timedelta(days=3), set()
        )
    with pytest.raises(InvalidInput, match="last day"):
        service.complete_class(session, trainer, future.id)
    # Nobody outside the institution (and its department) sees the class.
    with pytest.raises(NotFound):
        service.get_class_for(session, acting(tw.learner), future.id)
    assert service.get_class_for(session, acting(tw.department_staff), future.id) is future
    with pytest.raises(NotFound):
        service.record_assessment(session, acting(tw.department_staff), future.id, scores({}))
    # Missing scores stop the completion and say how many.
    past = open_class(session, tw)
    service.import_roster(
        session, trainer, past.id, roster_csv([("乙", "13900000012", resident_id(12))]), "r.csv"
    )
    with pytest.raises(InvalidInput, match="no assessment score"):
        service.complete_class(session, trainer, past.id)
    assert session.scalar(select(func.count(Attendance.id))) == 0


def test_no_accreditation_no_classes_and_serious_spot_check_suspends(session, tw: TrainingWorld):
    klass = open_class(session, tw)
    check = service.spot_check(
        session,
        acting(tw.department_staff),
        klass.id,
        tw.department,
        checked_on=local_today(),
        present_count=2,
        finding="serious",
        note="名单上30人，现场只有2人",
    )
    assert check.finding == "serious"
    assert session.scalar(select(Accreditation.status)) == "suspended"
    with pytest.raises(Conflict, match="no valid accreditation"):
        open_class(session, tw)
    with pytest.raises(InvalidInput):
        service.spot_check(
            session,
            acting(tw.department_staff),
            klass.id,
            tw.department,
            checked_on=local_today(),
            present_count=2,
            finding="issues",
            note="",
        )
    with pytest.raises(NotFound):
        service.spot_check(
            session,
            acting(tw.trainer),
            klass.id,
            tw.department,
            checked_on=local_today(),
            present_count=2,
            finding="satisfactory",
        )


def test_funding_ledger_is_append_only_and_capped(session, tw: TrainingWorld):
    trainer = acting(tw.trainer)
    klass = open_class(session, tw, funding_per_trainee_fen=50_000)
    service.import_roster(
        session,
        trainer,
        klass.id,
        roster_csv(
            [("甲", "13900000021", resident_id(21)), ("乙", "13900000022", resident_id(22))]
        ),
        "r.csv",
    )
    spent = service.record_expense(session, trainer, klass.id, item="lodging", amount_fen=80_000)
    with pytest.raises(Conflict, match="more than the class's funding"):
        service.record_expense(session, trainer, klass.id, item="teaching", amount_fen=20_001)
    reversal = service.reverse_expense(session, trainer, klass.id, spent.id, "录入错误")
    assert reversal.amount_fen == -80_000
    with pytest.raises(Conflict):
        service.reverse_expense(session, trainer, klass.id, spent.id, "again")
    funding = service.funding_of(session, klass)
    assert (funding.budget_fen, funding.spent_fen, len(funding.entries)) == (100_000, 0, 2)


# --- courses ----------------------------------------------------------------------------------


def test_course_completion_needs_lessons_and_the_quiz(session, tw: TrainingWorld):
    learner = acting(tw.learner)
    enrolment = service.enrol(session, learner, tw.course.id)
    assert service.enrol(session, learner, tw.course.id).id == enrolment.id
    lessons = service.lessons_of(session, tw.course.id)
    service.record_progress(
        session, learner, [service.ProgressItem(lessons[0].id, 0, True, utcnow())]
    )
    with pytest.raises(InvalidInput, match="not complete"):
        service.complete_course(session, learner, tw.course.id)
    service.record_progress(
        session, learner, [service.ProgressItem(lessons[1].id, 0, True, utcnow())]
    )
    with pytest.raises(InvalidInput) as caught:
        service.complete_course(session, learner, tw.course.id)
    assert [e["message"] for e in caught.value.errors] == ["Pass the course quiz"]
    assert enrolment.completed_at is None and enrolment.certificate_code is None
    # A failed quiz does not complete it; a passed one does, and issues the course's credential.
    participant = quiz.participant_for_person(session, learner)
    failed = quiz.start_attempt(session, tw.course_quiz, participant)
    submit(
        session, failed.id, participant.key, "key-failed", answers_for(session, failed, right=False)
    )
    assert enrolment.completed_at is None
    passed = quiz.start_attempt(session, tw.course_quiz, participant)
    submit(session, passed.id, participant.key, "key-passed", answers_for(session, passed))
    assert enrolment.completed_at is not None and enrolment.certificate_code
    _same, course, person = service.certificate_by_code(session, enrolment.certificate_code)
    assert (course.id, person.id) == (tw.course.id, tw.learner.id)
    assert credentials.holders(session, "aed_operator", [tw.learner.id]) == {tw.learner.id}


def test_course_quiz_only_for_enrolled_learners(session, tw: TrainingWorld):
    participant = quiz.participant_for_person(session, acting(tw.other_learner))
    with pytest.raises(NotFound):
        quiz.start_attempt(session, tw.course_quiz, participant)
    guest = quiz.participant_for_guest(session, quiz.new_guest_token(), "游客")
    with pytest.raises(Conflict):
        quiz.start_attempt(session, tw.course_quiz, guest)


def test_offline_progress_merges_by_time_and_never_undoes_completion(session, tw: TrainingWorld):
    learner = acting(tw.learner)
    service.enrol(session, learner, tw.course.id)
    lesson = service.lessons_of(session, tw.course.id)[0]
    now = utcnow()
    # The phone sends its queue late and out of order: the latest position wins.
    applied = service.record_progress(
        session,
        learner,
        [
            service.ProgressItem(lesson.id, 300, False, now - timedelta(minutes=5)),
            service.ProgressItem(lesson.id, 120, False, now - timedelta(minutes=30)),
            service.ProgressItem(lesson.id, 420, True, now - timedelta(minutes=1)),
        ],
    )
    assert applied == 3
    progress = session.scalar(select(LessonProgress))
    assert progress.position_seconds == 420 and progress.completed_at is not None
    # An older queued position arriving later does not move it back, or undo "done".
    service.record_progress(
        session, learner, [service.ProgressItem(lesson.id, 10, False, now - timedelta(hours=2))]
    )
    assert progress.position_seconds == 420 and progress.completed_at is not None
    # A time from the phone's future is taken as now.
    service.record_progress(
        session, learner, [service.ProgressItem(lesson.id, 500, False, now + timedelta(days=9))]
    )
    assert progress.updated_at <= utcnow()
    with pytest.raises(InvalidInput, match="not enrolled"):
        service.record_progress(
            session, acting(tw.other_learner), [service.ProgressItem(lesson.id, 1, False, now)]
        )


def test_publishing_rules(session, tw: TrainingWorld):
    course = service.create_course(
        session, acting(tw.trainer), tw.institution, service.CourseInput("空课", "", "skills")
    )
    with pytest.raises(InvalidInput, match="at least one lesson"):
        service.set_course_status(session, acting(tw.trainer), course.id, "published")
    with pytest.raises(NotFound):
        service.get_course(session, acting(tw.learner), course.id)  # a draft is invisible
    with pytest.raises(NotFound):
        service.enrol(session, acting(tw.learner), course.id)
    with pytest.raises(InvalidInput):
        service.add_lesson(
            session,
            acting(tw.trainer),
            course.id,
            service.LessonInput("视频", "video", transcript=""),
        )
    with pytest.raises(NotFound):
        service.create_course(
            session, acting(tw.learner), tw.institution, service.CourseInput("x", "", "skills")
        )
    with pytest.raises(InvalidInput):
        service.create_course(
            session, acting(tw.trainer), tw.institution, service.CourseInput("x", "", "nonsense")
        )


# --- quizzes ----------------------------------------------------------------------------------


def test_paper_leaks_no_answers_and_scores_on_the_server(session, tw: TrainingWorld):
    participant = quiz.participant_for_person(session, acting(tw.learner))
    attempt = quiz.start_attempt(session, tw.campaign, participant)
    assert attempt.question_count == 4
    for question in quiz.paper_of(session, attempt):
        assert question.correct is None and question.chosen is None and question.explanation == ""
    # The same participant gets the same running attempt back, not a second one.
    assert quiz.start_attempt(session, tw.campaign, participant).id == attempt.id
    answers = answers_for(session, attempt)
    done = submit(session, attempt.id, participant.key, "first-key-1", answers)
    assert (done.correct_count, done.score) == (4, 1 + 2)
    reviewed = quiz.paper_of(session, done)
    assert all(q.is_correct and q.explanation for q in reviewed)
    # A resend with the same key is the same result; another key is refused; nothing doubles.
    again = submit(session, attempt.id, participant.key, "first-key-1", [[0]] * 4)
    assert again.score == 3
    with pytest.raises(Conflict, match="already submitted"):
        submit(session, attempt.id, participant.key, "other-key-2", answers)
    standing = quiz.standing_of(session, tw.campaign.id, participant.key)
    assert (standing.total_score, standing.attempts, standing.rank) == (3, 1, 1)
    # Someone else's attempt cannot be submitted.
    with pytest.raises(NotFound):
        submit(session, attempt.id, "p:999999", "third-key-3", answers)


def test_bad_answers_time_limit_and_daily_limit(session, tw: TrainingWorld):
    participant = quiz.participant_for_person(session, acting(tw.learner))
    attempt = quiz.start_attempt(session, tw.campaign, participant)
    for answers, message in (
        ([[0]] * 3, "every question"),
        ([[9]] * 4, "choose among its options"),
        ([[0, 0]] + [[0]] * 3, "choose among its options"),
    ):
        with pytest.raises(InvalidInput, match=message):
            submit(session, attempt.id, participant.key, "some-key-1", answers)
    with pytest.raises(InvalidInput, match="key"):
        submit(session, attempt.id, participant.key, "short", [[0]] * 4)
    # Over the time limit (past the grace): refused, and nothing is counted.
    attempt.deadline_at = utcnow() - quiz.GRACE - timedelta(seconds=1)
    with pytest.raises(Conflict, match="time limit"):
        submit(session, attempt.id, participant.key, "late-key-1", answers_for(session, attempt))
    assert attempt.status == "active" and attempt.score == 0
    assert session.scalar(select(func.count(QuizStanding.id))) == 0
    # The job closes it; a closed attempt takes no answers; a new start gives a new paper.
    assert quiz.expire_overdue(session) == 1
    session.refresh(attempt)
    with pytest.raises(Conflict, match="closed"):
        submit(session, attempt.id, participant.key, "late-key-2", answers_for(session, attempt))
    second = quiz.start_attempt(session, tw.campaign, participant)
    submit(session, second.id, participant.key, "key-second", answers_for(session, second))
    third = quiz.start_attempt(session, tw.campaign, participant)
    submit(session, third.id, participant.key, "key-third", answers_for(session, third))
    with pytest.raises(Conflict, match="today's 3 attempts"):
        quiz.start_attempt(session, tw.campaign, participant)


def test_closed_or_future_campaign_takes_no_attempts(session, tw: TrainingWorld):
    participant = quiz.participant_for_person(session, acting(tw.learner))
    quiz.set_campaign_status(session, SYSTEM, tw.campaign.id, "closed")
    with pytest.raises(Conflict, match="not open"):
        quiz.start_attempt(session, tw.campaign, participant)
    quiz.set_campaign_status(session, SYSTEM, tw.campaign.id, "open")
    tw.campaign.starts_at = utcnow() + timedelta(hours=1)
    with pytest.raises(Conflict, match="not open"):
        quiz.start_attempt(session, tw.campaign, participant)


def test_leaderboards_equal_the_attempts(session, tw: TrainingWorld):
    """Running totals (people and sharded regions) are exactly what summing the attempts says."""
    import random

    rng = random.Random(7)
    village_b = tw.world.village_b_region
    players = []
    for n in range(12):
        person = make_person(session, f"1360000{n:04d}", f"选手{n}")
        person.home_region_id = (tw.world.village_a_region if n % 2 else village_b).id
        players.append(quiz.participant_for_person(session, acting(person)))
    players.append(
        quiz.participant_for_guest(session, quiz.new_guest_token(), "游客", tw.world.county.id)
    )
    for participant in players:
        for _ in range(rng.randint(1, 3)):
            attempt = quiz.start_attempt(session, tw.campaign, participant)
            answers = answers_for(session, attempt, right=rng.random() < 0.5)
            submit(session, attempt.id, participant.key, f"key-{attempt.id:06d}", answers)
    attempts = session.scalars(select(QuizAttempt).where(QuizAttempt.status == "submitted")).all()
    totals: dict[str, int] = {}
    for a in attempts:
        totals[a.participant_key] = totals.get(a.participant_key, 0) + a.score
    board = quiz.leaderboard(session, tw.campaign.id, limit=100)
    assert sorted(r.total_score for r in board) == sorted(totals.values())
    assert [r.total_score for r in board] == sorted((r.total_score for r in board), reverse=True)
    regions = quiz.region_leaderboard(session, tw.campaign.id)
    # Every participant ranks in the county (the campaign's ranking level).
    assert [(r.name, r.total_score, r.participants) for r in regions] == [
        ("新化县", sum(a.score for a in attempts), len(players))
    ]
    assert session.scalar(select(func.count()).select_from(QuizRegionTally)) > 1  # sharded
    ranks = {p.key: quiz.standing_of(session, tw.campaign.id, p.key).rank for p in players}
    assert set(ranks.values()) == set(range(1, len(players) + 1))
    # The ranks from the score buckets are the order of the full leaderboard.
    expected = sorted(
        session.scalars(select(QuizStanding).where(QuizStanding.campaign_id == tw.campaign.id)),
        key=lambda s: (-s.total_score, s.reached_at, s.id),
    )
    assert [ranks[s.participant_key] for s in expected] == list(range(1, len(players) + 1))
    assert quiz.campaign_totals(session, tw.campaign.id) == (len(players), len(attempts))


def test_question_import_all_or_nothing(session, tw: TrainingWorld):
    bank = quiz.create_bank(session, acting(tw.trainer), tw.institution, "导入题库")
    header = ["题型", "题目", "选项A", "选项B", "选项C", "答案", "解析", "来源", "标签"]
    good = [
        "单选",
        "一度电是多少？",
        "1瓦时",
        "1千瓦时",
        "1兆瓦时",
        "B",
        "1千瓦时。",
        "国标",
        "energy",
    ]
    rows = [
        header,
        good,
        ["判断", "燃气泄漏开灯？", "", "", "", "错", "电火花。", "", "fire"],
        ["多选", "低碳？", "布袋", "关灯", "", "A", "两项都是。", "", ""],
        ["单选", "没有解析？", "甲", "乙", "", "A", "", "", ""],
        ["问答", "题型不对", "", "", "", "A", "x", "", ""],
        good,
    ]
    with pytest.raises(InvalidInput) as caught:
        quiz.import_questions(session, acting(tw.trainer), bank.id, workbook(rows), "q.xlsx")
    lines = sorted({e["line"] for e in caught.value.errors})
    assert lines == [4, 5, 6, 7]
    assert quiz.questions_of(session, bank.id) == []
    assert (
        quiz.import_questions(session, acting(tw.trainer), bank.id, workbook(rows[:3]), "q.xlsx")
        == 2
    )
    imported = quiz.questions_of(session, bank.id)
    assert (
        imported[0].correct == [1]
        and imported[1].correct == [1]
        and imported[1].kind == "true_false"
    )


def test_campaign_needs_enough_questions(session, tw: TrainingWorld):
    bank_id = tw.campaign.pools[0]["bank_id"]
    with pytest.raises(InvalidInput, match="pools"):
        quiz.create_campaign(
            session,
            acting(tw.trainer),
            tw.institution,
            quiz.CampaignInput(
                slug="too-many", title="x", pools=[{"bank_id": bank_id, "tag": "fire", "count": 2}]
            ),
        )
    with pytest.raises(Conflict):
        quiz.create_campaign(
            session,
            acting(tw.trainer),
            tw.institution,
            quiz.CampaignInput(
                slug="test-quiz", title="x", pools=[{"bank_id": bank_id, "tag": "", "count": 1}]
            ),
        )
    assert len(QUESTIONS) == 5


# --- targets ----------------------------------------------------------------------------------


def test_progress_against_the_plan(session, tw: TrainingWorld):
    year = local_today().year
    programme = targets.create_programme(
        session,
        acting(tw.department_staff),
        tw.department,
        code="WCGYZ",
        name="为村耕耘者",
        start_year=year - 1,
        end_year=year + 1,
    )
    targets.set_targets(
        session,
        acting(tw.department_staff),
        programme.id,
        plan(
            ("430000", year - 1, "offline", 30),
            ("430000", year, "offline", 70),
            ("430000", year + 1, "offline", 100),
            ("430000", year, "online", 500),
        ),
    )
    with pytest.raises(InvalidInput, match="shrinks"):
        targets.set_targets(
            session,
            acting(tw.department_staff),
            programme.id,
            plan(
                ("430000", year - 1, "offline", 50),
                ("430000", year, "offline", 40),
            ),
        )
    with pytest.raises(InvalidInput, match="province"):
        targets.set_targets(
            session,
            acting(tw.department_staff),
            programme.id,
            plan(("431322", year, "offline", 5)),
        )
    trainer = acting(tw.trainer)
    klass = open_class(session, tw, programme_id=programme.id, onsite_days=1)
    service.import_roster(
        session,
        trainer,
        klass.id,
        roster_csv(
            [("甲", "13900000031", resident_id(31)), ("乙", "13900000032", resident_id(32))]
        ),
        "r.csv",
    )
    ids = [t.id for t, _p in service.roster(session, klass.id)]
    service.record_attendance(session, trainer, klass.id, klass.starts_on, set(ids))
    service.record_assessment(session, trainer, klass.id, scores({ids[0]: 80, ids[1]: 10}))
    service.complete_class(session, trainer, klass.id)
    tw.course.programme_id = programme.id
    enrolment = service.enrol(session, acting(tw.learner), tw.course.id)
    enrolment.completed_at = utcnow()
    session.flush()
    report = targets.progress(session, programme, year)
    hunan = report.provinces[0]
    assert hunan.name == "湖南省"
    assert hunan.planned == {"offline": 70, "online": 500}
    assert hunan.actual == {"offline": 1, "online": 1}
    assert hunan.percent("offline") == 1
    assert report.institutions[0].completed == 1 and report.institutions[0].not_passed == 1
    month = f"{year}-{local_today().month:02d}"
    assert report.actual_by_month["offline"][report.months.index(month)] == 1
    assert report.plan_by_month["offline"][report.months.index(f"{year - 1}-12")] == 30
    assert report.plan_by_month["offline"][report.months.index(f"{year}-06")] == 50
    book = targets.progress_workbook(report)
    import io

    from openpyxl import load_workbook

    sheets = load_workbook(io.BytesIO(book)).sheetnames
    assert len(sheets) == 3


def test_renewal_reminders_once_each(session, tw: TrainingWorld):
    now = utcnow()
    person = tw.learner
    credential = credentials.issue_credential(
        session,
        SYSTEM,
        tw.institution,
        person,
        kind="first_aid",
        title="救护员证",
        certificate_no="R-1",
        valid_from=now - timedelta(days=700),
        valid_until=now + timedelta(days=30),
    )
    before = session.scalar(
        select(func.count(Notification.id)).where(Notification.kind == "credential.expiring")
    )
    assert credentials.remind_renewals(session, now) == 1
    assert credentials.remind_renewals(session, now) == 0
    assert credential.reminders_sent == ["60"]
    assert credentials.remind_renewals(session, now + timedelta(days=25)) == 1
    assert credential.reminders_sent == ["60", "7"]
    after = session.scalar(
        select(func.count(Notification.id)).where(Notification.kind == "credential.expiring")
    )
    assert after - before == 2
    # Someone who already renewed is not reminded.
    other = tw.other_learner
    credentials.issue_credential(
        session,
        SYSTEM,
        tw.institution,
        other,
        kind="first_aid",
        title="旧证",
        certificate_no="R-2",
        valid_from=now - timedelta(days=700),
        valid_until=now + timedelta(days=20),
    )
    credentials.issue_credential(
        session,
        SYSTEM,
        tw.institution,
        other,
        kind="first_aid",
        title="新证",
        certificate_no="R-3",
        valid_from=now,
        valid_until=now + timedelta(days=730),
    )
    assert credentials.remind_renewals(session, now) == 0
    assert session.scalar(select(func.count(Credential.id))) >= 3


def test_video_lesson_needs_a_video_file_and_a_transcript(session, tw: TrainingWorld):
    from gongchuang.core import files

    trainer = acting(tw.trainer)
    mp4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
    video = files.save_upload(
        session,
        trainer,
        filename="cpr.mp4",
        data=mp4,
        accepted=service.LESSON_FILE_TYPES[service.LessonKind.video],
    )
    assert video.content_type == "video/mp4"
    with pytest.raises(InvalidInput, match="transcript"):
        service.add_lesson(
            session, trainer, tw.course.id, service.LessonInput("示范", "video"), video
        )
    lesson = service.add_lesson(
        session,
        trainer,
        tw.course.id,
        service.LessonInput("示范", "video", transcript="先判断意识……", duration_seconds=300),
        video,
    )
    assert lesson.position == 3 and lesson.file_id == video.id
    with pytest.raises(InvalidInput, match="expected"):
        service.add_lesson(
            session, trainer, tw.course.id, service.LessonInput("文档", "document"), video
        )
