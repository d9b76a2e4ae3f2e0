"""The pure rules of matched giving: how much a matching pot adds to a donation, how a short pot
or a cap cuts that down, how a quadratic pot is shared out, and which donations are held back.

A campaign's sponsor puts money in a pot and picks a rule. `fixed` adds the same ratio to every
donation (1:1 is 100%). `random` draws each donation's ratio between a floor and a ceiling: on a
giving day a fixed 1:1 is a race that a pot loses by noon to whoever scripts the most small gifts
first; a random ratio with a cap per donor per day makes splitting and timing gifts pay less, and
each draw comes from an HMAC of the donation's id under the pot's secret, so an auditor holding
the secret recomputes every ratio. `quadratic` adds nothing per donation: at the campaign's end
the pot goes to projects by how many people backed them more than by how much money (quadratic
funding): a hundred ¥10 donors outweigh one ¥1,000 donor.

The service asks `desired_match_fen` what the rule would add; `granted_fen` cuts that to what is
left of the pot, of the day's budget and of each cap; what is short is not matched, never owed.

Plain quadratic funding pays whoever splits one wallet into many accounts, and colluding donors
can steer it. Buterin's pairwise bound shrinks the subsidy of each pair of donors by how much that
pair gives together across all projects of the round, so a ring of sock-puppets backing the same
projects earns less than as many strangers do.

`screen` names the signals (tiny gifts from new accounts, bursts from one device or address,
staff giving to their own charity, charities trading donations, refunds after a match) that
freeze a match for review instead of crediting it; audits of past giving days clawed back
matches from exactly such accounts. No database and no I/O here: the service supplies the facts.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from itertools import combinations

MAX_RATIO_PCT = 1000


class RatioRule(enum.StrEnum):
    fixed = "fixed"  # match = donation × ratio_min_pct / 100
    random = "random"  # ratio drawn uniformly in [ratio_min_pct, ratio_max_pct] per donation
    quadratic = "quadratic"  # no per-donation match: the pot is shared at the campaign's end


@dataclass(frozen=True)
class PotTerms:
    rule: RatioRule
    ratio_min_pct: int  # 100 = 1:1 ; 0 < min <= max <= 1000
    ratio_max_pct: int
    min_donation_fen: int  # donations below this get no match (tiny-donation farming)
    max_match_fen: int | None  # at most this per single match (None: no limit)

    def __post_init__(self) -> None:
        # Checked here so that a mistyped pot fails when it is configured, not mid-campaign.
        if not 0 < self.ratio_min_pct <= self.ratio_max_pct <= MAX_RATIO_PCT:
            raise ValueError(
                f"ratios must satisfy 0 < min <= max <= {MAX_RATIO_PCT}: "
                f"{self.ratio_min_pct}, {self.ratio_max_pct}"
            )
        if self.min_donation_fen < 0:
            raise ValueError(f"min_donation_fen must not be negative: {self.min_donation_fen}")
        if self.max_match_fen is not None and self.max_match_fen < 0:
            raise ValueError(f"max_match_fen must not be negative: {self.max_match_fen}")


# --- Per-donation matching -------------------------------------------------------------------


def match_draw(secret: bytes, donation_id: int) -> float:
    """A reproducible draw in [0, 1) for the random ratio: HMAC-SHA256(secret, str(donation_id)),
    first 8 bytes as a big-endian int / 2**64. An auditor holding the pot's secret can recompute
    each ratio.

    The quotient is rounded down to a double (the top 53 of the 64 bits) rather than to nearest:
    to nearest, the largest ints would round up to exactly 1.0."""
    digest = hmac.new(secret, str(donation_id).encode("ascii"), hashlib.sha256).digest()
    top = int.from_bytes(digest[:8], "big")
    return (top >> 11) / 2**53


def ratio_pct(terms: PotTerms, draw: float) -> int:
    """fixed: ratio_min_pct; random: ratio_min_pct + floor(draw × (max - min + 1)) clamped to
    max, so every whole percent in [min, max] is equally likely. Raise ValueError for
    quadratic (it has no per-donation ratio) and for a draw outside [0, 1]."""
    if terms.rule is RatioRule.quadratic:
        raise ValueError("a quadratic pot has no per-donation ratio")
    if terms.rule is RatioRule.fixed:
        return terms.ratio_min_pct
    if not 0.0 <= draw <= 1.0:  # also refuses NaN
        raise ValueError(f"draw must lie in [0, 1]: {draw}")
    span = terms.ratio_max_pct - terms.ratio_min_pct + 1
    return min(terms.ratio_min_pct + math.floor(draw * span), terms.ratio_max_pct)


def desired_match_fen(terms: PotTerms, donation_fen: int, draw: float) -> int:
    """What the rule would add before any cap or the pot: 0 under min_donation_fen; else
    donation × ratio // 100 (floor, integer fen), then limited by max_match_fen. Never
    negative. Raise ValueError for a quadratic pot."""
    ratio = ratio_pct(terms, draw)
    if donation_fen <= 0 or donation_fen < terms.min_donation_fen:
        return 0
    match = donation_fen * ratio // 100
    if terms.max_match_fen is not None:
        match = min(match, terms.max_match_fen)
    return match


def granted_fen(desired: int, headrooms: Sequence[int]) -> int:
    """Pro-rating when the pot or a cap runs short: min(desired, *headrooms), never below 0.
    headrooms are what is left of the pot, of the pot's budget for the day, of the donor's cap
    for the day, of the project's cap, of the organisation's cap (each already computed by the
    caller; leave out the caps that do not exist)."""
    return max(0, min([desired, *headrooms]))  # a list: no headrooms must still work


def headroom(cap_fen: int | None, used_fen: int) -> int | None:
    """cap - used, never below 0; None when there is no cap (then it is not passed to
    granted_fen)."""
    if cap_fen is None:
        return None
    return max(0, cap_fen - used_fen)


# --- Quadratic funding -----------------------------------------------------------------------


def quadratic_shares(
    contributions: Mapping[int, Mapping[int, int]],
    pot_fen: int,
    *,
    coordination_bound_fen: int | None = None,
) -> dict[int, int]:
    """Share a quadratic pot among projects: project id -> fen, for every project given.

    contributions: project id -> donor id -> fen given to that project in the round (zero and
    negative entries ignored). With c_ip what donor i gave to project p and M the bound:

        raw_p = 2 × Σ over unordered pairs {i, j} of donors of p of
                    sqrt(c_ip × c_jp) × M / (M + k_ij),
        k_ij  = Σ over all projects q of sqrt(c_iq × c_jq)  (how much i and j give together).

    The factor 2 counts each pair once per order, as in Buterin's "Pairwise coordination
    subsidies" (2019): without a bound (coordination_bound_fen None, factor M/(M+k) = 1) raw_p is
    then exactly plain quadratic funding's subsidy (Σ_i sqrt c_ip)² − Σ_i c_ip. A project with
    fewer than two donors has no pair and gets 0: one donor's own money earns no subsidy.

    If Σ raw_p exceeds pot_fen the shares are scaled to add up to pot_fen; otherwise each
    project gets raw_p. Whole fen by the largest-remainder method (ties to the lower project
    id), computed exactly on the float raw_p values, so the shares add up to exactly
    min(pot_fen, floor(Σ raw_p)) and none is negative. Every sum is a math.fsum, which does not
    depend on the order of the mappings: the same round always gives the same shares.

    Cost, with d_p the distinct amounts given to project p and P_i the projects of donor i:
    O(Σ_p d_p²) for the pairs (donors who gave the same amount to p are counted together; the
    plain form is O(Σ_p d_p)), plus O(Σ_i |P_i|²) to find the pairs that give together to two
    or more projects (the only pairs whose k_ij is not just their own term), plus the size of
    those pairs' shared projects. 10,000 donors giving to one to three of 100 projects take
    well under a second.
    """
    if pot_fen < 0:
        raise ValueError(f"pot_fen must not be negative: {pot_fen}")
    if coordination_bound_fen is not None and coordination_bound_fen <= 0:
        raise ValueError(f"coordination_bound_fen must be positive: {coordination_bound_fen}")

    given: dict[int, dict[int, int]] = {
        project: {donor: fen for donor, fen in donors.items() if fen > 0}
        for project, donors in contributions.items()
    }
    if coordination_bound_fen is None:
        raw = {project: 2 * _plain_pair_sum(donors) for project, donors in given.items()}
    else:
        raw = _bounded_raw(given, float(coordination_bound_fen))
    return _largest_remainder(raw, pot_fen)


def _plain_pair_sum(donors: Mapping[int, int]) -> float:
    """Σ over unordered pairs of sqrt(c_i c_j), as Σ_j sqrt c_j × Σ_{i<j} sqrt c_i: linear, and
    every term positive (the square-of-sum form cancels, and leaves a lone donor a crumb)."""
    roots = sorted(math.sqrt(fen) for fen in donors.values())
    terms = []
    before = 0.0
    for root in roots:
        terms.append(root * before)
        before += root
    return math.fsum(terms)


def _bounded_raw(given: Mapping[int, Mapping[int, int]], bound: float) -> dict[int, float]:
    def damped(together: float, coordination: float) -> float:
        return together * bound / (bound + coordination)

    # Every pair first as if it gave together to this project only (k_ij = its own term), with
    # donors of equal amounts counted together: a giving day is mostly ¥10, ¥50, ¥100. The
    # inner loop is written out (not a call to damped) because it is the whole cost; it must
    # compute damped(t, t) to the same bits, which the corrections below take away again.
    terms: dict[int, list[float]] = {}
    for project, donors in given.items():
        groups = sorted((math.sqrt(fen), count) for fen, count in Counter(donors.values()).items())
        project_terms = []
        for a, (root_a, count_a) in enumerate(groups):
            if count_a > 1:
                same = root_a * root_a
                project_terms.append(count_a * (count_a - 1) // 2 * damped(same, same))
            project_terms.extend(
                [
                    count_a * count_b * ((t := root_a * root_b) * bound / (bound + t))
                    for root_b, count_b in groups[a + 1 :]
                ]
            )
        terms[project] = project_terms

    # Then correct the pairs that also give together elsewhere. Two donors share two projects
    # exactly when both file under the same pair of projects; few donors back many projects,
    # so these lists stay short.
    projects_of: dict[int, list[int]] = defaultdict(list)
    for project, donors in given.items():
        for donor in donors:
            projects_of[donor].append(project)
    under_project_pair: dict[tuple[int, int], list[int]] = defaultdict(list)
    for donor, projects in projects_of.items():
        for project_pair in combinations(sorted(projects), 2):
            under_project_pair[project_pair].append(donor)
    coordinating: set[tuple[int, int]] = set()
    for donors_of_pair in under_project_pair.values():
        coordinating.update(combinations(sorted(donors_of_pair), 2))

    for i, j in coordinating:
        shared = set(projects_of[i]).intersection(projects_of[j])
        per_project = {q: math.sqrt(given[q][i]) * math.sqrt(given[q][j]) for q in shared}
        coordination = math.fsum(per_project.values())
        for q, t in per_project.items():
            terms[q].append(damped(t, coordination) - damped(t, t))

    # The corrections only ever lower a sum of positive terms; rounding may not take it below 0.
    return {project: max(0.0, 2 * math.fsum(ts)) for project, ts in terms.items()}


def _largest_remainder(raw: Mapping[int, float], pot_fen: int) -> dict[int, int]:
    exact = {project: Fraction(value) for project, value in raw.items()}
    total = sum(exact.values(), Fraction(0))
    if total > pot_fen:
        quotas = {project: value * pot_fen / total for project, value in exact.items()}
        target = pot_fen
    else:
        quotas = exact
        target = math.floor(total)
    shares = {project: math.floor(quota) for project, quota in quotas.items()}
    # Σ floor(quota) <= target < Σ floor(quota) + len(quotas): one extra fen each for the first.
    left = target - sum(shares.values())
    by_remainder = sorted(
        quotas, key=lambda project: (-(quotas[project] - shares[project]), project)
    )
    for project in by_remainder[:left]:
        shares[project] += 1
    return dict(sorted(shares.items()))


# --- Screening -------------------------------------------------------------------------------


class Signal(enum.StrEnum):
    tiny_from_new_account = "tiny_from_new_account"
    burst_from_one_device = "burst_from_one_device"
    burst_from_one_address = "burst_from_one_address"
    donor_is_charity_staff = "donor_is_charity_staff"
    reciprocal_between_charities = "reciprocal_between_charities"
    refund_after_match = "refund_after_match"


@dataclass(frozen=True)
class ScreeningFacts:
    donation_fen: int
    account_age: timedelta  # since the donor registered
    # Donations from the same device fingerprint in the last burst window (excluding this one).
    same_device_recent: int
    same_address_recent: int  # ... from the same network address
    # The donor is a member of the organisation that runs the project's charity.
    donor_is_charity_staff: bool
    # A member of the project's charity gave (with a match) to a project of a charity the donor
    # belongs to, in this campaign.
    reciprocal: bool
    refunds_after_match: int  # how many of this donor's matched donations were refunded before


@dataclass(frozen=True)
class ScreeningPolicy:
    tiny_fen: int = 100  # ¥1: a donation of at most this much is tiny
    new_account: timedelta = timedelta(days=7)  # an account younger than this is new
    # More than this many donations from one device/address in the window, this one included.
    burst_limit: int = 5
    max_refunds_after_match: int = 0  # more refunded matched donations than this fires


DEFAULT_POLICY = ScreeningPolicy()


def screen(facts: ScreeningFacts, policy: ScreeningPolicy = DEFAULT_POLICY) -> tuple[Signal, ...]:
    """The signals that freeze a match pending review (empty tuple: credit it now), ordered as
    the Signal enum.

    Boundaries: tiny means donation_fen <= tiny_fen (a ¥1 gift is the farmed amount) from an
    account younger than new_account; a burst is the (burst_limit + 1)-th donation in the
    window, i.e. same_*_recent >= burst_limit since the counts leave this one out; refunds fire
    above max_refunds_after_match."""
    fired = {
        Signal.tiny_from_new_account: (
            facts.donation_fen <= policy.tiny_fen and facts.account_age < policy.new_account
        ),
        Signal.burst_from_one_device: facts.same_device_recent + 1 > policy.burst_limit,
        Signal.burst_from_one_address: facts.same_address_recent + 1 > policy.burst_limit,
        Signal.donor_is_charity_staff: facts.donor_is_charity_staff,
        Signal.reciprocal_between_charities: facts.reciprocal,
        Signal.refund_after_match: facts.refunds_after_match > policy.max_refunds_after_match,
    }
    return tuple(signal for signal in Signal if fired[signal])
