"""What the training and quiz API accepts and returns. The `...In`/`...Fields` models are also
what the pages read their forms into: one input contract per use case."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

Text20 = Annotated[str, StringConstraints(max_length=20, strip_whitespace=True)]
Text100 = Annotated[str, StringConstraints(max_length=100, strip_whitespace=True)]
Text200 = Annotated[str, StringConstraints(max_length=200, strip_whitespace=True)]
Text300 = Annotated[str, StringConstraints(max_length=300, strip_whitespace=True)]
Text5000 = Annotated[str, StringConstraints(max_length=5000, strip_whitespace=True)]
Category = Literal["policy", "agriculture", "skills", "health", "ecommerce"]
CredentialKind = Literal["first_aid", "aed_operator", "volunteer_training", "vocational"]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{2,59}$")]
SubmissionKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
Score = Annotated[int, Field(ge=0, le=100)]


# --- courses ----------------------------------------------------------------------------------


class CourseFields(BaseModel):
    """A course as its publisher writes it: the API's body and the course form alike."""

    title: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    summary: Text5000 = ""
    category: Category
    author_name: Text100 = ""
    programme_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    credential_kind: CredentialKind | None = None
    credential_title: Text200 = ""
    credential_valid_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class CourseIn(CourseFields):
    organisation_id: int = Field(ge=1, le=2**31 - 1)


class TextLessonIn(BaseModel):
    """A text lesson through the API; video, document and image lessons are uploaded on the
    course's page."""

    title: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    body: Annotated[str, StringConstraints(min_length=1, max_length=100_000)]


class LessonIn(BaseModel):
    """A lesson as its publisher writes it: the course page's lesson form, and the API's text
    lesson (`TextLessonIn`, of kind "text"). A video, document or image lesson's file comes
    beside it; that it fits the kind, and a text lesson's text or a video's transcript, are
    checked where the file is known."""

    title: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    kind: Literal["text", "video", "document", "image"]
    body: Annotated[str, StringConstraints(max_length=100_000)] = ""
    transcript: Annotated[str, StringConstraints(max_length=100_000)] = ""
    duration_seconds: int = Field(0, ge=0, le=86_400)


class CourseStatusIn(BaseModel):
    status: Literal["published", "unpublished"]


class CourseQuizIn(BaseModel):
    bank_id: int = Field(ge=1, le=2**31 - 1)
    tag: Annotated[str, StringConstraints(max_length=40, strip_whitespace=True)] = ""
    count: int = Field(ge=1, le=100)
    pass_percent: int = Field(60, ge=0, le=100)


class LessonOut(BaseModel):
    id: int
    position: int
    title: str
    kind: str
    body: str
    transcript: str
    file_url: str | None
    duration_seconds: int


class CourseOut(BaseModel):
    id: int
    organisation_id: int
    title: str
    summary: str
    category: str
    author_name: str
    status: str
    lesson_count: int
    has_quiz: bool
    credential_kind: str | None


class CourseDetailOut(CourseOut):
    lessons: list[LessonOut]


class LessonStateOut(BaseModel):
    lesson_id: int
    position_seconds: int
    completed: bool


class EnrolmentOut(BaseModel):
    course_id: int
    enrolled_at: datetime
    completed_at: datetime | None
    lessons_done: int
    lesson_count: int
    quiz_passed: bool
    still_to_do: list[str]
    certificate_url: str | None
    progress: list[LessonStateOut]


class ProgressItemIn(BaseModel):
    lesson_id: int = Field(ge=1, le=2**31 - 1)
    position_seconds: int = Field(0, ge=0, le=86_400)
    completed: bool = False
    recorded_at: AwareDatetime = Field(description="When the phone recorded it (maybe offline)")


class ProgressIn(BaseModel):
    items: Annotated[list[ProgressItemIn], Field(min_length=1, max_length=500)]


class ProgressOut(BaseModel):
    applied: int


class CertificateOut(BaseModel):
    code: str
    holder: str
    course: str
    issuer: str
    completed_at: datetime


# --- institutions, classes, targets -----------------------------------------------------------


class AccreditationIn(BaseModel):
    institution_organisation_id: int = Field(ge=1, le=2**31 - 1)
    accreditation_no: Annotated[
        str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)
    ]
    valid_until: date
    note: Text5000 = ""


class AccreditationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    institution_organisation_id: int
    department_organisation_id: int
    accreditation_no: str
    valid_until: date
    status: str


class ClassIn(BaseModel):
    title: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    cohort: Text100 = ""
    starts_on: date
    ends_on: date
    onsite_days: int = Field(ge=1, le=366)
    online_hours: int = Field(0, ge=0, le=2000)
    online_course_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    programme_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    venue: Annotated[str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]
    trainer_name: Annotated[
        str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)
    ]
    funding_per_trainee_fen: int = Field(0, ge=0, le=100_000_00)
    pass_score: Score = 60
    min_attendance_percent: Score = 80
    credential_kind: CredentialKind | None = None
    credential_title: Text200 = ""
    credential_valid_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class ClassOut(BaseModel):
    id: int
    institution_organisation_id: int
    programme_id: int | None
    title: str
    cohort: str
    starts_on: date
    ends_on: date
    onsite_days: int
    online_hours: int
    venue: str
    trainer_name: str
    funding_per_trainee_fen: int
    funding_budget_fen: int
    funding_spent_fen: int
    status: str
    trainees: int
    credential_kind: str | None


class TraineeOut(BaseModel):
    id: int
    name: str
    phone: str = Field(description="masked")
    resident_id: str | None = Field(description="masked")
    position_title: str
    status: str
    days_present: int
    assessment_score: int | None
    outcome_note: str
    credential_id: int | None


class RosterImportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    added: int
    registered: int
    unchanged: int


class AttendanceIn(BaseModel):
    present: Annotated[list[Annotated[int, Field(ge=1, le=2**31 - 1)]], Field(max_length=5000)]


class ScoreIn(BaseModel):
    trainee_id: int = Field(ge=1, le=2**31 - 1)
    score: Score


class AssessmentIn(BaseModel):
    """A class's assessment scores: the API's body, and the class page's score fields."""

    scores: Annotated[list[ScoreIn], Field(min_length=1, max_length=5000)]


class CompletionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    completed: int
    not_passed: int
    credentials: int


class ExpenseIn(BaseModel):
    item: Literal["teaching", "lodging", "materials", "venue", "travel", "other"]
    amount_fen: int = Field(ge=1, le=10_000_000_00)
    note: Text300 = ""


class ExpenseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    item: str
    amount_fen: int
    note: str
    reverses_id: int | None
    recorded_at: datetime


class SpotCheckIn(BaseModel):
    department_organisation_id: int = Field(ge=1, le=2**31 - 1)
    checked_on: date
    present_count: int = Field(ge=0, le=10_000)
    finding: Literal["satisfactory", "issues", "serious"]
    note: Text5000 = ""


class SpotCheckOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    checked_on: date
    present_count: int
    finding: str
    note: str


class ProgrammeIn(BaseModel):
    code: Annotated[str, StringConstraints(min_length=1, max_length=40, strip_whitespace=True)]
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    start_year: int = Field(ge=2000, le=2100)
    end_year: int = Field(ge=2000, le=2100)


class ProgrammeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    organisation_id: int
    code: str
    name: str
    start_year: int
    end_year: int


class TargetIn(BaseModel):
    region_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{2,12}$")]
    year: int = Field(ge=2000, le=2100)
    mode: Literal["offline", "online"]
    cumulative_planned: int = Field(ge=0, le=100_000_000)


class TargetsIn(BaseModel):
    """A programme's yearly plan for some provinces: the API's body, and the lines pasted into
    the programme page."""

    targets: Annotated[list[TargetIn], Field(min_length=1, max_length=1000)]


class ProvinceProgressOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    region_id: int
    name: str
    planned: dict[str, int]
    actual: dict[str, int]


class InstitutionProgressOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    organisation_id: int
    name: str
    province: str
    classes: int
    completed: int
    not_passed: int


class ProgressReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    programme: ProgrammeOut
    year: int
    provinces: list[ProvinceProgressOut]
    institutions: list[InstitutionProgressOut]
    months: list[str]
    actual_by_month: dict[str, list[int]]
    plan_by_month: dict[str, list[int]]


# --- quizzes ----------------------------------------------------------------------------------


class BankIn(BaseModel):
    organisation_id: int = Field(ge=1, le=2**31 - 1)
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    description: Text5000 = ""


class BankOut(BaseModel):
    id: int
    organisation_id: int
    name: str
    questions: int


class QuestionIn(BaseModel):
    kind: Literal["single", "multiple", "true_false"]
    stem: Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]
    options: Annotated[
        list[Annotated[str, StringConstraints(max_length=500)]], Field(max_length=6)
    ] = []
    correct: Annotated[list[Annotated[int, Field(ge=0, le=5)]], Field(min_length=1, max_length=6)]
    explanation: Annotated[
        str, StringConstraints(min_length=1, max_length=5000, strip_whitespace=True)
    ]
    source: Text300 = ""
    tag: Annotated[str, StringConstraints(max_length=40, strip_whitespace=True)] = ""


class QuestionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    stem: str
    options: list[str]
    correct: list[int]
    explanation: str
    source: str
    tag: str


class ImportOut(BaseModel):
    created: int


class PoolIn(BaseModel):
    bank_id: int = Field(ge=1, le=2**31 - 1)
    tag: Annotated[str, StringConstraints(max_length=40, strip_whitespace=True)] = ""
    count: int = Field(ge=1, le=100)


class CampaignIn(BaseModel):
    organisation_id: int = Field(ge=1, le=2**31 - 1)
    slug: Slug
    title: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    description: Text5000 = ""
    pools: Annotated[list[PoolIn], Field(min_length=1, max_length=20)]
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    time_limit_seconds: int = Field(600, ge=30, le=7200)
    daily_attempt_limit: int = Field(3, ge=1, le=100)
    points_for_completing: int = Field(1, ge=0, le=1000)
    points_per_correct: int = Field(0, ge=0, le=1000)
    points_for_all_correct: int = Field(2, ge=0, le=1000)
    allow_guests: bool = True
    ranking_level: Literal["province", "city", "county", "town", "village"] = "county"
    open_now: bool = Field(True, description="Open the campaign at once (else a draft)")


class CampaignOut(BaseModel):
    id: int
    slug: str
    title: str
    description: str
    status: str
    running: bool
    starts_at: datetime | None
    ends_at: datetime | None
    questions_per_paper: int
    time_limit_seconds: int
    daily_attempt_limit: int
    points_for_completing: int
    points_per_correct: int
    points_for_all_correct: int
    allow_guests: bool
    participants: int
    attempts: int


class AttemptStartIn(BaseModel):
    nickname: Text20 = Field("", description="Shown on the leaderboard (default: masked name)")


class PaperQuestionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    kind: str
    stem: str
    options: list[str]


class AttemptOut(BaseModel):
    id: int
    campaign_slug: str
    status: str
    started_at: datetime
    deadline_at: datetime
    questions: list[PaperQuestionOut]


class SubmissionIn(BaseModel):
    submission_key: SubmissionKey = Field(
        description="Idempotency key: a resend returns the first result"
    )
    answers: Annotated[
        list[Annotated[list[Annotated[int, Field(ge=0, le=5)]], Field(max_length=6)]],
        Field(max_length=200),
    ] = Field(description="Per question, the chosen positions in the order shown")


class ReviewedQuestionOut(PaperQuestionOut):
    """A question of a submitted paper, read from its `PaperQuestion`."""

    chosen: list[int]
    correct: list[int]
    is_correct: bool
    explanation: str
    source: str

    @field_validator("chosen", "correct", mode="before")
    @classmethod
    def _none_is_empty(cls, value: list[int] | None) -> list[int]:
        return value or []


class ResultOut(BaseModel):
    attempt_id: int
    status: str
    correct_count: int
    question_count: int
    score: int
    share_url: str
    questions: list[ReviewedQuestionOut]


class RankOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rank: int
    name: str
    total_score: int
    attempts: int
    participants: int


class MyStandingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rank: int
    total_score: int
    best_score: int
    attempts: int
    participants: int


class LeaderboardOut(BaseModel):
    people: list[RankOut]
    regions: list[RankOut]
    me: MyStandingOut | None
