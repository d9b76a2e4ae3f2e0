"""Points governance at county scale, on PostgreSQL.

(a) Records approved and settled per second, audit chain included. Approval goes through
    `service.approve_many` in requests of 200 (a cadre ticking a page of records); settlement
    through `settle_due` (the job). Baseline, same process and data size: settling one record
    at a time with the plain building blocks (`post_entry` + `audit.record` per record).
(b) County dashboard time for 300 villages x 1,000 people x one year (about 5M records):
    `region_dashboard` reads the monthly aggregates; the baseline sums the records themselves.

    python bench/points_ledger.py [--records 5000] [--villages 300] [--people 1000]
                                  [--per-person 17] [--skip-dashboard]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select, text, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fresh_postgres import FreshPostgres  # noqa: E402
from tests.support.world import build_world, make_person  # noqa: E402

from gongchuang.core import audit, organisations  # noqa: E402
from gongchuang.core.db import Database, utcnow  # noqa: E402
from gongchuang.core.permissions import SYSTEM, Principal  # noqa: E402
from gongchuang.modules import load_modules  # noqa: E402
from gongchuang.points import reports, service  # noqa: E402
from gongchuang.points.models import (  # noqa: E402
    EntryKind,
    PointRecord,
    PublicNotice,
    RecordStatus,
)


def acting(person) -> Principal:
    return Principal(person_id=person.id, name=person.name)


def prepare_records(db: Database, count: int) -> tuple[int, list[int], object, object]:
    """A village (person accounts, one approval level) with `count` pending records."""
    with db.transaction() as session:
        world = build_world(session)
        village = world.village_a
        people = []
        for n in range(200):
            person = make_person(session, f"135{n:08d}", f"村民{n}")
            organisations.add_member(
                session, SYSTEM, village, phone=person.phone, roles=["member"], check=False
            )
            people.append(person.id)
        catalogue = service.create_catalogue(session, SYSTEM, village, template_code="guangdong")
        rule = next(r for r in service.current_rules(session, catalogue) if r.code == "XF01")
        rule.cap_count = None
        session.flush()
        today = service.today_local()
        session.add_all(
            PointRecord(
                organisation_id=village.id,
                rule_id=rule.id,
                rule_code=rule.code,
                category_id=rule.category_id,
                person_id=people[i % len(people)],
                points=rule.points,
                original_points=rule.points,
                occurred_on=today,
                reported_by_person_id=world.cadre_a.id,
                status=RecordStatus.pending,
            )
            for i in range(count)
        )
        session.flush()
        ids = list(session.scalars(select(PointRecord.id).order_by(PointRecord.id)))
        return village.id, ids, world.cadre_b, world.cadre_a


def bench_approve_and_settle(count: int) -> dict[str, float]:
    with FreshPostgres("settle") as pg:
        db = pg.database
        village_id, ids, _other, _cadre = prepare_records(db, count)
        with db.transaction() as session:
            # A second cadre decides: the recorder may not approve their own records.
            approver = make_person(session, "13600000099", "审核干部")
            village = service.get_village_for(session, SYSTEM, village_id)
            organisations.add_member(
                session, SYSTEM, village, phone=approver.phone, roles=["cadre"], check=False
            )
            principal = acting(approver)
        started = time.perf_counter()
        chunk = 200
        for start in range(0, len(ids), chunk):
            with db.transaction() as session:
                village = service.get_village_for(session, SYSTEM, village_id)
                service.approve_many(session, principal, village, ids[start : start + chunk])
        approve_seconds = time.perf_counter() - started
        with db.transaction() as session:
            session.execute(update(PublicNotice).values(closes_at=utcnow() - timedelta(seconds=1)))
        started = time.perf_counter()
        with db.transaction() as session:
            report = service.settle_due(session)
        settle_seconds = time.perf_counter() - started
        assert report.records == count, report
        with db.transaction(write=False) as session:
            assert audit.verify_chain(session).ok
    return {"approve": count / approve_seconds, "settle": count / settle_seconds}


def bench_one_by_one(count: int) -> float:
    """The baseline: each record settled with its own balance update and audit append."""
    with FreshPostgres("baseline") as pg:
        db = pg.database
        village_id, _ids, _other, _cadre = prepare_records(db, count)
        with db.transaction() as session:
            session.execute(
                update(PointRecord).values(status=RecordStatus.in_notice, approved_at=utcnow())
            )
        started = time.perf_counter()
        with db.transaction() as session:
            village = service.get_village_for(session, SYSTEM, village_id)
            for record in session.scalars(select(PointRecord).order_by(PointRecord.id)):
                account = service.account_of_person(session, village, record.person_id)
                assert account is not None
                service.post_entry(
                    session,
                    account.id,
                    village_id,
                    record.points,
                    EntryKind.settlement,
                    actor=SYSTEM,
                    record_id=record.id,
                )
                record.status = RecordStatus.settled
                record.settled_at = utcnow()
                audit.record(session, SYSTEM, "points.record.settle", "points_record", record.id)
        return count / (time.perf_counter() - started)


COUNTY_SQL = [
    # Regions: a county with towns of 20 villages each.
    """INSERT INTO region (code, name, level, kind, parent_id, path)
       SELECT '439999', '基准县', 'county', '', NULL, '/439999/'""",
    """INSERT INTO region (code, name, level, kind, parent_id, path)
       SELECT '439999' || lpad(t::text, 3, '0') || '000', '镇' || t, 'town', '',
              (SELECT id FROM region WHERE code = '439999'),
              '/439999/439999' || lpad(t::text, 3, '0') || '000/'
       FROM generate_series(1, :towns) t""",
    """INSERT INTO region (code, name, level, kind, parent_id, path)
       SELECT '439999' || lpad((v / 20 + 1)::text, 3, '0') || lpad((200 + v)::text, 3, '0'),
              '村' || v, 'village', '',
              (SELECT id FROM region WHERE code = '439999' || lpad((v / 20 + 1)::text, 3, '0')
                                                   || '000'),
              '/439999/439999' || lpad((v / 20 + 1)::text, 3, '0') || '000/439999'
                || lpad((v / 20 + 1)::text, 3, '0') || lpad((200 + v)::text, 3, '0') || '/'
       FROM generate_series(0, :villages - 1) v""",
    """INSERT INTO organisation (name, kind, region_id, description, created_at)
       SELECT r.name || '村委会', 'village_committee', r.id, '', now()
       FROM region r WHERE r.level = 'village' ORDER BY r.id""",
    """INSERT INTO person (name, phone, is_platform_admin, is_active, failed_logins, created_at)
       SELECT '村民' || n, '16' || lpad(n::text, 9, '0'), false, true, 0, now()
       FROM generate_series(1, CAST(:villages AS integer) * CAST(:people AS integer)) n""",
    """INSERT INTO membership (person_id, organisation_id, roles, title, joined_at)
       SELECT p.id, o.id, '["member"]', '', now()
       FROM person p
       JOIN organisation o
         ON o.id = (SELECT min(id) FROM organisation)
                   + ((p.id - (SELECT min(id) FROM person)) / CAST(:people AS integer))""",
    """INSERT INTO points_catalogue (organisation_id, name, template_code, account_unit,
              notice_days, approval_roles, reset_period, base_points, min_redeem_balance,
              star_tiers, current_period, created_at)
       SELECT id, name, 'guangdong', 'person', 7, '["cadre"]', 'none', 0, 0, '[]', '', now()
       FROM organisation""",
    """INSERT INTO points_category (catalogue_id, name, position)
       SELECT c.id, '类别' || k, k FROM points_catalogue c, generate_series(1, 5) k""",
    """INSERT INTO points_rule (catalogue_id, category_id, code, version, title, description,
              points, evidence_required, cap_count, cap_period, reporters, is_current, active,
              created_at)
       SELECT g.catalogue_id, g.id, 'R' || g.position, 1, '规则' || g.position, '',
              g.position, false, NULL, 'month', '["cadre"]', true, true, now()
       FROM points_category g""",
]

RECORDS_SQL = """
INSERT INTO points_record (organisation_id, rule_id, rule_code, category_id, person_id,
    points, original_points, occurred_on, note, reported_by_person_id, on_behalf, status,
    approval_step, submitted_at, approved_at, settled_at)
SELECT m.organisation_id, r.id, r.code, r.category_id, m.person_id, r.points, r.points,
       d.day, '', m.person_id, false, 'settled', 0,
       d.day + time '09:00', d.day + time '09:00' + (random() * interval '48 hours'),
       d.day + interval '9 days'
FROM membership m
JOIN points_catalogue c ON c.organisation_id = m.organisation_id
CROSS JOIN LATERAL (
    SELECT (CAST(:year_start AS date) + (random() * 364)::int) AS day, k
    FROM generate_series(1, :per_person) k
) d
JOIN points_category g ON g.catalogue_id = c.id AND g.position = 1 + (d.k % 5)
JOIN points_rule r ON r.category_id = g.id
WHERE m.organisation_id = :village
"""

AGGREGATE_SQL = [
    """INSERT INTO points_monthly_stat (organisation_id, month, category_id, records, points,
              approval_seconds)
       SELECT organisation_id,
              date_trunc('month', approved_at AT TIME ZONE 'Asia/Shanghai')::date,
              category_id, count(*),
              sum(points), sum(extract(epoch FROM approved_at - submitted_at))::bigint
       FROM points_record GROUP BY 1, 2, 3""",
    """INSERT INTO points_monthly_participation (organisation_id, month, participants)
       SELECT organisation_id,
              date_trunc('month', approved_at AT TIME ZONE 'Asia/Shanghai')::date,
              count(DISTINCT person_id)
       FROM points_record GROUP BY 1, 2""",
]


def timed(fn, repeat: int = 7) -> float:
    fn()  # warm the caches, as a dashboard that is looked at all day is
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs) * 1000


def bench_dashboard(villages: int, people: int, per_person: int) -> dict[str, float]:
    year = service.today_local().year - 1
    with FreshPostgres("county") as pg:
        db = pg.database
        started = time.perf_counter()
        params = {
            "towns": (villages + 19) // 20,
            "villages": villages,
            "people": people,
        }
        with db.engine.begin() as conn:
            for sql in COUNTY_SQL:
                conn.execute(text(sql), params)
            village_ids = list(
                conn.scalars(
                    text("SELECT organisation_id FROM points_catalogue ORDER BY organisation_id")
                )
            )
        for village_id in village_ids:
            with db.engine.begin() as conn:
                conn.execute(
                    text(RECORDS_SQL),
                    {
                        "village": village_id,
                        "per_person": per_person,
                        "year_start": date(year, 1, 1),
                    },
                )
        with db.engine.begin() as conn:
            for sql in AGGREGATE_SQL:
                conn.execute(text(sql))
            conn.execute(text("ANALYZE"))
            records = conn.scalar(text("SELECT count(*) FROM points_record"))
        built = time.perf_counter() - started
        print(f"  built {records:,} records in {built:.0f} s", flush=True)
        with db.transaction(write=False) as session:
            county = reports.get_region_for(session, SYSTEM, "439999")
            fast = timed(lambda: reports.region_dashboard(session, county, year))
            dashboard = reports.region_dashboard(session, county, year)
            slow = timed(lambda: reports.region_dashboard_from_records(session, county, year), 3)
            raw = reports.region_dashboard_from_records(session, county, year)
            assert dashboard.totals.points == sum(raw.values()), "aggregates disagree"
            assert len(dashboard.villages) == villages
        return {"records": records, "with": fast, "without": slow}


def settlement(records: int) -> None:
    print(f"(a) approve and settle {records:,} records, PostgreSQL, audit chain included")
    batch = bench_approve_and_settle(records)
    baseline = bench_one_by_one(records)
    print(f"  approvals (approve_many, 200 per request):  {batch['approve']:8.0f} records/s")
    print(f"  settlement (settle_due job):                 {batch['settle']:8.0f} records/s")
    print(f"  baseline: one record at a time:              {baseline:8.0f} records/s")
    print(f"  ratio settlement / baseline: {batch['settle'] / baseline:.1f}x  (target >= 2000/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--villages", type=int, default=300)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--per-person", type=int, default=17)
    parser.add_argument("--skip-dashboard", action="store_true")
    parser.add_argument("--skip-settlement", action="store_true")
    args = parser.parse_args()
    load_modules()

    if not args.skip_settlement:
        settlement(args.records)
    if args.skip_dashboard:
        return
    print(
        f"(b) county dashboard: {args.villages} villages x {args.people} people x "
        f"{args.per_person} records/person/year"
    )
    figures = bench_dashboard(args.villages, args.people, args.per_person)
    print(f"  with monthly aggregates (region_dashboard): {figures['with']:8.1f} ms")
    print(f"  baseline, summing the records:              {figures['without']:8.1f} ms")
    print(
        f"  ratio baseline / aggregates: {figures['without'] / figures['with']:.0f}x  "
        "(target < 200 ms)"
    )


if __name__ == "__main__":
    main()
