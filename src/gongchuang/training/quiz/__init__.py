"""The quiz engine: question banks, campaigns drawing a random paper per attempt, server-side
scoring and leaderboards that stay correct under thousands of submissions a second.

Anti-cheat is in the shape of the data: the paper a participant receives carries stems and
options in a per-attempt shuffled order and never the answers; answers come back as shown
positions and are mapped and scored here; one active attempt per participant is a partial
unique index; a submission carries an idempotency key, so a resend returns the first result and
a second, different submission is refused.

Quiz answers are not written to the audit chain: they are a participant's own play, not an
administrative act, and a serialised hash chain would cap throughput at its lock.

One module per part: `banks` (questions), `campaigns`, `participants`, `papers` (drawing
and showing), `attempts` (start, submit, expire), `tallies` (the running totals a submission
adds to) and `queries` (lists and leaderboards). Callers use `quiz.<name>`.
"""

from __future__ import annotations

from gongchuang.training.models import Question, QuizCampaign
from gongchuang.training.quiz.attempts import (
    GRACE,
    attempt_by_share_code,
    attempt_passed,
    campaign_of,
    expire_overdue,
    get_attempt_for,
    score_of,
    start_attempt,
    start_course_quiz,
    submit_attempt,
)
from gongchuang.training.quiz.banks import (
    QuestionInput,
    add_question,
    create_bank,
    get_bank_for,
    import_questions,
    question_problems,
)
from gongchuang.training.quiz.campaigns import (
    CampaignInput,
    campaign_by_slug,
    create_campaign,
    get_campaign_to_edit,
    is_running,
    publish_campaign,
    scoring_text,
    set_campaign_status,
    set_course_quiz,
)
from gongchuang.training.quiz.papers import (
    PaperQuestion,
    paper_of,
)
from gongchuang.training.quiz.participants import (
    Participant,
    guest_key,
    new_guest_token,
    participant_for_guest,
    participant_for_person,
    participant_key,
    person_key,
)
from gongchuang.training.quiz.queries import (
    MyStanding,
    Rank,
    banks_of,
    campaign_totals,
    campaigns_of,
    leaderboard,
    public_campaigns,
    questions_of,
    ranking_regions,
    region_leaderboard,
    standing_of,
)

__all__ = [
    "GRACE",
    "CampaignInput",
    "MyStanding",
    "PaperQuestion",
    "Participant",
    "Question",
    "QuestionInput",
    "QuizCampaign",
    "Rank",
    "add_question",
    "attempt_by_share_code",
    "attempt_passed",
    "banks_of",
    "campaign_by_slug",
    "campaign_of",
    "campaign_totals",
    "campaigns_of",
    "create_bank",
    "create_campaign",
    "expire_overdue",
    "get_attempt_for",
    "get_bank_for",
    "get_campaign_to_edit",
    "guest_key",
    "import_questions",
    "is_running",
    "leaderboard",
    "new_guest_token",
    "paper_of",
    "participant_for_guest",
    "participant_for_person",
    "participant_key",
    "person_key",
    "public_campaigns",
    "publish_campaign",
    "question_problems",
    "questions_of",
    "ranking_regions",
    "region_leaderboard",
    "score_of",
    "scoring_text",
    "set_campaign_status",
    "set_course_quiz",
    "standing_of",
    "start_attempt",
    "start_course_quiz",
    "submit_attempt",
]
