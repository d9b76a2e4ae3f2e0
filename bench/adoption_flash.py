"""A flash sale of cloud adoption on PostgreSQL: confirmed adoptions per second, never oversold.

(a) Through the HTTP API: a server with 2 workers (`gongchuang serve --workers 2`) on a fresh
    database; N buyers (default 500, each with an API token, asking for 1 to 5 m² of a season
    with 1,000 m² left) are released together, each reserving (POST
    /api/v1/adoption/offerings/{id}/orders) and, if it got units, paying in the sandbox (POST
    /api/v1/payments/sandbox/{out_trade_no}/pay: a signed WeChat Pay APIv3 notification
    applied in the request). Printed: confirmed adoptions per second (paid and allocated, from
    the release to the last answer), p50/p99 of the reservation, the payment and the whole
    adoption (as the buyer sees them: from asking the client, so with the wait for one of its
    connections), refusals, errors, units oversold (counted from the database: must be 0), and
    whether the target (>= 500 confirmed adoptions/s) is met. The buyers are asyncio tasks
    sharing one httpx client of --connections connections (default 30, see below).
(b) The reservation alone, straight on the database (psycopg): the same N reservations and
    units at once, each in one transaction, both approaches on the same connections and the
    same offering row (reset between rounds; the rounds alternate and the median is printed):
      ours:  INSERT the order, then UPDATE adoption_offering SET reserved_units = ... WHERE
             <enough left> RETURNING id (no row: rolled back), as stock.take_reservation does;
      naive: SELECT ... FROM adoption_offering ... FOR UPDATE, SELECT SUM(units) of the active
             orders, and INSERT the order if enough is left (the usual approach).
    One connection per concurrent buyer, capped by PostgreSQL's max_connections (less its
    reserved slots, the connections already open and a margin of 10): the cap is printed, and
    the comparison is made at the cap and at fewer connections (--levels: by default the HTTP
    run's 30, and 8). Reservations per second count all N (taken or refused) over the round.
    What it showed on a 2-core machine (max_connections 100, cap 82): ours about 1.5x the
    naive rate at 8 connections, 0.85x to 1.0x at 30, and 0.55x to 0.66x at 82, where its p99 is
    ~0.9 s against ~0.2 s (medians about equal). Likely why: each conditional UPDATE makes a new
    version of the row, and waiters queued on the old version queue again on the new one, behind
    newcomers, while the naive lock leaves the row's version as it is and its waiters in one
    queue; under many waiters a few then wait very long, and the round ends with them.

What limits the HTTP figure here:
- The load generator (Python, asyncio + httpx: about 1 ms of CPU per request), PostgreSQL
  and the server's two workers share the machine's cores: on a 2-core machine every request
  costs CPU on both sides of the socket.
- Each adoption is two requests of the whole stack: alone, on an idle server, a reservation
  takes ~15 ms and a payment ~22 ms (the sandbox signs, verifies and decrypts its WeChat Pay
  notification, then the allocation writes the ledger, transitions, event, notification and
  live progress). With 2 workers of 40 threads each, a request holding the season's row lock
  (from its UPDATE to its commit) also waits for its worker's GIL behind the others, so the
  hot row is held far longer under load than alone.
- The audit ledger is no longer in the way: entries are chained after commit by a sealer
  (core/audit.py). Before that change every payment queued on the chain's one lock: 13.9
  confirmed adoptions/s then, 16.3/s after, in the same conditions.
- Each worker has 30 database connections (pool 10 + overflow 20) and 40 threads: with more
  requests in flight in one worker than that, requests wait for a connection past the pool's
  30 s timeout and are answered 503 with Retry-After (they were 500 before). --connections
  is kept at 30 by default for that reason; a larger value shows it.

    python bench/adoption_flash.py [--buyers 500] [--stock 1000] [--connections 30]
                                   [--rounds 3] [--levels 30 8]
                                   [--skip-http] [--skip-direct]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import psycopg
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("GONGCHUANG_LOG_LEVEL", "WARNING")  # the server's log: no access lines

from fresh_postgres import PG_ADMIN, FreshPostgres  # noqa: E402
from tests.adoption.test_concurrency import CONNECTIONS, Outcome, buy_all, prepare  # noqa: E402
from tests.support.servers import running_server  # noqa: E402

from gongchuang.adoption.models import HOLDING, AdoptionOrder, Offering  # noqa: E402
from gongchuang.core.clock import utcnow  # noqa: E402
from gongchuang.core.models import Payment, PaymentStatus  # noqa: E402
from gongchuang.core.payments.sandbox import sandbox_keys  # noqa: E402
from gongchuang.modules import load_modules  # noqa: E402

TARGET_PER_S = 500
SEED = 20261203


def quantiles_ms(seconds: list[float]) -> tuple[float, float]:
    if not seconds:
        return float("nan"), float("nan")
    if len(seconds) == 1:
        return seconds[0] * 1000, seconds[0] * 1000
    q = statistics.quantiles(seconds, n=100, method="inclusive")
    return q[49] * 1000, q[98] * 1000


def oversold(pg: FreshPostgres, offering_id: int) -> tuple[int, int, int]:
    """(units oversold, units allocated, paid payments) counted from the database."""
    with pg.database.transaction(write=False) as session:
        offering = session.get(Offering, offering_id)
        assert offering is not None
        held = session.scalar(
            select(func.coalesce(func.sum(AdoptionOrder.units), 0)).where(
                AdoptionOrder.offering_id == offering_id,
                AdoptionOrder.status.in_([s.value for s in HOLDING]),
            )
        )
        paid = session.scalar(
            select(func.count(Payment.id)).where(Payment.status == PaymentStatus.paid)
        )
        counted = offering.allocated_units + offering.reserved_units
        over = max(0, int(held or 0) - offering.total_units, counted - offering.total_units)
        return over, int(held or 0), int(paid or 0)


def bench_http(buyers: int, stock: int, connections: int) -> None:
    print(
        f"(a) HTTP API: {buyers} buyers released together for {stock} m2 (1-5 m2 each), "
        f"server with 2 workers, {connections} client connections, {os.cpu_count()} CPU cores "
        "shared with the load generator and PostgreSQL",
        flush=True,
    )
    with FreshPostgres("flash") as pg, TemporaryDirectory() as tmp:
        offering_id, tokens = prepare(pg.database, random.Random(SEED), buyers=buyers, stock=stock)
        with pg.database.transaction() as session:
            sandbox_keys(session)  # made once per installation: not part of the sale
        log = Path(tmp) / "server.log"
        with running_server(pg.url, log, workers=2) as base:
            # Both workers import, compile and connect before the sale starts.
            warm = [(token, 1) for token, _ in tokens[:connections]]
            asyncio.run(_warm_up(base, offering_id, [t for t, _ in warm]))
            started = time.perf_counter()
            outcomes = asyncio.run(buy_all(base, offering_id, tokens, connections))
            elapsed = time.perf_counter() - started
        over, held, paid = oversold(pg, offering_id)
        _report_http(outcomes, elapsed, over, held, paid, stock)
        if any(o.status >= 500 or o.failure for o in outcomes):
            print("  server log, last lines:")
            print("    " + "\n    ".join(log.read_text().splitlines()[-15:]))


async def _warm_up(base: str, offering_id: int, tokens: list[str]) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        await asyncio.gather(
            *(
                client.get(
                    f"/api/v1/adoption/offerings/{offering_id}",
                    headers={"Authorization": f"Bearer {token}"},
                )
                for token in tokens
            )
        )


def _report_http(
    outcomes: list[Outcome], elapsed: float, over: int, held: int, paid: int, stock: int
) -> None:
    confirmed = [
        o
        for o in outcomes
        if o.status == 201 and o.pay_status == 200 and (o.pay_body or {}).get("status") == "paid"
    ]
    refused = [o for o in outcomes if o.status == 409]
    errors = [
        o
        for o in outcomes
        if o.failure or o.status not in (201, 409) or (o.status == 201 and o.pay_status != 200)
    ]
    rate = len(confirmed) / elapsed
    reserve = quantiles_ms([o.reserve_s for o in outcomes if o.status])
    pay = quantiles_ms([o.pay_s for o in confirmed])
    whole = quantiles_ms([o.reserve_s + o.pay_s for o in confirmed])
    print(f"  confirmed adoptions:       {len(confirmed):6d} in {elapsed:.2f} s")
    print(f"  confirmed adoptions/s:     {rate:8.1f}")
    print(f"  refused (409 sold out):    {len(refused):6d}")
    print(f"  errors (5xx, timeouts):    {len(errors):6d}")
    print(f"  units allocated:           {held:6d} of {stock} ({paid} payments paid)")
    print(f"  units oversold:            {over:6d}  (must be 0)")
    print(f"  {'latency':<26}{'p50 ms':>9}{'p99 ms':>9}")
    print(f"  {'reservation (all)':<26}{reserve[0]:>9.1f}{reserve[1]:>9.1f}")
    print(f"  {'payment (winners)':<26}{pay[0]:>9.1f}{pay[1]:>9.1f}")
    print(f"  {'whole adoption (winners)':<26}{whole[0]:>9.1f}{whole[1]:>9.1f}")
    met = "met" if rate >= TARGET_PER_S and over == 0 and not errors else "NOT met"
    print(f"  target >= {TARGET_PER_S} confirmed adoptions/s, 0 oversold, no errors: {met}")


# --- (b) the reservation alone, straight on the database ----------------------------------------

ACTIVE = ("pending", "paid", "allocated", "harvested", "shipped", "delivered")

NAIVE_LOCK = (
    "SELECT total_units FROM adoption_offering WHERE id = %s AND status = 'open' FOR UPDATE"
)
NAIVE_SUM = (
    "SELECT COALESCE(SUM(units), 0) FROM adoption_order WHERE offering_id = %s AND status = ANY(%s)"
)
INSERT_ORDER = (
    "INSERT INTO adoption_order (code, offering_id, adopter_id, units, amount_fen, status, "
    "holds_reservation, reserved_until, plot_numbers, delivery_method, recipient_name, "
    "recipient_phone, address_line, courier, tracking_no, created_at) "
    "VALUES (%s, %s, %s, %s, %s, 'pending', true, %s, '[]', 'courier', '', '', '', '', '', %s)"
)
OUR_UPDATE = (
    "UPDATE adoption_offering SET reserved_units = reserved_units + %s "
    "WHERE id = %s AND status = 'open' AND allocated_units + reserved_units + %s <= total_units "
    "RETURNING id"
)

Buyer = tuple[str, int, int]  # order code, adopter, units
Reserve = Callable[[psycopg.Connection, int, int, Buyer], bool]


def reserve_ours(conn: psycopg.Connection, offering_id: int, price: int, buyer: Buyer) -> bool:
    code, adopter, units = buyer
    now = utcnow()
    with conn.transaction():
        conn.execute(
            INSERT_ORDER,
            (code, offering_id, adopter, units, units * price, now + timedelta(minutes=15), now),
        )
        # Last, so that the offering's row is locked only from here to the commit.
        if conn.execute(OUR_UPDATE, (units, offering_id, units)).fetchone() is not None:
            return True
        raise psycopg.Rollback()  # the order goes with it
    return False


def reserve_naive(conn: psycopg.Connection, offering_id: int, price: int, buyer: Buyer) -> bool:
    code, adopter, units = buyer
    now = utcnow()
    with conn.transaction():
        total = conn.execute(NAIVE_LOCK, (offering_id,)).fetchone()
        held = conn.execute(NAIVE_SUM, (offering_id, list(ACTIVE))).fetchone()
        if total is None or held is None or total[0] - held[0] < units:
            return False
        conn.execute(
            INSERT_ORDER,
            (code, offering_id, adopter, units, units * price, now + timedelta(minutes=15), now),
        )
        return True


def connection_cap(buyers: int) -> tuple[int, str]:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        most = int(admin.execute("SHOW max_connections").fetchone()[0])  # type: ignore[index]
        reserved = int(
            admin.execute("SHOW superuser_reserved_connections").fetchone()[0]  # type: ignore[index]
        )
        open_now = int(
            admin.execute("SELECT count(*) FROM pg_stat_activity").fetchone()[0]  # type: ignore[index]
        )
    cap = min(buyers, most - reserved - open_now - 10)
    return cap, (f"max_connections {most} - {reserved} reserved - {open_now} open now - 10 spare")


def one_round(
    connections: list[psycopg.Connection],
    reserve: Reserve,
    offering_id: int,
    price: int,
    buyers: list[Buyer],
) -> tuple[float, list[float], int]:
    """(seconds, each reservation's seconds, units taken): the buyers shared out among the
    connections, one thread each, all released together."""
    barrier = threading.Barrier(len(connections) + 1)
    lock = threading.Lock()
    queue = list(reversed(buyers))
    latencies: list[float] = []
    taken = [0]
    failures: list[BaseException] = []

    def work(conn: psycopg.Connection) -> None:
        barrier.wait()
        while True:
            with lock:
                if not queue:
                    return
                buyer = queue.pop()
            started = time.perf_counter()
            try:
                won = reserve(conn, offering_id, price, buyer)
            except BaseException as exc:  # reported after the round
                failures.append(exc)
                continue
            spent = time.perf_counter() - started
            with lock:
                latencies.append(spent)
                taken[0] += buyer[2] if won else 0

    threads = [threading.Thread(target=work, args=(c,)) for c in connections]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} reservations failed: {failures[0]!r}")
    return elapsed, latencies, taken[0]


def bench_direct(buyers: int, stock: int, rounds: int, levels: list[int]) -> None:
    cap, why = connection_cap(buyers)
    print(
        f"(b) the reservation alone on PostgreSQL (psycopg): {buyers} reservations at once for "
        f"{stock} m2; cap of connections: {cap} ({why})",
        flush=True,
    )
    if cap < 2:
        print("  skipped: PostgreSQL has fewer than 2 connections to spare")
        return
    # At the cap (the brief's figure), and at fewer: the HTTP run's concurrency, and a few.
    concurrencies = sorted({cap, *(n for n in levels if 2 <= n < cap)}, reverse=True)
    with FreshPostgres("flash_direct") as pg:
        offering_id, tokens = prepare(pg.database, random.Random(SEED), buyers=buyers, stock=stock)
        with pg.database.transaction(write=False) as session:
            offering = session.get(Offering, offering_id)
            assert offering is not None
            price = offering.price_fen
        conninfo = pg.url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(conninfo, autocommit=True) as admin:
            adopters = [
                row[0]
                for row in admin.execute(
                    "SELECT id FROM person WHERE phone LIKE '1380000%%' ORDER BY id"
                )
            ]
        units = [k for _, k in tokens]
        connections = [psycopg.connect(conninfo, autocommit=True) for _ in range(cap)]
        try:
            print(
                f"  {'connections':>11}  {'approach':<46}{'reservations/s':>15}"
                f"{'p50 ms':>9}{'p99 ms':>9}{'taken':>7}"
            )
            for level in concurrencies:
                _compare(connections[:level], rounds, offering_id, price, stock, adopters, units)
        finally:
            for conn in connections:
                conn.close()
    print(
        f"  (median of {rounds} alternating rounds per approach and level; each round checked: "
        "units in orders = units taken <= stock, i.e. 0 oversold)"
    )


def _compare(
    connections: list[psycopg.Connection],
    rounds: int,
    offering_id: int,
    price: int,
    stock: int,
    adopters: list[int],
    units: list[int],
) -> None:
    results: dict[str, list[tuple[float, list[float], int]]] = {"ours": [], "naive": []}
    for n in range(rounds):
        for name, reserve in (("ours", reserve_ours), ("naive", reserve_naive)):
            batch = [
                (f"B{len(connections):03d}{n:02d}{name[0]}{i:06d}", adopter, k)
                for i, (adopter, k) in enumerate(zip(adopters, units, strict=True))
            ]
            result = one_round(connections, reserve, offering_id, price, batch)
            _check_and_reset(connections[0], offering_id, stock, result[2], name)
            results[name].append(result)
    rates = {}
    for name, label in (
        ("ours", "ours: INSERT + conditional UPDATE ... RETURNING"),
        ("naive", "naive: SELECT ... FOR UPDATE + SUM + INSERT"),
    ):
        elapsed, latencies, taken = sorted(results[name], key=lambda r: r[0])[rounds // 2]
        rates[name] = len(units) / elapsed
        p50, p99 = quantiles_ms(latencies)
        print(
            f"  {len(connections):>11}  {label:<46}{rates[name]:>15.0f}"
            f"{p50:>9.1f}{p99:>9.1f}{taken:>7}"
        )
    print(f"  {len(connections):>11}  ratio ours / naive: {rates['ours'] / rates['naive']:.2f}x")


def _check_and_reset(
    conn: psycopg.Connection, offering_id: int, stock: int, taken: int, name: str
) -> None:
    held = conn.execute(
        "SELECT COALESCE(SUM(units), 0) FROM adoption_order WHERE offering_id = %s",
        (offering_id,),
    ).fetchone()
    counted = conn.execute(
        "SELECT reserved_units FROM adoption_offering WHERE id = %s", (offering_id,)
    ).fetchone()
    # The naive approach keeps no counter: its orders are what it sold.
    expected_counter = taken if name == "ours" else 0
    if held is None or held[0] != taken or taken > stock or counted != (expected_counter,):
        raise RuntimeError(
            f"{name}: {held} units in orders, {counted} counted, {taken} taken, {stock} in stock"
        )
    conn.execute("DELETE FROM adoption_order WHERE offering_id = %s", (offering_id,))
    conn.execute(
        "UPDATE adoption_offering SET reserved_units = 0, allocated_units = 0 WHERE id = %s",
        (offering_id,),
    )
    conn.execute("VACUUM ANALYZE adoption_order")
    conn.execute("VACUUM ANALYZE adoption_offering")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--buyers", type=int, default=500)
    parser.add_argument("--stock", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--levels",
        type=int,
        nargs="*",
        default=[CONNECTIONS, 8],
        help="connection counts measured in (b) besides the cap",
    )
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-direct", action="store_true")
    args = parser.parse_args()
    load_modules()
    if not args.skip_http:
        bench_http(args.buyers, args.stock, args.connections)
    if not args.skip_direct:
        bench_direct(args.buyers, args.stock, args.rounds, args.levels)


if __name__ == "__main__":
    main()
