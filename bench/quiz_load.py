"""Quiz campaigns at scale, on PostgreSQL.

(a) Submitted answers per second through the real API: a server with 2 worker processes, 64
    concurrent phones, each participant starting a paper (drawn at random from the bank) and
    submitting it, several rounds. "Answers" are answered questions (a paper holds --questions of
    them); submissions (papers) are reported too. Afterwards the leaderboards are checked against
    the attempts: every participant's running total and every region's total must equal what
    summing the submitted attempts says. Baseline in the same run, against the same server:
    GET /healthz with the same client (no database, no auth).
(b) Reading the leaderboards with --attempts submitted attempts in the campaign: the top 20
    participants, the regions' contribution ranking, one participant's rank. Baseline: the same
    top 20 computed from the attempts (GROUP BY), what a system without running totals does.

    python bench/quiz_load.py [--participants 2000] [--rounds 3] [--questions 10]
                              [--attempts 1000000] [--skip-load] [--skip-board]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fresh_postgres import FreshPostgres  # noqa: E402
from http_core import start_server  # noqa: E402
from phones import Phone  # noqa: E402
from tests.support.servers import free_port  # noqa: E402
from tests.support.world import build_world  # noqa: E402

from gongchuang.core import auth, organisations  # noqa: E402
from gongchuang.core.db import Database, utcnow  # noqa: E402
from gongchuang.core.models import OrganisationKind, Person, Region  # noqa: E402
from gongchuang.core.permissions import SYSTEM, Principal  # noqa: E402
from gongchuang.modules import load_modules  # noqa: E402
from gongchuang.training import quiz  # noqa: E402
from gongchuang.training.models import (  # noqa: E402
    QuizAttempt,
    QuizCampaign,
    QuizRegionTally,
    QuizStanding,
)

CLIENTS = 64
SLUG = "bench-quiz"


def prepare(db: Database, participants: int, questions: int) -> list[str]:
    """A bank of 5× the paper's questions, an open campaign, and participants spread over the
    test world's villages, each with an API token."""
    with db.transaction() as session:
        world = build_world(session)
        school = organisations.create_organisation(
            session, SYSTEM, name="基准学校", kind=OrganisationKind.school, region=world.county
        )
        bank = quiz.create_bank(session, SYSTEM, school, "基准题库")
        for n in range(questions * 5):
            quiz.add_question(
                session,
                SYSTEM,
                bank.id,
                quiz.QuestionInput(
                    "single", f"第{n}题", ["甲", "乙", "丙", "丁"], [n % 4], "解析", "来源", ""
                ),
            )
        campaign = quiz.create_campaign(
            session,
            SYSTEM,
            school,
            quiz.CampaignInput(
                slug=SLUG,
                title="基准答题",
                pools=[{"bank_id": bank.id, "tag": "", "count": questions}],
                daily_attempt_limit=100,
                starts_at=utcnow() - timedelta(hours=1),
            ),
        )
        quiz.set_campaign_status(session, SYSTEM, campaign.id, "open")
        villages = [world.village_a_region.id, world.village_b_region.id]
        session.execute(
            insert(Person),
            [
                {
                    "name": f"答题者{n}",
                    "phone": f"133{n:08d}",
                    "home_region_id": villages[n % 2],
                    "is_platform_admin": False,
                    "is_active": True,
                    "failed_logins": 0,
                    "created_at": utcnow(),
                }
                for n in range(participants)
            ],
        )
        tokens = []
        for person in session.scalars(select(Person).where(Person.phone.like("133%"))):
            principal = Principal(person_id=person.id, name=person.name)
            _token, raw = auth.create_api_token(
                session, principal, person, name="bench", scopes=["training.learn"]
            )
            tokens.append(raw)
    return tokens


async def play(port: int, tokens: list[str], rounds: int) -> dict[str, object]:
    queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    for round_ in range(rounds):
        for token in tokens:
            queue.put_nowait((token, round_))
    submit_latency: list[float] = []
    answered = 0
    errors: list[int] = []
    rng = random.Random(5)

    async def phone() -> None:
        nonlocal answered
        connection = Phone("127.0.0.1", port)
        while not queue.empty():
            token, round_ = queue.get_nowait()
            path = f"/api/v1/training/campaigns/{SLUG}/attempts"
            status, body = await connection.request("POST", path, b'{"nickname": ""}', token)
            if status != 200:
                errors.append(status)
                continue
            paper = json.loads(body)
            answers = [[rng.randrange(len(q["options"]))] for q in paper["questions"]]
            payload = json.dumps(
                {"submission_key": f"bench-{paper['id']}-{round_}", "answers": answers}
            ).encode()
            started = time.perf_counter()
            status, _ = await connection.request(
                "POST", f"/api/v1/training/attempts/{paper['id']}/submission", payload, token
            )
            submit_latency.append(time.perf_counter() - started)
            if status == 200:
                answered += len(answers)
            else:
                errors.append(status)

    started = time.perf_counter()
    await asyncio.gather(*(phone() for _ in range(CLIENTS)))
    elapsed = time.perf_counter() - started
    return {
        "elapsed": elapsed,
        "submissions": len(submit_latency),
        "answers": answered,
        "latency": submit_latency,
        "errors": errors,
    }


async def healthz(port: int, count: int) -> float:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def phone() -> None:
        connection = Phone("127.0.0.1", port)
        while not queue.empty():
            queue.get_nowait()
            await connection.request("GET", "/healthz")

    started = time.perf_counter()
    await asyncio.gather(*(phone() for _ in range(CLIENTS)))
    return count / (time.perf_counter() - started)


def check_leaderboards(db: Database) -> tuple[bool, bool, int]:
    with db.transaction(write=False) as session:
        campaign_id = session.scalar(select(QuizCampaign.id).where(QuizCampaign.slug == SLUG))
        attempts_submitted = session.scalar(
            select(func.count(QuizAttempt.id)).where(QuizAttempt.status == "submitted")
        )
        summed = {
            key: int(total)
            for key, total in session.execute(
                select(QuizAttempt.participant_key, func.sum(QuizAttempt.score))
                .where(QuizAttempt.status == "submitted")
                .group_by(QuizAttempt.participant_key)
            ).all()
        }
        standings = dict(
            session.execute(select(QuizStanding.participant_key, QuizStanding.total_score)).all()
        )
        by_region = {
            region: int(total)
            for region, total in session.execute(
                select(QuizAttempt.ranking_region_id, func.sum(QuizAttempt.score))
                .where(QuizAttempt.status == "submitted")
                .group_by(QuizAttempt.ranking_region_id)
            ).all()
        }
        tallies = {
            region: int(total)
            for region, total in session.execute(
                select(QuizRegionTally.region_id, func.sum(QuizRegionTally.total_score)).group_by(
                    QuizRegionTally.region_id
                )
            ).all()
        }
        participants, submissions = quiz.campaign_totals(session, campaign_id)
        buckets_ok = (participants, submissions) == (len(summed), attempts_submitted)
        return standings == summed, tallies == by_region and buckets_ok, len(summed)


def bench_load(participants: int, rounds: int, questions: int) -> None:
    print(
        f"(a) {participants:,} participants × {rounds} rounds, papers of {questions} questions, "
        "through the API; 2 workers, 64 phones"
    )
    with FreshPostgres("quiz") as pg, tempfile.TemporaryDirectory() as tmp:
        tokens = prepare(pg.database, participants, questions)
        port = free_port()
        server = start_server(pg.url, port, Path(tmp) / "server.log")
        try:
            baseline = asyncio.run(healthz(port, 5000))
            result = asyncio.run(play(port, tokens, rounds))
        finally:
            server.terminate()
            server.wait(timeout=30)
        people_ok, regions_ok, counted = check_leaderboards(pg.database)
    elapsed = float(result["elapsed"])  # type: ignore[arg-type]
    submissions = int(result["submissions"])  # type: ignore[call-overload]
    answers = int(result["answers"])  # type: ignore[call-overload]
    latency: list[float] = result["latency"]  # type: ignore[assignment]
    q = statistics.quantiles(latency, n=100)
    rate = answers / elapsed
    print(f"  answers:      {rate:7.0f}/s  ({answers:,} in {elapsed:.1f} s; target >= 1,000/s)")
    print(
        f"  submissions:  {submissions / elapsed:7.0f}/s  (+ the same number of paper draws); "
        f"submit p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms; "
        f"errors {len(result['errors'])}"  # type: ignore[arg-type]
    )
    print(f"  baseline GET /healthz, same client: {baseline:7.0f} requests/s")
    print(
        f"  ratio (start + submit requests)/s ÷ healthz: {2 * submissions / elapsed / baseline:.2f}"
    )
    print(
        f"  leaderboards equal the attempts: participants {people_ok}, regions and score "
        f"buckets {regions_ok} "
        f"({counted:,} participants)"
    )


BOARD_SQL = [
    """INSERT INTO training_quiz_attempt (campaign_id, participant_key, nickname,
              ranking_region_id, local_day, started_at, deadline_at, status, paper, answers,
              submission_key, submitted_at, question_count, correct_count, score, share_code)
       SELECT :campaign, 'g:' || lpad((n % :participants)::text, 32, '0'),
              '选手' || (n % :participants), (:regions)[1 + (n % :participants) % :region_count],
              current_date, now() - (n % 259200) * interval '1 second',
              now() - (n % 259200) * interval '1 second' + interval '10 minutes', 'submitted',
              '[]'::json, '[]'::json, 'k' || n, now() - (n % 259200) * interval '1 second',
              10, (n * 7) % 11, 1 + (n * 7) % 11 + CASE WHEN (n * 7) % 11 = 10 THEN 2 ELSE 0 END,
              substr(md5(n::text), 1, 16)
       FROM generate_series(1, :attempts) n""",
    """INSERT INTO training_quiz_standing (campaign_id, participant_key, nickname,
              ranking_region_id, total_score, best_score, attempts, reached_at)
       SELECT campaign_id, participant_key, min(nickname), min(ranking_region_id), sum(score),
              max(score), count(*), max(submitted_at)
       FROM training_quiz_attempt WHERE campaign_id = :campaign
       GROUP BY campaign_id, participant_key""",
    """INSERT INTO training_quiz_region_tally (campaign_id, region_id, shard, total_score,
              attempts, participants)
       SELECT campaign_id, ranking_region_id, (id % 16)::int, sum(score), count(*), 0
       FROM training_quiz_attempt WHERE campaign_id = :campaign
       GROUP BY campaign_id, ranking_region_id, (id % 16)::int""",
    """INSERT INTO training_quiz_score_bucket (campaign_id, total_score, shard, participants,
              submissions)
       SELECT campaign_id, total_score, (id % 16)::int, count(*), sum(attempts)
       FROM training_quiz_standing WHERE campaign_id = :campaign
       GROUP BY campaign_id, total_score, (id % 16)::int""",
]


def timings(fn, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    values = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        values.append((time.perf_counter() - started) * 1000)
    q = statistics.quantiles(values, n=100)
    return q[49], q[98]


def bench_board(attempts: int) -> None:
    participants = max(1, attempts // 5)
    print(f"(b) leaderboards with {attempts:,} submitted attempts ({participants:,} participants)")
    with FreshPostgres("board") as pg:
        tokens = prepare(pg.database, 1, 10)
        assert tokens
        with pg.database.transaction(write=False) as session:
            campaign_id = session.scalar(select(QuizCampaign.id).where(QuizCampaign.slug == SLUG))
            regions = list(
                session.scalars(select(Region.id).where(Region.level == "county").limit(120))
            )
        started = time.perf_counter()
        with pg.database.engine.begin() as conn:
            for sql in BOARD_SQL:
                conn.execute(
                    text(sql),
                    {
                        "campaign": campaign_id,
                        "participants": participants,
                        "attempts": attempts,
                        "regions": regions,
                        "region_count": len(regions),
                    }
                    if ":" in sql
                    else {},
                )
        # What autovacuum does in a running system: the visibility map lets counts read the
        # ranking index alone.
        with pg.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        print(f"  built in {time.perf_counter() - started:.0f} s")
        with pg.database.transaction(write=False) as session:
            keys = list(
                session.scalars(
                    select(QuizStanding.participant_key).where(QuizStanding.id % 997 == 0)
                )
            )
            rng = random.Random(3)
            top = timings(lambda: quiz.leaderboard(session, campaign_id), 300)
            by_region = timings(lambda: quiz.region_leaderboard(session, campaign_id), 300)
            mine = timings(lambda: quiz.standing_of(session, campaign_id, rng.choice(keys)), 100)
            totals = timings(lambda: quiz.campaign_totals(session, campaign_id), 50)
            naive_sql = text(
                "SELECT participant_key, sum(score) AS total FROM training_quiz_attempt "
                "WHERE campaign_id = :c AND status = 'submitted' GROUP BY participant_key "
                "ORDER BY total DESC LIMIT 20"
            )
            naive = timings(lambda: session.execute(naive_sql, {"c": campaign_id}).all(), 5)
            ours = [r.total_score for r in quiz.leaderboard(session, campaign_id)]
            theirs = [int(t) for _k, t in session.execute(naive_sql, {"c": campaign_id}).all()]
    print(f"  top 20 participants (running totals):  p50 {top[0]:6.2f} ms  p99 {top[1]:6.2f} ms")
    print(
        f"  regions' ranking (16 shards/region):   p50 {by_region[0]:6.2f} ms  "
        f"p99 {by_region[1]:6.2f} ms"
    )
    print(f"  one participant's rank:                p50 {mine[0]:6.2f} ms  p99 {mine[1]:6.2f} ms")
    print(
        f"  participants and attempts (page head): p50 {totals[0]:6.2f} ms  p99 {totals[1]:6.2f} ms"
    )
    print(f"  baseline, top 20 from the attempts:    p50 {naive[0]:6.2f} ms")
    print(f"  ratio baseline / ours (top 20): {naive[0] / top[0]:.0f}x  (target < 20 ms)")
    print(f"  same top-20 totals as the baseline: {ours == theirs}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-board", action="store_true")
    args = parser.parse_args()
    load_modules()
    if not args.skip_load:
        bench_load(args.participants, args.rounds, args.questions)
    if not args.skip_board:
        bench_board(args.attempts)


if __name__ == "__main__":
    main()
