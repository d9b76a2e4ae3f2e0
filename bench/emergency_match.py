"""Choosing responders and AEDs for one incident, 1,000,000 responders and 100,000 AEDs over a
province-sized area (Henan: ~5.5° × 5.5°, clustered around towns as people are), p50/p99 over
1,000 random incidents, by four ways of finding candidates; each then runs the same `plan()`:

  (a) our k-d tree over 3-D unit vectors (GeoIndex)
  (b) numpy brute force: haversine to every point
  (c) PostgreSQL: the grid-cell index the live service queries (`geo_cell IN (...)`)
  (d) Redis GEOSEARCH, if a Redis answers on 127.0.0.1:6379

Then end to end on PostgreSQL: a signed 120 intake through the real ASGI app (token, HMAC,
EIDO parsing, matching, alerts, notifications, webhook event) until the transaction committed.

    .venv/bin/python bench/emergency_match.py [--responders 1000000] [--incidents 1000]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fresh_postgres import FreshPostgres

from gongchuang.emergency import matching
from gongchuang.emergency.schemas import DutyIn, PointIn

SOUTH, WEST, SPAN = 31.4, 110.4, 5.5


def clustered(rng: np.random.Generator, n: int, towns: np.ndarray) -> tuple[np.ndarray, ...]:
    which = rng.integers(0, len(towns), n)
    spread = rng.exponential(0.02, n)  # most people within a few km of a town centre
    angle = rng.uniform(0, 2 * np.pi, n)
    lats = towns[which, 0] + spread * np.cos(angle)
    lngs = towns[which, 1] + spread * np.sin(angle) / np.cos(np.radians(towns[which, 0]))
    return lats, lngs


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


def run_plan(lat: float, lng: float, ids, lats, lngs, aed_ids, aed_lats, aed_lngs, policy):
    candidates = matching.Candidates(
        ids, lats, lngs, np.full(len(ids), matching.PRIOR_LIKELIHOOD, dtype=np.float64)
    )
    aeds = matching.AedSites(aed_ids, aed_lats, aed_lngs)
    return matching.plan(lat, lng, candidates, aeds, policy, count=policy.max_responders)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--responders", type=int, default=1_000_000)
    parser.add_argument("--aeds", type=int, default=100_000)
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--intakes", type=int, default=300)
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    towns = np.column_stack((SOUTH + rng.uniform(0, SPAN, 2000), WEST + rng.uniform(0, SPAN, 2000)))
    r_lat, r_lng = clustered(rng, args.responders, towns)
    a_lat, a_lng = clustered(rng, args.aeds, towns)
    r_ids = np.arange(1, args.responders + 1)
    a_ids = np.arange(1, args.aeds + 1)
    which = rng.integers(0, len(towns), args.incidents)
    inc = towns[which] + rng.normal(0, 0.01, (args.incidents, 2))
    policy = matching.Policy()
    radius = policy.radius_m
    aed_radius = radius * 1.5

    started = time.perf_counter()
    r_index = matching.GeoIndex(r_ids, r_lat, r_lng)
    a_index = matching.GeoIndex(a_ids, a_lat, a_lng)
    build_s = time.perf_counter() - started
    results: dict[str, list[float]] = {}
    chosen: dict[str, list[list[int]]] = {}

    def timed(name: str, find) -> None:
        samples, picks = [], []
        for lat, lng in inc:
            t0 = time.perf_counter()
            rp, ap = find(float(lat), float(lng))
            plans = run_plan(lat, lng, *rp, *ap, policy)
            samples.append(time.perf_counter() - t0)
            picks.append([p.person_id for p in plans])
        results[name] = samples
        chosen[name] = picks

    def by_index(lat: float, lng: float):
        r = r_index.within(lat, lng, radius)
        a = a_index.within(lat, lng, aed_radius)
        return (r_ids[r], r_lat[r], r_lng[r]), (a_ids[a], a_lat[a], a_lng[a])

    def brute(lat: float, lng: float):
        r = np.flatnonzero(matching.haversine_many(lat, lng, r_lat, r_lng) <= radius)
        a = np.flatnonzero(matching.haversine_many(lat, lng, a_lat, a_lng) <= aed_radius)
        return (r_ids[r], r_lat[r], r_lng[r]), (a_ids[a], a_lat[a], a_lng[a])

    timed("(a) k-d tree, unit vectors", by_index)
    timed("(b) numpy brute force", brute)
    mismatches = sum(
        x != y
        for x, y in zip(
            chosen["(a) k-d tree, unit vectors"], chosen["(b) numpy brute force"], strict=True
        )
    )

    # Nearest in raw degrees (what a tree over lat/lng would answer) against the truth.
    wrong = 0
    for lat, lng in inc[:1000]:
        d_deg = np.hypot(a_lat - lat, a_lng - lng)
        d_m = matching.haversine_many(float(lat), float(lng), a_lat, a_lng)
        wrong += int(np.argmin(d_deg) != np.argmin(d_m))

    with FreshPostgres("emergency_match") as pg:
        import psycopg

        conninfo = pg.url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE bench_responder (id bigint, lat float8, lng float8, cell bigint)"
            )
            conn.execute("CREATE TABLE bench_aed (id bigint, lat float8, lng float8, cell bigint)")
            for table, ids, lats, lngs in (
                ("bench_responder", r_ids, r_lat, r_lng),
                ("bench_aed", a_ids, a_lat, a_lng),
            ):
                buffer = io.StringIO()
                for i, la, ln in zip(ids.tolist(), lats.tolist(), lngs.tolist(), strict=True):
                    buffer.write(f"{i}\t{la}\t{ln}\t{matching.geo_cell(la, ln)}\n")
                with conn.cursor().copy(f"COPY {table} (id, lat, lng, cell) FROM STDIN") as copy:
                    copy.write(buffer.getvalue())
                conn.execute(f"CREATE INDEX ON {table} (cell)")
                conn.execute(f"ANALYZE {table}")

            def by_sql(lat: float, lng: float):
                out = []
                for table, reach in (("bench_responder", radius), ("bench_aed", aed_radius)):
                    rows = conn.execute(
                        f"SELECT id, lat, lng FROM {table} WHERE cell = ANY(%s)",
                        (matching.cells_around(lat, lng, reach),),
                    ).fetchall()
                    data = np.array(rows, dtype=np.float64).reshape(-1, 3)
                    inside = matching.haversine_many(lat, lng, data[:, 1], data[:, 2]) <= reach
                    data = data[inside]
                    out.append((data[:, 0].astype(np.int64), data[:, 1], data[:, 2]))
                return out[0], out[1]

            timed("(c) PostgreSQL grid cells", by_sql)

        try:
            import redis  # type: ignore[import-not-found]

            client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=0.5)
            client.ping()
        except Exception:
            client = None
        if client is not None:
            client.delete("bench:r", "bench:a")
            for key, ids, lats, lngs in (
                ("bench:r", r_ids, r_lat, r_lng),
                ("bench:a", a_ids, a_lat, a_lng),
            ):
                pipe = client.pipeline()
                for i, la, ln in zip(ids.tolist(), lats.tolist(), lngs.tolist(), strict=True):
                    pipe.geoadd(key, (ln, la, i))
                pipe.execute()

            def by_redis(lat: float, lng: float):
                out = []
                for key, reach in (("bench:r", radius), ("bench:a", aed_radius)):
                    found = client.geosearch(
                        key, longitude=lng, latitude=lat, radius=reach, unit="m", withcoord=True
                    )
                    ids = np.array([int(m) for m, _ in found], dtype=np.int64)
                    out.append(
                        (
                            ids,
                            np.array([c[1] for _, c in found]),
                            np.array([c[0] for _, c in found]),
                        )
                    )
                return out[0], out[1]

            timed("(d) Redis GEOSEARCH", by_redis)

        intake = end_to_end(pg, args.intakes)

    baseline = statistics.median(results["(b) numpy brute force"])
    print(
        f"\n{args.responders:,} responders, {args.aeds:,} AEDs, {args.incidents:,} incidents; "
        f"index build {build_s:.2f} s; radius {radius} m, up to {policy.max_responders} alerted"
    )
    print(f"{'candidates found by':32} {'p50 ms':>9} {'p99 ms':>9} {'p50 vs brute force':>20}")
    for name, samples in results.items():
        p50, p99 = percentiles(samples)
        print(f"{name:32} {p50:9.3f} {p99:9.3f} {baseline * 1000 / p50:19.1f}x")
    if "(d) Redis GEOSEARCH" not in results:
        print("(d) Redis GEOSEARCH              skipped: no Redis on 127.0.0.1:6379")
    print(f"index and brute force chose different responders in {mismatches} of {args.incidents}")
    print(
        f"nearest AED by raw degrees was the wrong AED in {wrong} of {min(1000, len(inc))} "
        f"incidents ({wrong / min(1000, len(inc)):.1%})"
    )
    p50, p99 = percentiles(intake)
    print(
        f"end to end on PostgreSQL, signed intake -> alerts committed, {len(intake)} incidents: "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )


def end_to_end(pg: FreshPostgres, count: int) -> list[float]:
    """A town with 300 on-duty responders and 30 AEDs; `count` signed incidents through the
    ASGI app in process (no network in the timing), each until its transaction committed."""
    from fastapi.testclient import TestClient
    from sqlalchemy import select, text

    from gongchuang.app import create_app
    from gongchuang.core import credentials, organisations, people
    from gongchuang.core.clock import utcnow
    from gongchuang.core.models import OrganisationKind, Region
    from gongchuang.core.passwords import hash_password
    from gongchuang.core.permissions import SYSTEM, Principal
    from gongchuang.core.regions import builtin_rows, import_rows
    from gongchuang.core.webhooks import sign
    from gongchuang.emergency import service
    from gongchuang.emergency.schemas import AedIn, CentreIn

    rng = np.random.default_rng(7)
    centre_point = (34.7466, 113.6254)  # Zhengzhou
    database = pg.database
    with database.transaction() as session:
        import_rows(session, SYSTEM, [r for r in builtin_rows() if r.code == "410000"])
        region = session.scalar(select(Region).where(Region.code == "410000"))
        dispatch = organisations.create_organisation(
            session, SYSTEM, name="郑州120", kind=OrganisationKind.dispatch_centre, region=region
        )
        hospital = organisations.create_organisation(
            session, SYSTEM, name="培训医院", kind=OrganisationKind.hospital, region=region
        )
        dispatcher = people.register_person(session, SYSTEM, name="调度", phone="13700000000")
        dispatcher.password_hash = hash_password("bench-password-2026")
        organisations.add_member(
            session, SYSTEM, dispatch, phone=dispatcher.phone, roles=["dispatcher"], check=False
        )
        _centre, secret = service.save_centre(
            session,
            SYSTEM,
            dispatch,
            CentreIn(code="zz-120", name="郑州120", lat=centre_point[0], lng=centre_point[1]),
        )
        for k in range(30):
            lat = centre_point[0] + rng.normal(0, 0.01)
            lng = centre_point[1] + rng.normal(0, 0.01)
            service.create_aed(
                session, SYSTEM, dispatch, AedIn(lat=lat, lng=lng, address=f"AED {k}")
            )
        for k in range(300):
            person = people.register_person(
                session, SYSTEM, name=f"急救员{k}", phone=f"137{k + 1:08d}"
            )
            credentials.issue_credential(
                session,
                SYSTEM,
                hospital,
                person,
                kind="first_aid",
                title="证",
                certificate_no=str(k),
                valid_from=utcnow(),
                valid_until=None,
            )
            actor = Principal(person_id=person.id, name=person.name)
            service.join_network(session, actor)
            point = (centre_point[0] + rng.normal(0, 0.01), centre_point[1] + rng.normal(0, 0.01))
            location = PointIn(lat=point[0], lng=point[1])
            service.set_duty(
                session, actor, DutyIn(on_duty=True, location=location, consent_location=True)
            )
    app = create_app(database, background=False)
    samples = []
    with TestClient(app) as client:
        token = client.post(
            "/api/v1/auth/tokens",
            json={
                "phone": "13700000000",
                "password": "bench-password-2026",
                "name": "b",
                "scopes": ["emergency.dispatch"],
            },
        ).json()["token"]
        for n in range(count):
            body = json.dumps(
                {
                    "incidentComponent": {
                        "incidentTrackingIdentifier": f"B{n}",
                        "dispatchCode": "09E01",
                    },
                    "locationComponent": {
                        "latitude": centre_point[0] + rng.normal(0, 0.01),
                        "longitude": centre_point[1] + rng.normal(0, 0.01),
                    },
                }
            ).encode()
            headers = {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "X-Gongchuang-Signature": sign(secret, body),
                "Idempotency-Key": f"bench-{n}",
            }
            t0 = time.perf_counter()
            response = client.post(
                "/api/v1/emergency/centres/zz-120/incidents", content=body, headers=headers
            )
            samples.append(time.perf_counter() - t0)
            assert response.status_code == 201 and response.json()["alerted"] > 0, response.text
            if n % 20 == 19:
                # Responders go back to being available: close the incidents they were on.
                with database.transaction() as session:
                    session.execute(
                        text(
                            "UPDATE emergency_incident SET status = 'closed' "
                            "WHERE status = 'alerting'"
                        )
                    )
    return samples


if __name__ == "__main__":
    main()
