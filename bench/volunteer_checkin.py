"""Volunteer check-in at scale, on PostgreSQL.

(a) Check-ins and check-outs per second through the real API (a server with 2 worker processes,
    64 concurrent phones, each scanning a rotating QR code once). Baseline in the same run and
    against the same server: GET /healthz with the same client (no database, no auth).
(b) A volunteer's total hours and star level with 5,000,000 entries in the hours ledger: the
    cached total (one row) against the baseline of summing the ledger (indexed by person).

    python bench/volunteer_checkin.py [--volunteers 2000] [--ledger 5000000] [--skip-ledger]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text, update

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
from gongchuang.core.models import OrganisationKind, Person  # noqa: E402
from gongchuang.core.permissions import SYSTEM, Principal  # noqa: E402
from gongchuang.modules import load_modules  # noqa: E402
from gongchuang.volunteer import service  # noqa: E402
from gongchuang.volunteer.models import Shift, Signup, Volunteer, VolunteerTotal  # noqa: E402

SITE = (27.737, 111.305)
CLIENTS = 64


def prepare(db: Database, count: int) -> tuple[int, list[str]]:
    """A shift about to start with `count` volunteers confirmed on it, each with an API token."""
    with db.transaction() as session:
        world = build_world(session)
        ngo = organisations.create_organisation(
            session, SYSTEM, name="基准协会", kind=OrganisationKind.ngo, region=world.county
        )
        starts = utcnow() + timedelta(minutes=10)
        activity = service.create_activity(
            session,
            SYSTEM,
            ngo,
            service.ActivityInput("基准活动", "events", "", "起点", *SITE),
            [service.ShiftInput(starts, starts + timedelta(hours=4), count)],
        )
        shift_id = service.shifts_of(session, activity)[0].id
        session.execute(
            insert(Person),
            [
                {
                    "name": f"志愿者{n}",
                    "phone": f"133{n:08d}",
                    "is_platform_admin": False,
                    "is_active": True,
                    "failed_logins": 0,
                    "created_at": utcnow(),
                }
                for n in range(count)
            ],
        )
        ids = list(session.scalars(select(Person.id).where(Person.phone.like("133%"))))
        session.execute(
            insert(Volunteer),
            [
                {
                    "person_id": i,
                    "card_code": secrets.token_urlsafe(12),
                    "skills": [],
                    "interests": [],
                    "languages": [],
                    "availability": [],
                    "registered_at": utcnow(),
                }
                for i in ids
            ],
        )
        session.execute(
            insert(Signup),
            [
                {
                    "shift_id": shift_id,
                    "person_id": i,
                    "status": "confirmed",
                    "created_at": utcnow(),
                }
                for i in ids
            ],
        )
        session.execute(update(Shift).where(Shift.id == shift_id).values(taken=count))
        tokens = []
        for person in session.scalars(select(Person).where(Person.id.in_(ids))):
            principal = Principal(person_id=person.id, name=person.name)
            _token, raw = auth.create_api_token(
                session, principal, person, name="bench", scopes=["volunteer.participate"]
            )
            tokens.append(raw)
    return shift_id, tokens


class Codes:
    """What the organiser's screen shows: a new signed code every few seconds."""

    def __init__(self, shift_id: int) -> None:
        self.shift_id = shift_id
        self.made = 0.0
        self.code = ""

    def current(self) -> str:
        if time.monotonic() - self.made > 5:
            self.code = service._serializer("volunteer-checkin").dumps(
                {"s": self.shift_id, "n": secrets.token_hex(8)}
            )
            self.made = time.monotonic()
        return self.code


Job = tuple[str, str, bytes, str]


async def run_phones(
    port: int, jobs: list[tuple[str, str, bytes, str]]
) -> tuple[float, int, list[float]]:
    queue: asyncio.Queue[Job] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    latencies: list[float] = []
    errors = 0

    async def phone() -> None:
        nonlocal errors
        connection = Phone("127.0.0.1", port)
        while not queue.empty():
            method, path, body, token = queue.get_nowait()
            started = time.perf_counter()
            status, _body = await connection.request(method, path, body, token)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(phone() for _ in range(CLIENTS)))
    return len(jobs) / (time.perf_counter() - started), errors, latencies


def checkin_jobs(shift_id: int, tokens: list[str]) -> list[Job]:
    """What the organiser's screen shows: one signed code, good for 30 seconds, which each
    volunteer may use once."""
    code = service._serializer("volunteer-checkin").dumps(
        {"s": shift_id, "n": secrets.token_hex(8)}
    )
    body = json.dumps({"code": code}).encode()
    return [("POST", "/api/v1/volunteer/check", body, token) for token in tokens]


def bench_checkin(volunteers: int) -> None:
    print(f"(a) {volunteers:,} volunteers check in, then out, through the API; 2 workers")
    with FreshPostgres("checkin") as pg, tempfile.TemporaryDirectory() as tmp:
        shift_id, tokens = prepare(pg.database, volunteers)
        port = free_port()
        server = start_server(pg.url, port, Path(tmp) / "server.log")
        try:
            health = [("GET", "/healthz", b"", "")] * volunteers
            healthz, _, _ = asyncio.run(run_phones(port, health))
            random.shuffle(tokens)
            rate_in, errors_in, lat_in = asyncio.run(
                run_phones(port, checkin_jobs(shift_id, tokens))
            )
            rate_out, errors_out, lat_out = asyncio.run(
                run_phones(port, checkin_jobs(shift_id, tokens))
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
        with pg.database.transaction(write=False) as session:
            states = dict(
                session.execute(
                    select(Signup.status, func.count(Signup.id)).group_by(Signup.status)
                ).all()
            )
    for label, rate, errors, lat in (
        ("check-in ", rate_in, errors_in, lat_in),
        ("check-out", rate_out, errors_out, lat_out),
    ):
        q = statistics.quantiles(lat, n=100)
        print(
            f"  {label}: {rate:7.0f}/s  p50 {q[49] * 1000:6.1f} ms  p99 {q[98] * 1000:6.1f} ms  "
            f"errors {errors}"
        )
    print(f"  baseline GET /healthz, same client: {healthz:7.0f}/s")
    print(f"  ratio check-in / healthz: {rate_in / healthz:.2f}  (target >= 500 check-ins/s)")
    print(f"  signups afterwards: {states}")


LEDGER_SQL = [
    """INSERT INTO person (name, phone, is_platform_admin, is_active, failed_logins, created_at)
       SELECT '志愿者' || n, '15' || lpad(n::text, 9, '0'), false, true, 0, now()
       FROM generate_series(1, CAST(:people AS integer)) n""",
    """INSERT INTO volunteer_hours_entry (person_id, organisation_id, minutes, kind, reason,
              served_on, created_at)
       SELECT (SELECT min(id) FROM person) + (n % CAST(:people AS integer)),
              (SELECT min(id) FROM organisation), 60 + (n % 180), 'verified', '',
              date '2025-01-01' + (n % 700), now()
       FROM generate_series(1, CAST(:entries AS integer)) n""",
    """INSERT INTO volunteer_total (person_id, minutes, completed_shifts, no_shows)
       SELECT person_id, sum(minutes), count(*), 0 FROM volunteer_hours_entry GROUP BY person_id""",
]


def timed(fn, people: list[int]) -> float:
    runs = []
    for person_id in people:
        started = time.perf_counter()
        fn(person_id)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs) * 1000


def bench_ledger(entries: int) -> None:
    people = max(1, entries // 50)
    print(f"(b) total hours and star level with {entries:,} ledger entries ({people:,} people)")
    with FreshPostgres("ledger") as pg:
        with pg.database.transaction() as session:
            build_world(session)
        started = time.perf_counter()
        with pg.database.engine.begin() as conn:
            for sql in LEDGER_SQL:
                conn.execute(text(sql), {"people": people, "entries": entries})
            conn.execute(text("ANALYZE"))
        print(f"  built in {time.perf_counter() - started:.0f} s")
        with pg.database.transaction(write=False) as session:
            ids = list(session.scalars(select(VolunteerTotal.person_id)))
            sample = random.Random(1).sample(ids, min(500, len(ids)))
            thresholds = service.star_thresholds(session)

            def cached(person_id: int) -> int:
                return service.star_level(
                    session, service.total_minutes(session, person_id), thresholds
                )

            def summed(person_id: int) -> int:
                minutes = session.scalar(
                    text(
                        "SELECT coalesce(sum(minutes), 0) FROM volunteer_hours_entry "
                        "WHERE person_id = :p"
                    ),
                    {"p": person_id},
                )
                return service.star_level(session, int(minutes or 0), thresholds)

            assert all(cached(p) == summed(p) for p in sample[:50]), "totals disagree"
            fast = timed(cached, sample)
            slow = timed(summed, sample)
    print(f"  cached total + star level: {fast:7.2f} ms (median of {len(sample)})")
    print(f"  baseline, summing the ledger: {slow:7.2f} ms")
    print(f"  ratio baseline / cached: {slow / fast:.1f}x  (target < 20 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--volunteers", type=int, default=2000)
    parser.add_argument("--ledger", type=int, default=5_000_000)
    parser.add_argument("--skip-ledger", action="store_true")
    parser.add_argument("--skip-checkin", action="store_true")
    args = parser.parse_args()
    load_modules()
    if not args.skip_checkin:
        bench_checkin(args.volunteers)
    if not args.skip_ledger:
        bench_ledger(args.ledger)


if __name__ == "__main__":
    main()
