"""The pure rules of matched giving: matching arithmetic, caps, quadratic shares, screening."""

from __future__ import annotations

import hashlib
import hmac
import math
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongchuang.charity.service.rules import (
    DEFAULT_POLICY,
    PotTerms,
    RatioRule,
    ScreeningFacts,
    ScreeningPolicy,
    Signal,
    desired_match_fen,
    granted_fen,
    headroom,
    match_draw,
    quadratic_shares,
    ratio_pct,
    screen,
)

SOME = settings(max_examples=200, deadline=None)
FEW = settings(max_examples=80, deadline=None)

draws = st.floats(0, 1, exclude_max=True)


@st.composite
def pot_terms(
    draw: st.DrawFn, rules: tuple[RatioRule, ...] = (RatioRule.fixed, RatioRule.random)
) -> PotTerms:
    low = draw(st.integers(1, 1000))
    return PotTerms(
        rule=draw(st.sampled_from(rules)),
        ratio_min_pct=low,
        ratio_max_pct=draw(st.integers(low, 1000)),
        min_donation_fen=draw(st.integers(0, 10_000)),
        max_match_fen=draw(st.none() | st.integers(0, 10_000_000)),
    )


# --- Per-donation matching -------------------------------------------------------------------


@SOME
@given(terms=pot_terms(), donation=st.integers(-1000, 10**9), draw=draws)
def test_the_desired_match_stays_within_the_terms(
    terms: PotTerms, donation: int, draw: float
) -> None:
    match = desired_match_fen(terms, donation, draw)
    assert 0 <= match <= max(donation, 0) * terms.ratio_max_pct / 100
    if terms.max_match_fen is not None:
        assert match <= terms.max_match_fen
    if donation < terms.min_donation_fen:
        assert match == 0
    if terms.rule is RatioRule.fixed and donation >= terms.min_donation_fen:
        uncapped = max(donation, 0) * terms.ratio_min_pct // 100
        cap = terms.max_match_fen
        assert match == (uncapped if cap is None else min(uncapped, cap))


def test_a_fixed_one_to_one_match_in_whole_fen() -> None:
    one_to_one = PotTerms(RatioRule.fixed, 100, 100, min_donation_fen=100, max_match_fen=50_000)
    assert desired_match_fen(one_to_one, 9_999, 0.7) == 9_999
    assert desired_match_fen(one_to_one, 99, 0.7) == 0  # under ¥1: tiny-donation farming
    assert desired_match_fen(one_to_one, 100, 0.7) == 100
    assert desired_match_fen(one_to_one, 80_000, 0.7) == 50_000
    one_and_a_third = replace(one_to_one, ratio_min_pct=133, ratio_max_pct=133)
    assert desired_match_fen(one_and_a_third, 1_001, 0.0) == 1_331  # 1331.33 rounded down


@FEW
@given(terms=pot_terms(), draw=draws)
def test_the_ratio_stays_within_its_bounds(terms: PotTerms, draw: float) -> None:
    ratio = ratio_pct(terms, draw)
    assert terms.ratio_min_pct <= ratio <= terms.ratio_max_pct
    if terms.rule is RatioRule.fixed:
        assert ratio == terms.ratio_min_pct


@FEW
@given(terms=pot_terms(rules=(RatioRule.random,)))
def test_random_ratios_reach_both_ends(terms: PotTerms) -> None:
    assert ratio_pct(terms, 0.0) == terms.ratio_min_pct
    assert ratio_pct(terms, math.nextafter(1.0, 0.0)) == terms.ratio_max_pct
    assert ratio_pct(terms, 1.0) == terms.ratio_max_pct


def test_random_ratios_are_spread_evenly_over_whole_percents() -> None:
    terms = PotTerms(RatioRule.random, 100, 103, min_donation_fen=0, max_match_fen=None)
    counts: dict[int, int] = defaultdict(int)
    for donation_id in range(4000):
        counts[ratio_pct(terms, match_draw(b"pot secret", donation_id))] += 1
    assert set(counts) == {100, 101, 102, 103}
    assert all(850 < n < 1150 for n in counts.values())


def test_refusals() -> None:
    quadratic = PotTerms(RatioRule.quadratic, 100, 100, min_donation_fen=0, max_match_fen=None)
    random_terms = replace(quadratic, rule=RatioRule.random, ratio_max_pct=200)
    with pytest.raises(ValueError, match="quadratic"):
        ratio_pct(quadratic, 0.5)
    with pytest.raises(ValueError, match="quadratic"):
        desired_match_fen(quadratic, 10_000, 0.5)
    for draw in (-0.1, 1.5, math.nan):
        with pytest.raises(ValueError, match="draw"):
            ratio_pct(random_terms, draw)
    for low, high in ((0, 100), (200, 100), (100, 1001)):
        with pytest.raises(ValueError, match="ratios"):
            replace(quadratic, ratio_min_pct=low, ratio_max_pct=high)
    with pytest.raises(ValueError, match="max_match_fen"):
        replace(quadratic, max_match_fen=-1)


@FEW
@given(secret=st.binary(min_size=1, max_size=40), donation_id=st.integers(0, 2**63))
def test_match_draws_are_reproducible_fractions_of_the_hmac(
    secret: bytes, donation_id: int
) -> None:
    draw = match_draw(secret, donation_id)
    assert 0.0 <= draw < 1.0
    assert match_draw(secret, donation_id) == draw
    # What an auditor computes from the description, to within the double's last bit.
    digest = hmac.new(secret, str(donation_id).encode(), hashlib.sha256).digest()
    assert abs(draw - int.from_bytes(digest[:8], "big") / 2**64) <= 2**-53
    assert match_draw(secret, donation_id + 1) != draw
    assert match_draw(secret + b"x", donation_id) != draw


def test_the_largest_hmac_prefix_still_draws_below_one() -> None:
    # The rounding that match_draw avoids: to nearest, 2**64 - 1 over 2**64 is exactly 1.0.
    assert (2**64 - 1) / 2**64 == 1.0
    assert ((2**64 - 1) >> 11) / 2**53 < 1.0


# --- Caps and the pot ------------------------------------------------------------------------

headrooms = st.lists(st.integers(-100, 10**7), max_size=5)


@SOME
@given(desired=st.integers(-100, 10**7), rooms=headrooms)
def test_a_grant_never_exceeds_the_wish_or_any_headroom(desired: int, rooms: list[int]) -> None:
    granted = granted_fen(desired, rooms)
    assert 0 <= granted <= max(desired, 0)
    assert all(granted <= max(room, 0) for room in rooms)
    if all(room >= desired for room in rooms):
        assert granted == max(desired, 0)


@FEW
@given(cap=st.none() | st.integers(0, 10**7), used=st.integers(0, 2 * 10**7))
def test_headroom(cap: int | None, used: int) -> None:
    room = headroom(cap, used)
    if cap is None:
        assert room is None
    else:
        assert room == max(0, cap - used)


donations = st.lists(
    st.tuples(
        st.integers(0, 2),  # day
        st.integers(0, 6),  # donor
        st.integers(0, 4),  # project; its organisation is project % 2
        st.integers(1, 60_000),  # fen
    ),
    max_size=60,
)
caps = st.none() | st.integers(0, 80_000)


@SOME
@given(
    terms=pot_terms(),
    pot=st.integers(0, 300_000),
    pot_per_day=caps,
    donor_per_day=caps,
    per_project=caps,
    per_organisation=caps,
    gifts=donations,
)
def test_a_campaign_never_overspends_the_pot_or_any_cap(
    terms: PotTerms,
    pot: int,
    pot_per_day: int | None,
    donor_per_day: int | None,
    per_project: int | None,
    per_organisation: int | None,
    gifts: list[tuple[int, int, int, int]],
) -> None:
    """The bookkeeping the service keeps in counter rows, in dicts: every cap holds after every
    donation, whatever the order of arrival."""
    matched = 0
    by_day: dict[int, int] = defaultdict(int)
    by_donor_day: dict[tuple[int, int], int] = defaultdict(int)
    by_project: dict[int, int] = defaultdict(int)
    by_organisation: dict[int, int] = defaultdict(int)
    matched_pairs: dict[tuple[int, int], int] = defaultdict(int)
    for donation_id, (day, donor, project, fen) in enumerate(gifts):
        if matched_pairs[donor, project]:
            continue  # one match per donor per project
        organisation = project % 2
        wish = desired_match_fen(terms, fen, match_draw(b"campaign", donation_id))
        rooms = [
            headroom(pot, matched),
            headroom(pot_per_day, by_day[day]),
            headroom(donor_per_day, by_donor_day[donor, day]),
            headroom(per_project, by_project[project]),
            headroom(per_organisation, by_organisation[organisation]),
        ]
        granted = granted_fen(wish, [room for room in rooms if room is not None])
        assert 0 <= granted <= wish
        if granted:
            matched += granted
            by_day[day] += granted
            by_donor_day[donor, day] += granted
            by_project[project] += granted
            by_organisation[organisation] += granted
            matched_pairs[donor, project] += 1

        assert matched <= pot
        for cap, used in (
            (pot_per_day, by_day),
            (donor_per_day, by_donor_day),
            (per_project, by_project),
            (per_organisation, by_organisation),
        ):
            assert cap is None or all(amount <= cap for amount in used.values())
        assert all(count <= 1 for count in matched_pairs.values())


# --- Quadratic funding -----------------------------------------------------------------------


def brute_force_raw(
    contributions: dict[int, dict[int, int]], bound: int | None
) -> dict[int, float]:
    """The definition, pair by pair, with k_ij summed over every project of the round."""
    given_ = {p: {d: c for d, c in ds.items() if c > 0} for p, ds in contributions.items()}
    donors = sorted({d for ds in given_.values() for d in ds})
    together: dict[tuple[int, int], float] = defaultdict(float)
    for i in donors:
        for j in donors:
            if i < j:
                together[i, j] = math.fsum(
                    math.sqrt(ds[i] * ds[j]) for ds in given_.values() if i in ds and j in ds
                )
    raw = {}
    for p, ds in given_.items():
        terms = []
        for i in ds:
            for j in ds:
                if i < j:
                    factor = 1.0 if bound is None else bound / (bound + together[i, j])
                    terms.append(math.sqrt(ds[i] * ds[j]) * factor)
        raw[p] = 2 * math.fsum(terms)
    return raw


rounds = st.dictionaries(
    st.integers(1, 6),
    st.dictionaries(st.integers(1, 8), st.integers(-50, 20_000) | st.sampled_from([100, 1000])),
    max_size=6,
)
bounds = st.none() | st.integers(1, 100_000)


@SOME
@given(contributions=rounds, pot=st.integers(0, 500_000), bound=bounds)
def test_quadratic_shares_add_up_to_the_pot_or_the_raw_total(
    contributions: dict[int, dict[int, int]], pot: int, bound: int | None
) -> None:
    shares = quadratic_shares(contributions, pot, coordination_bound_fen=bound)
    assert list(shares) == sorted(contributions)
    assert all(share >= 0 for share in shares.values())

    raw = brute_force_raw(contributions, bound)
    total = math.fsum(raw.values())
    if abs(total - round(total)) > 1e-6:  # else the float sums may floor either way
        assert sum(shares.values()) == min(pot, math.floor(total))
    assert sum(shares.values()) <= pot
    for project, value in raw.items():
        quota = value if total <= pot else value * pot / total
        assert quota - 1 - 1e-6 < shares[project] < quota + 1 + 1e-6
        if sum(1 for fen in contributions[project].values() if fen > 0) < 2:
            assert shares[project] == 0

    # Deterministic, whatever order the mappings come in.
    reordered = {p: dict(reversed(ds.items())) for p, ds in reversed(contributions.items())}
    assert quadratic_shares(reordered, pot, coordination_bound_fen=bound) == shares


def test_quadratic_shares_worked_by_hand() -> None:
    """Project 1: A 100, B 400 fen.  Project 2: A 400, B 100, C 900 fen.
    Pair terms sqrt(c_i c_j): project 1 {A,B} 200; project 2 {A,B} 200, {A,C} 600, {B,C} 300.

    Plain: raw_1 = 2 × 200 = 400 (= (10 + 20)² − 500); raw_2 = 2 × 1100 = 2200
    (= (20 + 10 + 30)² − 1400). A pot of 10,000 pays both in full; a pot of 611 pays
    611 × 400/2600 = 94 exactly and 517.

    Bound M = 400: k_AB = 200 + 200 = 400, k_AC = 600, k_BC = 300.
    raw_1 = 2 × 200 × 400/800 = 200; raw_2 = 2 × (200 × 400/800 + 600 × 400/1000 + 300 × 400/700)
    = 2 × (100 + 240 + 171.43) = 1022.86; total 8560/7 = 1222.86.
    Pot 10,000: floors 200 and 1022 (the total floors to 1222 as well).
    Pot 611: quotas 200 × 611 × 7/8560 = 99.93 and 511.07; floors 99 + 511 = 610, the last fen
    to the larger remainder, project 1: 100 and 511. Every pair is damped, the A–B pair that
    backs both projects most (factor 1/2 against C's 2/3 and 4/7)."""
    round_ = {1: {"A": 100, "B": 400}, 2: {"A": 400, "B": 100, "C": 900}}
    ids = {"A": 1, "B": 2, "C": 3}
    contributions = {p: {ids[d]: c for d, c in ds.items()} for p, ds in round_.items()}
    assert quadratic_shares(contributions, 10_000) == {1: 400, 2: 2200}
    assert quadratic_shares(contributions, 611) == {1: 94, 2: 517}
    assert quadratic_shares(contributions, 10_000, coordination_bound_fen=400) == {1: 200, 2: 1022}
    assert quadratic_shares(contributions, 611, coordination_bound_fen=400) == {1: 100, 2: 511}


def test_one_donor_earns_nothing_and_plain_funding_pays_splitting_them() -> None:
    alone = {1: {1: 10_000}, 2: {2: 5_000, 3: 5_000}}
    assert quadratic_shares(alone, 10**6) == {1: 0, 2: 10_000}
    # The same ¥100 from four sock-puppets: (4 × 50)² − 10,000 = 30,000 under plain funding.
    puppets = {1: {1: 2_500, 11: 2_500, 12: 2_500, 13: 2_500}, 2: {2: 5_000, 3: 5_000}}
    assert quadratic_shares(puppets, 10**6) == {1: 30_000, 2: 10_000}
    assert quadratic_shares({}, 10**6) == {}
    assert quadratic_shares({1: {}, 2: {1: 0, 2: -5}}, 10**6) == {1: 0, 2: 0}


@FEW
@given(
    donors=st.integers(2, 12),
    more=st.integers(1, 12),
    each=st.integers(1, 200),
    pot=st.integers(0, 10**7),
    bound=bounds,
)
def test_more_donors_for_the_same_money_never_get_less(
    donors: int, more: int, each: int, pot: int, bound: int | None
) -> None:
    """Both projects raise donors × (donors + more) × each fen, B from more people."""
    few = dict.fromkeys(range(donors), each * (donors + more))
    many = {1000 + d: each * donors for d in range(donors + more)}
    assert sum(few.values()) == sum(many.values())
    shares = quadratic_shares({1: few, 2: many}, pot, coordination_bound_fen=bound)
    assert shares[2] >= shares[1]


@FEW
@given(
    puppets=st.integers(2, 8),
    strangers=st.integers(2, 8),
    fen=st.integers(1_000, 100_000),
    bound_in_gifts=st.integers(1, 20),
    pot=st.sampled_from([10**6, 10**12]),
)
def test_the_bound_cuts_what_a_ring_of_sock_puppets_gains(
    puppets: int, strangers: int, fen: int, bound_in_gifts: int, pot: int
) -> None:
    """A ring gives `fen` each to the same two projects 1 and 2; as many strangers give the same
    to project 3 alone. Bounded, the ring's share of the pot is smaller than unbounded."""
    ring = dict.fromkeys(range(puppets), fen)
    contributions = {1: ring, 2: dict(ring), 3: {100 + d: fen for d in range(strangers)}}

    def ring_share(bound: int | None) -> Fraction:
        shares = quadratic_shares(contributions, pot, coordination_bound_fen=bound)
        return Fraction(shares[1] + shares[2], sum(shares.values()))

    assert ring_share(bound_in_gifts * fen) < ring_share(None)


def test_a_bound_far_above_every_gift_is_plain_funding() -> None:
    rng = random.Random(7)
    contributions = {
        p: {d: rng.randint(100, 5_000) for d in rng.sample(range(40), 12)} for p in range(8)
    }
    plain = quadratic_shares(contributions, 10**6)
    nearly = quadratic_shares(contributions, 10**6, coordination_bound_fen=10**15)
    assert all(abs(plain[p] - nearly[p]) <= 1 for p in plain)


def test_a_national_giving_day_round_is_shared_in_well_under_a_second() -> None:
    """10,000 donors over 100 projects, one to three projects each, every amount different (no
    grouping of equal gifts helps): about 0.3 s here, so 2 s leaves room for a loaded machine."""
    rng = random.Random(99)
    contributions: dict[int, dict[int, int]] = {p: {} for p in range(100)}
    for donor in range(10_000):
        for project in rng.sample(range(100), rng.randint(1, 3)):
            contributions[project][donor] = rng.randint(100, 100_000)
    pot = 299_990_000_00  # the ¥299.99m of a 99 Giving Day, in fen
    started = time.perf_counter()
    shares = quadratic_shares(contributions, pot, coordination_bound_fen=10_000)
    assert time.perf_counter() - started < 2.0
    assert sum(shares.values()) == pot


# --- Screening -------------------------------------------------------------------------------

ORDINARY = ScreeningFacts(
    donation_fen=5_000,
    account_age=timedelta(days=400),
    same_device_recent=0,
    same_address_recent=1,
    donor_is_charity_staff=False,
    reciprocal=False,
    refunds_after_match=0,
)


def test_an_ordinary_donation_is_credited_now() -> None:
    assert screen(ORDINARY) == ()
    assert screen(ORDINARY, DEFAULT_POLICY) == ()


WEEK = DEFAULT_POLICY.new_account
LIMIT = DEFAULT_POLICY.burst_limit


@pytest.mark.parametrize(
    ("donation_fen", "account_age", "fires"),
    [
        (100, WEEK - timedelta(seconds=1), True),
        (1, timedelta(0), True),
        (101, timedelta(0), False),
        (100, WEEK, False),
    ],
)
def test_tiny_from_a_new_account(donation_fen: int, account_age: timedelta, fires: bool) -> None:
    facts = replace(ORDINARY, donation_fen=donation_fen, account_age=account_age)
    assert screen(facts) == ((Signal.tiny_from_new_account,) if fires else ())


def from_one_device(recent: int) -> ScreeningFacts:
    return replace(ORDINARY, same_device_recent=recent, same_address_recent=0)


def from_one_address(recent: int) -> ScreeningFacts:
    return replace(ORDINARY, same_device_recent=0, same_address_recent=recent)


@pytest.mark.parametrize(
    ("facts_with", "signal"),
    [
        (from_one_device, Signal.burst_from_one_device),
        (from_one_address, Signal.burst_from_one_address),
    ],
)
def test_a_burst_is_the_donation_after_the_limit(
    facts_with: Callable[[int], ScreeningFacts], signal: Signal
) -> None:
    # The counts leave this donation out: with LIMIT before it, this one is one too many.
    assert screen(facts_with(LIMIT - 1)) == ()
    assert screen(facts_with(LIMIT)) == (signal,)
    strict = ScreeningPolicy(burst_limit=1)
    assert screen(facts_with(0), strict) == ()
    assert screen(facts_with(1), strict) == (signal,)


def test_staff_reciprocity_and_refunds() -> None:
    assert screen(replace(ORDINARY, donor_is_charity_staff=True)) == (
        Signal.donor_is_charity_staff,
    )
    assert screen(replace(ORDINARY, reciprocal=True)) == (Signal.reciprocal_between_charities,)
    assert screen(replace(ORDINARY, refunds_after_match=1)) == (Signal.refund_after_match,)
    lenient = ScreeningPolicy(max_refunds_after_match=2)
    assert screen(replace(ORDINARY, refunds_after_match=2), lenient) == ()
    assert screen(replace(ORDINARY, refunds_after_match=3), lenient) == (Signal.refund_after_match,)


def test_every_signal_at_once_comes_in_the_enum_order() -> None:
    everything = ScreeningFacts(
        donation_fen=1,
        account_age=timedelta(hours=1),
        same_device_recent=LIMIT,
        same_address_recent=LIMIT,
        donor_is_charity_staff=True,
        reciprocal=True,
        refunds_after_match=1,
    )
    assert screen(everything) == tuple(Signal)
