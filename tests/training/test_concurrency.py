"""Quiz starts and submissions raced by real threads against a committed database (PostgreSQL
in the PostgreSQL run): one active attempt per participant, one scored submission per attempt,
no attempt past the daily limit, and leaderboards equal to the attempts; one enrolment per
learner and course, one progress row per lesson and one completion (one certificate) per
enrolment; one completion (one set of credentials) per class, spending within the class's
funding, one reversal per expense; rosters, registers, accreditations, plans, programme codes
and campaign addresses sent twice at once stored once."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gongchuang.core import organisations
from gongchuang.core.clock import local_today, utcnow
from gongchuang.core.db import Database
from gongchuang.core.errors import Conflict
from gongchuang.core.models import AuditEntry, Credential, OrganisationKind, Person
from gongchuang.core.permissions import SYSTEM
from gongchuang.training import quiz, service, targets
from gongchuang.training.models import (
    Accreditation,
    Attendance,
    ClassTrainee,
    Enrolment,
    LessonProgress,
    Programme,
    ProgrammeTarget,
    QuestionBank,
    QuizAttempt,
    QuizCampaign,
    QuizRegionTally,
    QuizStanding,
    TrainingClass,
)
from gongchuang.training.quiz import attempts as quiz_attempts
from gongchuang.training.schemas import TargetsIn
from tests.core.test_organisation_races import at_once, held_after
from tests.points.test_concurrency import race
from tests.support.databases import fresh_database
from tests.support.principals import acting
from tests.support.world import build_world, make_person
from tests.training import commands
from tests.training.conftest import (
    TrainingWorld,
    add_questions,
    answers_for,
    open_class,
    resident_id,
    roster_csv,
    tw,
)


@pytest.fixture
def db(tmp_path: Path):
    with fresh_database(tmp_path, "quiz_race") as database:
        yield database


def setup_campaign(
    db: Database, players: int, daily_attempt_limit: int = 50
) -> tuple[int, list[str]]:
    with db.transaction() as session:
        world = build_world(session)
        school = organisations.create_organisation(
            session, SYSTEM, name="学校", kind=OrganisationKind.school, region=world.county
        )
        bank = quiz.create_bank(session, SYSTEM, school, "题库")
        add_questions(session, bank.id)
        campaign = quiz.create_campaign(
            session,
            SYSTEM,
            school,
            quiz.CampaignInput(
                slug="race",
                title="答题",
                pools=[{"bank_id": bank.id, "tag": "", "count": 3}],
                daily_attempt_limit=daily_attempt_limit,
                starts_at=utcnow() - timedelta(hours=1),
            ),
        )
        quiz.set_campaign_status(session, SYSTEM, campaign.id, "open")
        keys = []
        for n in range(players):
            person = make_person(session, f"1350000{n:04d}", f"选手{n}")
            person.home_region_id = world.village_a_region.id
            keys.append(quiz.participant_for_person(session, acting(person)).key)
        return campaign.id, keys


def _participant(session, key: str) -> quiz.Participant:  # type: ignore[no-untyped-def]
    person = session.get(Person, int(key[2:]))
    return quiz.Participant(key, person.id, person.name, person.home_region_id)


def test_one_active_attempt_and_one_scored_submission(db: Database) -> None:
    campaign_id, keys = setup_campaign(db, 1)
    key = keys[0]

    def start() -> None:
        with db.transaction() as session:
            campaign = session.get(quiz.QuizCampaign, campaign_id)
            quiz.start_attempt(session, campaign, _participant(session, key))

    succeeded, errors = race([start for _ in range(8)])
    assert succeeded == 8, errors[:2]
    with db.transaction(write=False) as session:
        attempts = session.scalars(select(QuizAttempt)).all()
        assert len(attempts) == 1
        attempt_id = attempts[0].id
        answers = answers_for(session, attempts[0])

    def submit() -> None:
        with db.transaction() as session:
            commands.submit(session, attempt_id, key, secrets.token_urlsafe(12), answers)

    succeeded, errors = race([submit for _ in range(8)])
    assert succeeded == 1
    assert len(errors) == 7 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    with db.transaction(write=False) as session:
        standing = session.scalar(select(QuizStanding))
        assert (standing.attempts, standing.total_score) == (1, 3)


def _play(db: Database, campaign_id: int, key: str) -> None:
    with db.transaction() as session:
        campaign = session.get(quiz.QuizCampaign, campaign_id)
        attempt = quiz.start_attempt(session, campaign, _participant(session, key))
        answers = answers_for(session, attempt)
    with db.transaction() as session:
        commands.submit(session, attempt.id, key, f"play-{attempt.id:08d}", answers)


def test_a_paper_played_during_another_start_does_not_pass_the_daily_limit(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The participant has one of two attempts left. A start that has counted today's attempts
    is held while a second phone starts and submits a paper: the held start must then not
    make a third attempt (the one-active index no longer sees the submitted paper). Held in
    turn, the second phone picks up the first's paper, as it would a moment later."""
    campaign_id, keys = setup_campaign(db, 1, daily_attempt_limit=2)
    key = keys[0]
    _play(db, campaign_id, key)

    def start() -> None:
        with db.transaction() as session:
            campaign = session.get(quiz.QuizCampaign, campaign_id)
            quiz.start_attempt(session, campaign, _participant(session, key))

    succeeded, errors = at_once(
        db,
        held_after(
            monkeypatch, quiz_attempts, "_draw_paper", start, [lambda: _play(db, campaign_id, key)]
        ),
    )
    with db.transaction(write=False) as session:
        today = session.scalar(
            select(func.count(QuizAttempt.id)).where(
                QuizAttempt.participant_key == key, QuizAttempt.local_day == local_today()
            )
        )
        assert today == 2
        assert session.scalar(select(QuizStanding.attempts)) == 2
    assert (succeeded, errors) == (2, [])
    with pytest.raises(Conflict, match="today's 2 attempts"):
        _play(db, campaign_id, key)


def test_leaderboards_stay_exact_under_concurrent_submissions(db: Database) -> None:
    campaign_id, keys = setup_campaign(db, 16)

    def play(key: str):  # type: ignore[no-untyped-def]
        def run() -> None:
            for round_ in range(3):
                with db.transaction() as session:
                    campaign = session.get(quiz.QuizCampaign, campaign_id)
                    attempt = quiz.start_attempt(session, campaign, _participant(session, key))
                    answers = answers_for(session, attempt, right=round_ != 1)
                with db.transaction() as session:
                    commands.submit(session, attempt.id, key, f"race-{attempt.id:08d}", answers)

        return run

    succeeded, errors = race([play(k) for k in keys])
    assert succeeded == 16, errors[:2]
    with db.transaction(write=False) as session:
        per_person = dict(
            session.execute(
                select(QuizAttempt.participant_key, func.sum(QuizAttempt.score))
                .where(QuizAttempt.status == "submitted")
                .group_by(QuizAttempt.participant_key)
            ).all()
        )
        standings = dict(
            session.execute(select(QuizStanding.participant_key, QuizStanding.total_score)).all()
        )
        assert standings == {k: int(v) for k, v in per_person.items()}
        total, attempts, participants = session.execute(
            select(
                func.sum(QuizRegionTally.total_score),
                func.sum(QuizRegionTally.attempts),
                func.sum(QuizRegionTally.participants),
            )
        ).one()
        assert (total, attempts, participants) == (sum(per_person.values()), 48, 16)
        assert quiz.campaign_totals(session, campaign_id) == (16, 48)
        ranks = sorted(quiz.standing_of(session, campaign_id, k).rank for k in keys)
        assert ranks == list(range(1, 17))


# --- one learner racing themselves -----------------------------------------------------------


def _training_world(db: Database, prepare) -> tuple[dict[str, int], object]:  # type: ignore[no-untyped-def]
    """The training test world (`tw`), committed, with what `prepare(session, tw)` adds."""
    with db.transaction() as session:
        built: TrainingWorld = tw.__wrapped__(session, build_world(session))
        prepared = prepare(session, built)
        ids = {
            "learner": built.learner.id,
            "course": built.course.id,
            "trainer": built.trainer.id,
            "department_staff": built.department_staff.id,
            "department": built.department.id,
            "institution": built.institution.id,
        }
        return ids, prepared


def _lessons_done(session, built: TrainingWorld, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    learner = acting(built.learner)
    service.enrol(session, learner, built.course.id)
    lessons = [lesson.id for lesson in service.lessons_of(session, built.course.id)]
    service.record_progress(
        session, learner, [service.ProgressItem(i, 0, True, utcnow()) for i in lessons[:count]]
    )
    return lessons


def _pass_course_quiz(session, built: TrainingWorld) -> None:  # type: ignore[no-untyped-def]
    participant = quiz.participant_for_person(session, acting(built.learner))
    attempt = quiz.start_attempt(session, built.course_quiz, participant)
    commands.submit(
        session, attempt.id, participant.key, "key-passed", answers_for(session, attempt)
    )


def _acting_as(db: Database, person_id: int, work):  # type: ignore[no-untyped-def]
    def attempt() -> None:
        with db.transaction() as session:
            work(session, acting(session.get(Person, person_id)))

    return attempt


def _as_learner(db: Database, ids: dict[str, int], work):  # type: ignore[no-untyped-def]
    return _acting_as(db, ids["learner"], work)


def test_enrolments_sent_at_once_make_one(db: Database) -> None:
    ids, _ = _training_world(db, lambda session, built: None)
    enrol = _as_learner(db, ids, lambda session, who: service.enrol(session, who, ids["course"]))
    succeeded, errors = race([enrol for _ in range(6)])
    assert (succeeded, errors) == (6, [])
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count(Enrolment.id))) == 1


def test_the_last_lesson_sent_from_two_phones_at_once_completes_the_course_once(
    db: Database,
) -> None:
    def all_but_the_last_lesson(session, built: TrainingWorld) -> int:  # type: ignore[no-untyped-def]
        lessons = _lessons_done(session, built, 1)
        _pass_course_quiz(session, built)
        return lessons[-1]

    ids, last = _training_world(db, all_but_the_last_lesson)
    sync = _as_learner(
        db,
        ids,
        lambda session, who: service.record_progress(
            session, who, [service.ProgressItem(last, 30, True, utcnow())]
        ),
    )
    succeeded, errors = race([sync for _ in range(4)])
    assert (succeeded, errors) == (4, [])
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count(LessonProgress.id))) == 2
        assert session.scalar(select(func.count(Credential.id))) == 1
        enrolment = session.scalar(select(Enrolment))
        assert enrolment.completed_at is not None and enrolment.certificate_code


def test_completing_a_course_twice_at_once_issues_one_certificate(db: Database) -> None:
    def lessons_done_and_quiz_dropped(session, built: TrainingWorld) -> None:  # type: ignore[no-untyped-def]
        _lessons_done(session, built, 2)
        # The publisher drops the final quiz: the learner has met every requirement left, and
        # completes the course by hand (a double tap sends it twice).
        built.course.quiz_campaign_id = None
        session.flush()

    ids, _ = _training_world(db, lessons_done_and_quiz_dropped)
    complete = _as_learner(
        db, ids, lambda session, who: service.complete_course(session, who, ids["course"])
    )
    with db.transaction(write=False) as session:
        assert session.scalar(select(Enrolment.completed_at)) is None
    succeeded, errors = race([complete for _ in range(4)])
    assert (succeeded, errors) == (4, [])
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count(Credential.id))) == 1
        completions = session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "training.course.complete")
        )
        assert completions == 1


# --- offline classes: completion, funding, roster, register ------------------------------------

ROSTER = roster_csv([(f"学员{n}", f"1390000{n:04d}", resident_id(n)) for n in range(3)])


def _class_with_roster(session, built: TrainingWorld, **changes) -> int:  # type: ignore[no-untyped-def]
    klass = open_class(session, built, **changes)
    service.import_roster(session, acting(built.trainer), klass.id, ROSTER, "roster.csv")
    return klass.id


def _class_ready_to_complete(session, built: TrainingWorld) -> int:  # type: ignore[no-untyped-def]
    trainer = acting(built.trainer)
    class_id = _class_with_roster(session, built)
    klass = session.get(TrainingClass, class_id)
    trainees = {t.id for t, _ in service.roster(session, class_id)}
    for n in range(klass.onsite_days):
        day = klass.starts_on + timedelta(days=n)
        service.record_attendance(session, trainer, class_id, day, trainees)
    service.record_assessment(
        session, trainer, class_id, commands.scores(dict.fromkeys(trainees, 90))
    )
    return class_id


def test_completing_a_class_twice_at_once_issues_its_credentials_once(db: Database) -> None:
    ids, class_id = _training_world(db, _class_ready_to_complete)
    complete = _acting_as(
        db, ids["trainer"], lambda session, who: service.complete_class(session, who, class_id)
    )
    succeeded, errors = at_once(db, [complete for _ in range(4)])
    assert succeeded == 1, errors[:2]
    assert len(errors) == 3 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    assert "closed" in str(errors[0])
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count(Credential.id))) == 3
        held = session.scalars(select(ClassTrainee.credential_id)).all()
        assert None not in held and len(set(held)) == 3
        completions = session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "training.class.complete")
        )
        assert completions == 1


def test_expenses_recorded_at_once_stay_within_the_class_funding(db: Database) -> None:
    def funded(session, built: TrainingWorld) -> int:  # type: ignore[no-untyped-def]
        return _class_with_roster(session, built, funding_per_trainee_fen=30_000)

    ids, class_id = _training_world(db, funded)
    spend = _acting_as(
        db,
        ids["trainer"],
        lambda session, who: service.record_expense(
            session, who, class_id, item="lodging", amount_fen=40_000
        ),
    )
    succeeded, errors = at_once(db, [spend for _ in range(5)])
    with db.transaction(write=False) as session:
        funding = service.funding_of(session, session.get(TrainingClass, class_id))
        assert funding.budget_fen == 90_000
        assert funding.spent_fen == 80_000
    assert succeeded == 2
    assert len(errors) == 3 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    assert "more than the class's funding" in str(errors[0])


def test_an_expense_reversed_twice_at_once_is_reversed_once(db: Database) -> None:
    def class_with_an_expense(session, built: TrainingWorld) -> tuple[int, int]:  # type: ignore[no-untyped-def]
        class_id = _class_with_roster(session, built)
        expense = service.record_expense(
            session, acting(built.trainer), class_id, item="lodging", amount_fen=80_000
        )
        return class_id, expense.id

    ids, (class_id, expense_id) = _training_world(db, class_with_an_expense)
    reverse = _acting_as(
        db,
        ids["trainer"],
        lambda session, who: service.reverse_expense(session, who, class_id, expense_id, "录错"),
    )
    succeeded, errors = at_once(db, [reverse for _ in range(4)])
    assert succeeded == 1, errors[:2]
    assert len(errors) == 3 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    assert "already reversed" in str(errors[0])
    with db.transaction(write=False) as session:
        funding = service.funding_of(session, session.get(TrainingClass, class_id))
        assert (funding.spent_fen, len(funding.entries)) == (0, 2)


def test_a_roster_imported_twice_at_once_lists_each_trainee_once(db: Database) -> None:
    ids, class_id = _training_world(
        db, lambda session, built: open_class(session, built, title="第二期").id
    )
    imported = []
    importer = _acting_as(
        db,
        ids["trainer"],
        lambda session, who: imported.append(
            service.import_roster(session, who, class_id, ROSTER, "roster.csv")
        ),
    )
    succeeded, errors = at_once(db, [importer for _ in range(3)])
    assert (succeeded, errors) == (3, [])
    assert sorted((r.added, r.registered, r.unchanged) for r in imported) == [
        (0, 0, 3),
        (0, 0, 3),
        (3, 3, 0),
    ]
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count(ClassTrainee.id))) == 3
        assert (
            session.scalar(select(func.count(Person.id)).where(Person.phone.like("1390000%"))) == 3
        )


def test_a_days_register_sent_twice_at_once_keeps_one_mark_per_trainee(db: Database) -> None:
    ids, class_id = _training_world(db, _class_with_roster)
    with db.transaction(write=False) as session:
        day = session.get(TrainingClass, class_id).starts_on
        trainees = sorted(session.scalars(select(ClassTrainee.id)))
    registers = [set(trainees), set(trainees[:1])]
    mark = [
        _acting_as(
            db,
            ids["trainer"],
            lambda session, who, present=present: service.record_attendance(
                session, who, class_id, day, present
            ),
        )
        for present in registers
    ]
    succeeded, errors = at_once(db, mark)
    assert (succeeded, errors) == (2, [])
    with db.transaction(write=False) as session:
        marks = session.execute(select(Attendance.trainee_id, Attendance.present)).all()
        assert sorted(t for t, _ in marks) == trainees
        assert {t for t, present in marks if present} in registers


# --- accreditation, programmes, campaigns ------------------------------------------------------


def test_an_institution_accredited_twice_at_once_holds_one_accreditation(db: Database) -> None:
    def second_institution(session, built: TrainingWorld) -> int:  # type: ignore[no-untyped-def]
        return organisations.create_organisation(
            session,
            SYSTEM,
            name="县农广校",
            kind=OrganisationKind.school,
            region=built.world.county,
        ).id

    ids, institution_id = _training_world(db, second_institution)
    until = [local_today() + timedelta(days=days) for days in (100, 200, 300)]

    def accredit(valid_until):  # type: ignore[no-untyped-def]
        def work(session, who) -> None:  # type: ignore[no-untyped-def]
            service.accredit(
                session,
                who,
                organisations.get_organisation(session, ids["department"]),
                organisations.get_organisation(session, institution_id),
                accreditation_no="HN-002",
                valid_until=valid_until,
            )

        return _acting_as(db, ids["department_staff"], work)

    succeeded, errors = at_once(db, [accredit(day) for day in until])
    assert (succeeded, errors) == (3, [])
    with db.transaction(write=False) as session:
        held = session.scalars(
            select(Accreditation).where(Accreditation.institution_organisation_id == institution_id)
        ).all()
        assert len(held) == 1 and held[0].valid_until in until
        assert service.active_accreditation(session, institution_id) is not None


def test_a_programme_code_taken_twice_at_once_makes_one_programme(db: Database) -> None:
    ids, _ = _training_world(db, lambda session, built: None)
    year = local_today().year

    def create(session, who) -> None:  # type: ignore[no-untyped-def]
        targets.create_programme(
            session,
            who,
            organisations.get_organisation(session, ids["department"]),
            code="WCGYZ",
            name="为村耕耘者",
            start_year=year,
            end_year=year + 2,
        )

    succeeded, errors = at_once(
        db, [_acting_as(db, ids["department_staff"], create) for _ in range(3)]
    )
    assert succeeded == 1, errors[:2]
    assert len(errors) == 2 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    assert "already has this code" in str(errors[0])
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count(Programme.id))) == 1


def test_a_plan_replaced_twice_at_once_is_one_of_the_two(db: Database) -> None:
    year = local_today().year

    def programme(session, built: TrainingWorld) -> int:  # type: ignore[no-untyped-def]
        created = targets.create_programme(
            session,
            acting(built.department_staff),
            built.department,
            code="WCGYZ",
            name="为村耕耘者",
            start_year=year,
            end_year=year + 1,
        )
        targets.set_targets(
            session,
            acting(built.department_staff),
            created.id,
            commands.plan(("430000", year, "offline", 10)),
        )
        return created.id

    ids, programme_id = _training_world(db, programme)
    plans = [
        commands.plan(
            ("430000", year, "offline", planned),
            ("430000", year + 1, "offline", planned * 2),
        ).targets
        for planned in (30, 40)
    ]
    replace = [
        _acting_as(
            db,
            ids["department_staff"],
            lambda session, who, rows=rows: targets.set_targets(
                session, who, programme_id, TargetsIn(targets=rows)
            ),
        )
        for rows in plans
    ]
    succeeded, errors = at_once(db, replace)
    assert (succeeded, errors) == (2, [])
    with db.transaction(write=False) as session:
        stored = sorted(
            session.execute(select(ProgrammeTarget.year, ProgrammeTarget.cumulative_planned)).all()
        )
        assert stored in [sorted((r.year, r.cumulative_planned) for r in rows) for rows in plans]


def test_a_campaign_address_taken_twice_at_once_makes_one_campaign(db: Database) -> None:
    ids, bank_id = _training_world(
        db, lambda session, built: session.scalar(select(QuestionBank.id))
    )

    def create(session, who) -> None:  # type: ignore[no-untyped-def]
        quiz.create_campaign(
            session,
            who,
            organisations.get_organisation(session, ids["institution"]),
            quiz.CampaignInput(
                slug="spring-quiz",
                title="春季答题",
                pools=[{"bank_id": bank_id, "tag": "", "count": 3}],
            ),
        )

    succeeded, errors = at_once(db, [_acting_as(db, ids["trainer"], create) for _ in range(3)])
    assert succeeded == 1, errors[:2]
    assert len(errors) == 2 and all(isinstance(e, Conflict) for e in errors), errors[:2]
    assert "already uses this web address" in str(errors[0])
    with db.transaction(write=False) as session:
        assert (
            session.scalar(
                select(func.count(QuizCampaign.id)).where(QuizCampaign.slug == "spring-quiz")
            )
            == 1
        )
