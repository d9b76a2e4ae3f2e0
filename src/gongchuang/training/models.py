"""Tables of rural training (为村耕耘者) and science quizzes (科普答题).

Online learning: courses, lessons, enrolments and per-lesson progress. Offline training:
accredited institutions run classes with a roster, daily attendance, an assessment, a funding
ledger and departmental spot checks, counted against a programme's yearly targets. Quizzes: banks
of questions, campaigns that draw a paper per attempt, and leaderboards kept as running totals
(one row per participant, a few sharded rows per region) so that reading them never scans the
attempts.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gongchuang.core.clock import utcnow
from gongchuang.core.db import Base
from gongchuang.core.i18n import N_
from gongchuang.core.models import BigId

# --- online courses ---------------------------------------------------------------------------


class CourseStatus(enum.StrEnum):
    draft = "draft"
    published = "published"
    unpublished = "unpublished"  # taken down: enrolled learners keep their record, no new ones


COURSE_STATUS_LABELS = {
    CourseStatus.draft: N_("Draft"),
    CourseStatus.published: N_("Published"),
    CourseStatus.unpublished: N_("Unpublished"),
}


class LessonKind(enum.StrEnum):
    text = "text"
    video = "video"
    document = "document"  # a PDF
    image = "image"  # an illustrated lesson: a picture with its explanation


LESSON_KIND_LABELS = {
    LessonKind.text: N_("Text"),
    LessonKind.video: N_("Video"),
    LessonKind.document: N_("Document (PDF)"),
    LessonKind.image: N_("Illustrated"),
}


class Course(Base):
    __tablename__ = "training_course"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("training_programme.id"))
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(32), index=True)
    author_name: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16), default=CourseStatus.draft, index=True)
    # The course quiz is a quiz campaign of audience "course": one engine for both.
    quiz_campaign_id: Mapped[int | None] = mapped_column(ForeignKey("training_quiz_campaign.id"))
    # Passing can issue a credential into the core registry (e.g. first aid, valid 730 days).
    credential_kind: Mapped[str | None] = mapped_column(String(64))
    credential_title: Mapped[str] = mapped_column(String(200), default="")
    credential_valid_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]


class Lesson(Base):
    __tablename__ = "training_lesson"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("training_course.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default=LessonKind.text)
    body: Mapped[str] = mapped_column(Text, default="")
    transcript: Mapped[str] = mapped_column(Text, default="")  # for a video: read, not heard
    file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_file.id"))
    duration_seconds: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Enrolment(Base):
    __tablename__ = "training_enrolment"
    __table_args__ = (UniqueConstraint("course_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("training_course.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    # The learner's home region when they enrolled: online completions count for its province.
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_lesson_id: Mapped[int | None] = mapped_column(Integer)
    completed_at: Mapped[datetime | None] = mapped_column(index=True)
    certificate_code: Mapped[str | None] = mapped_column(String(24), unique=True)
    credential_id: Mapped[int | None] = mapped_column(ForeignKey("credential.id"))


class LessonProgress(Base):
    __tablename__ = "training_lesson_progress"
    __table_args__ = (UniqueConstraint("enrolment_id", "lesson_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("training_enrolment.id"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("training_lesson.id"))
    position_seconds: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- programmes, institutions and offline classes ----------------------------------------------


class Programme(Base):
    """A training programme of a department (e.g. 为村耕耘者 2022–2024) with yearly targets."""

    __tablename__ = "training_programme"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    start_year: Mapped[int] = mapped_column(Integer)
    end_year: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrainingMode(enum.StrEnum):
    offline = "offline"
    online = "online"


class ProgrammeTarget(Base):
    """People trained by the end of a year, cumulative since the programme began."""

    __tablename__ = "training_programme_target"
    __table_args__ = (UniqueConstraint("programme_id", "region_id", "year", "mode"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("training_programme.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))  # a province
    year: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(16))
    cumulative_planned: Mapped[int] = mapped_column(Integer)


class AccreditationStatus(enum.StrEnum):
    active = "active"
    suspended = "suspended"  # after a failed spot check: no new classes
    revoked = "revoked"


ACCREDITATION_STATUS_LABELS = {
    AccreditationStatus.active: N_("Accredited"),
    AccreditationStatus.suspended: N_("Suspended"),
    AccreditationStatus.revoked: N_("Revoked"),
}


class Accreditation(Base):
    __tablename__ = "training_accreditation"
    __table_args__ = (
        UniqueConstraint("institution_organisation_id", "department_organisation_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id"), index=True
    )
    department_organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id"), index=True
    )
    accreditation_no: Mapped[str] = mapped_column(String(64))
    valid_until: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), default=AccreditationStatus.active)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClassStatus(enum.StrEnum):
    open = "open"  # roster, attendance, assessment
    completed = "completed"
    cancelled = "cancelled"


CLASS_STATUS_LABELS = {
    ClassStatus.open: N_("Open"),
    ClassStatus.completed: N_("Completed"),
    ClassStatus.cancelled: N_("Cancelled"),
}


class TrainingClass(Base):
    """An offline (or blended) class: e.g. 11 days on site and 32 hours online."""

    __tablename__ = "training_class"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id"), index=True
    )
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("training_programme.id"))
    title: Mapped[str] = mapped_column(String(200))
    cohort: Mapped[str] = mapped_column(String(100), default="")
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    onsite_days: Mapped[int] = mapped_column(Integer)
    online_hours: Mapped[int] = mapped_column(Integer, default=0)
    online_course_id: Mapped[int | None] = mapped_column(ForeignKey("training_course.id"))
    venue: Mapped[str] = mapped_column(String(300))
    trainer_name: Mapped[str] = mapped_column(String(100))
    funding_per_trainee_fen: Mapped[int] = mapped_column(Integer, default=0)
    pass_score: Mapped[int] = mapped_column(Integer, default=60)
    min_attendance_percent: Mapped[int] = mapped_column(Integer, default=80)
    credential_kind: Mapped[str | None] = mapped_column(String(64))
    credential_title: Mapped[str] = mapped_column(String(200), default="")
    credential_valid_days: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=ClassStatus.open, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TraineeStatus(enum.StrEnum):
    enrolled = "enrolled"
    completed = "completed"
    not_passed = "not_passed"
    withdrawn = "withdrawn"


TRAINEE_STATUS_LABELS = {
    TraineeStatus.enrolled: N_("Enrolled"),
    TraineeStatus.completed: N_("Completed"),
    TraineeStatus.not_passed: N_("Not passed"),
    TraineeStatus.withdrawn: N_("Withdrawn"),
}


class ClassTrainee(Base):
    __tablename__ = "training_class_trainee"
    __table_args__ = (UniqueConstraint("class_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("training_class.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    position_title: Mapped[str] = mapped_column(String(100), default="")  # 村支书, 合作社理事长
    status: Mapped[str] = mapped_column(String(16), default=TraineeStatus.enrolled)
    assessment_score: Mapped[int | None] = mapped_column(Integer)
    outcome_note: Mapped[str] = mapped_column(String(300), default="")
    credential_id: Mapped[int | None] = mapped_column(ForeignKey("credential.id"))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]


class Attendance(Base):
    __tablename__ = "training_attendance"
    __table_args__ = (UniqueConstraint("trainee_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("training_class.id"), index=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("training_class_trainee.id"))
    day: Mapped[date]
    present: Mapped[bool] = mapped_column(Boolean)
    recorded_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClassExpense(Base):
    """The use of a class's funding: append-only; a correction is a reversing entry, at most
    one per expense (held by the unique `reverses_id`; the expenses themselves have none)."""

    __tablename__ = "training_class_expense"

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("training_class.id"), index=True)
    item: Mapped[str] = mapped_column(String(32))
    amount_fen: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(300), default="")
    reverses_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_class_expense.id"), unique=True
    )
    recorded_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class SpotCheck(Base):
    __tablename__ = "training_spot_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("training_class.id"), index=True)
    department_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    checked_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    checked_on: Mapped[date]
    present_count: Mapped[int] = mapped_column(Integer)
    finding: Mapped[str] = mapped_column(String(16))  # satisfactory | issues | serious
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- quizzes ----------------------------------------------------------------------------------


class QuestionKind(enum.StrEnum):
    single = "single"
    multiple = "multiple"
    true_false = "true_false"


QUESTION_KIND_LABELS = {
    QuestionKind.single: N_("Single choice"),
    QuestionKind.multiple: N_("Multiple choice"),
    QuestionKind.true_false: N_("True or false"),
}


class QuestionBank(Base):
    __tablename__ = "training_question_bank"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Question(Base):
    __tablename__ = "training_question"
    __table_args__ = (Index("ix_training_question_pool", "bank_id", "tag", "active"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("training_question_bank.id"))
    kind: Mapped[str] = mapped_column(String(16))
    stem: Mapped[str] = mapped_column(Text)
    options: Mapped[list[str]] = mapped_column(JSON)
    correct: Mapped[list[int]] = mapped_column(JSON)  # indexes into options
    explanation: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(300), default="")
    tag: Mapped[str] = mapped_column(String(40), default="")  # the pool a campaign draws from
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CampaignStatus(enum.StrEnum):
    draft = "draft"
    open = "open"
    closed = "closed"


CAMPAIGN_STATUS_LABELS = {
    CampaignStatus.draft: N_("Draft"),
    CampaignStatus.open: N_("Open"),
    CampaignStatus.closed: N_("Closed"),
}


class QuizAudience(enum.StrEnum):
    public = "public"  # a campaign page anyone can open
    course = "course"  # a course's final quiz: its enrolled learners only


class QuizCampaign(Base):
    __tablename__ = "training_quiz_campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    audience: Mapped[str] = mapped_column(String(16), default=QuizAudience.public)
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.draft)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    # [{"bank_id": 1, "tag": "cpr", "count": 3}, ...]: a paper draws `count` from each pool.
    pools: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    time_limit_seconds: Mapped[int] = mapped_column(Integer, default=600)
    daily_attempt_limit: Mapped[int] = mapped_column(Integer, default=3)
    points_for_completing: Mapped[int] = mapped_column(Integer, default=1)
    points_per_correct: Mapped[int] = mapped_column(Integer, default=0)
    points_for_all_correct: Mapped[int] = mapped_column(Integer, default=2)
    pass_percent: Mapped[int] = mapped_column(Integer, default=60)
    allow_guests: Mapped[bool] = mapped_column(Boolean, default=True)
    # Regions' contribution ranking counts at this level (county, town ...).
    ranking_level: Mapped[str] = mapped_column(String(16), default="county")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AttemptStatus(enum.StrEnum):
    active = "active"
    submitted = "submitted"
    expired = "expired"  # the time ran out before an answer came: scores nothing


class QuizAttempt(Base):
    __tablename__ = "training_quiz_attempt"
    __table_args__ = (
        Index("ix_training_attempt_daily", "campaign_id", "participant_key", "local_day"),
        # One active attempt per participant and campaign, held by the database itself.
        Index(
            "uq_training_attempt_active",
            "campaign_id",
            "participant_key",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("training_quiz_campaign.id"))
    # "p:<person id>" or "g:<hash of the guest cookie>": who may hold one active attempt.
    participant_key: Mapped[str] = mapped_column(String(40))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    nickname: Mapped[str] = mapped_column(String(40))
    ranking_region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    local_day: Mapped[date]  # Beijing date the attempt began, for the daily limit
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=AttemptStatus.active)
    # [{"q": question id, "order": [shown position -> option index]}]
    paper: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    answers: Mapped[list[list[int]] | None] = mapped_column(JSON)  # option indexes per question
    submission_key: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[datetime | None]
    question_count: Mapped[int] = mapped_column(Integer)
    correct_count: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[int] = mapped_column(Integer, default=0)
    share_code: Mapped[str] = mapped_column(String(16), unique=True)


class QuizStanding(Base):
    """A participant's running total in a campaign: the person leaderboard reads this."""

    __tablename__ = "training_quiz_standing"
    __table_args__ = (UniqueConstraint("campaign_id", "participant_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("training_quiz_campaign.id"))
    participant_key: Mapped[str] = mapped_column(String(40))
    nickname: Mapped[str] = mapped_column(String(40))
    ranking_region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    total_score: Mapped[int] = mapped_column(Integer, default=0)
    best_score: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When the total last grew: of two equal totals, the one reached first ranks higher.
    reached_at: Mapped[datetime] = mapped_column(default=utcnow)


# The leaderboard's exact order, so the top of a million-row campaign is a short index walk (ties
# on the total would otherwise sort whole groups of equal scores).
Index(
    "ix_training_standing_rank",
    QuizStanding.campaign_id,
    QuizStanding.total_score.desc(),
    QuizStanding.reached_at,
    QuizStanding.id,
)

REGION_TALLY_SHARDS = 16


class QuizRegionTally(Base):
    """A region's contribution to a campaign, split over a few rows so that thousands of
    submissions a second from one county do not queue on a single row lock."""

    __tablename__ = "training_quiz_region_tally"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("training_quiz_campaign.id"), primary_key=True
    )
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    total_score: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    participants: Mapped[int] = mapped_column(Integer, default=0)


class QuizScoreBucket(Base):
    """How many participants stand at each total, sharded like the region tallies: a rank is a
    sum over a few hundred buckets, not a count over a million standings. `submissions` counts
    the submissions that landed in the bucket, so the campaign's head counts are sums too."""

    __tablename__ = "training_quiz_score_bucket"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("training_quiz_campaign.id"), primary_key=True
    )
    total_score: Mapped[int] = mapped_column(Integer, primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    participants: Mapped[int] = mapped_column(Integer, default=0)
    submissions: Mapped[int] = mapped_column(Integer, default=0)
