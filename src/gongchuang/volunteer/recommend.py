"""活动推荐: "activities for you".

A logistic model over seven signals for a (volunteer, activity) pair: how near the activity is,
whether its category is one of the volunteer's interests, how well the skills it wants match
theirs, how often they joined this category before, what volunteers who joined the same
activities as them joined too (item-to-item co-occurrence), how popular it is, and whether its
shifts fall when they said they are free. Weights are fitted by `fit` on sign-up history
(`bench/volunteer_recommend.py` fits and evaluates them on held-out sign-ups); the defaults
below are what that fit gave on the demo generator.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from gongchuang.core import geo
from gongchuang.core.clock import SHANGHAI, utcnow
from gongchuang.volunteer.models import (
    ACTIVE_SIGNUP,
    Activity,
    Shift,
    Signup,
    SignupStatus,
    Volunteer,
)
from gongchuang.volunteer.service import home_point

FEATURES = ("near", "interest", "skills", "history", "similar", "popular", "available")
DEFAULT_WEIGHTS = np.array([3.42, 1.29, 0.21, 0.13, 2.60, 0.71, -0.07])
DEFAULT_BIAS = -1.93
DISTANCE_SCALE_KM = 5.0


@dataclass
class VolunteerFacts:
    person_id: int
    lat: float | None
    lng: float | None
    interests: set[str]
    skills: set[str]
    availability: set[str]
    history: list[int] = field(default_factory=list)  # activity ids joined before


@dataclass
class ActivityFacts:
    id: int
    category: str
    lat: float
    lng: float
    skills_wanted: set[str]
    bands: set[str]  # availability bands its shifts fall in


def band_of(moment: datetime) -> str:
    local = moment.astimezone(SHANGHAI)
    if local.weekday() >= 5:
        return "weekend"
    return "weekday_evening" if local.hour >= 17 else "weekday_day"


class CoOccurrence:
    """Which activities the same volunteers joined: cosine similarity between activities."""

    def __init__(self, histories: Iterable[list[int]]) -> None:
        self.count: Counter[int] = Counter()
        self.pairs: dict[int, Counter[int]] = defaultdict(Counter)
        for history in histories:
            joined = set(history)
            self.count.update(joined)
            for a in joined:
                for b in joined:
                    if a != b:
                        self.pairs[a][b] += 1

    def similarity(self, history: list[int], candidate: int) -> float:
        if not history or candidate not in self.count:
            return 0.0
        total = 0.0
        for joined in set(history):
            both = self.pairs[joined].get(candidate, 0)
            if both:
                total += both / math.sqrt(self.count[joined] * self.count[candidate])
        return total / len(set(history))

    def popularity(self, candidate: int) -> float:
        top = max(self.count.values(), default=0)
        return math.log1p(self.count.get(candidate, 0)) / math.log1p(top) if top else 0.0


def features(
    volunteer: VolunteerFacts,
    activities: list[ActivityFacts],
    categories_of: dict[int, str],
    co: CoOccurrence,
) -> np.ndarray:
    past = Counter(categories_of.get(a, "") for a in volunteer.history)
    joined = max(1, len(volunteer.history))
    rows = []
    for activity in activities:
        if volunteer.lat is None or volunteer.lng is None:
            near = 0.3  # unknown: neither near nor far
        else:
            km = (
                geo.haversine_m(
                    geo.Point(volunteer.lat, volunteer.lng), geo.Point(activity.lat, activity.lng)
                )
                / 1000
            )
            near = math.exp(-km / DISTANCE_SCALE_KM)
        wanted = activity.skills_wanted
        skills = len(wanted & volunteer.skills) / len(wanted | volunteer.skills) if wanted else 0.0
        rows.append(
            [
                near,
                1.0 if activity.category in volunteer.interests else 0.0,
                skills,
                past.get(activity.category, 0) / joined,
                co.similarity(volunteer.history, activity.id),
                co.popularity(activity.id),
                1.0 if activity.bands & volunteer.availability else 0.0,
            ]
        )
    return np.array(rows, dtype=float).reshape(-1, len(FEATURES))


def score(
    matrix: np.ndarray, weights: np.ndarray = DEFAULT_WEIGHTS, bias: float = DEFAULT_BIAS
) -> np.ndarray:
    return 1 / (1 + np.exp(-(matrix @ weights + bias)))


def fit(
    matrix: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int = 400,
    rate: float = 0.5,
    l2: float = 1e-3,
) -> tuple[np.ndarray, float]:
    """Logistic regression by gradient descent, positives weighted up to balance the classes."""
    weights = np.zeros(matrix.shape[1])
    bias = 0.0
    positives = max(1.0, float(labels.sum()))
    sample_weight = np.where(labels == 1, (len(labels) - positives) / positives, 1.0)
    sample_weight /= sample_weight.mean()
    for _ in range(epochs):
        predicted = 1 / (1 + np.exp(-(matrix @ weights + bias)))
        error = (predicted - labels) * sample_weight
        weights -= rate * (matrix.T @ error / len(labels) + l2 * weights)
        bias -= rate * float(error.mean())
    return weights, bias


def rank(
    volunteer: VolunteerFacts,
    activities: list[ActivityFacts],
    categories_of: dict[int, str],
    co: CoOccurrence,
    *,
    weights: np.ndarray = DEFAULT_WEIGHTS,
    bias: float = DEFAULT_BIAS,
) -> list[tuple[ActivityFacts, float]]:
    if not activities:
        return []
    scores = score(features(volunteer, activities, categories_of, co), weights, bias)
    order = np.argsort(-scores, kind="stable")
    return [(activities[i], float(scores[i])) for i in order]


# --- from the database ------------------------------------------------------------------------


def _volunteer_facts(session: Session, volunteer: Volunteer) -> VolunteerFacts:
    history = list(
        session.scalars(
            select(Shift.activity_id)
            .join(Signup, Signup.shift_id == Shift.id)
            .where(Signup.person_id == volunteer.person_id, Signup.status.in_(ACTIVE_SIGNUP))
        )
    )
    home = home_point(session, volunteer)
    return VolunteerFacts(
        person_id=volunteer.person_id,
        lat=home.lat if home else None,
        lng=home.lng if home else None,
        interests=set(volunteer.interests or []),
        skills=set(volunteer.skills or []),
        availability=set(volunteer.availability or []),
        history=history,
    )


def for_volunteer(
    session: Session, volunteer: Volunteer, limit: int = 10
) -> list[tuple[Activity, float]]:
    """Open activities with a shift still to come that the volunteer has not joined, best
    first."""
    now = utcnow()
    facts = _volunteer_facts(session, volunteer)
    rows = session.execute(
        select(Activity, Shift.starts_at)
        .options(joinedload(Activity.organisation))
        .join(Shift, Shift.activity_id == Activity.id)
        .where(
            Activity.status == "open",
            Activity.call_id.is_(None),
            Shift.starts_at > now,
            Shift.cancelled.is_(False),
        )
    ).all()
    by_id: dict[int, Activity] = {}
    bands: dict[int, set[str]] = defaultdict(set)
    for activity, starts in rows:
        by_id[activity.id] = activity
        bands[activity.id].add(band_of(starts))
    joined = set(facts.history)
    candidates = [
        ActivityFacts(a.id, a.category, a.lat, a.lng, set(a.skills_wanted or []), bands[a.id])
        for a in by_id.values()
        if a.id not in joined
    ]
    if not candidates:
        return []
    # Co-occurrence over the volunteers who share an activity with this one, plus the
    # candidates' own sign-up counts for popularity.
    neighbours = (
        select(Signup.person_id)
        .join(Shift, Shift.id == Signup.shift_id)
        .where(Shift.activity_id.in_(joined or {0}), Signup.status.in_(ACTIVE_SIGNUP))
    )
    pairs = session.execute(
        select(Signup.person_id, Shift.activity_id)
        .join(Shift, Shift.id == Signup.shift_id)
        .where(
            Signup.status.in_(ACTIVE_SIGNUP),
            Signup.status != SignupStatus.waitlisted,
            (Signup.person_id.in_(neighbours)) | (Shift.activity_id.in_(list(by_id))),
        )
        .limit(200_000)
    ).all()
    histories: dict[int, list[int]] = defaultdict(list)
    for person_id, activity_id in pairs:
        if person_id != volunteer.person_id:
            histories[person_id].append(activity_id)
    co = CoOccurrence([*histories.values(), facts.history])
    categories = dict(
        session.execute(
            select(Activity.id, Activity.category).where(Activity.id.in_(joined | set(by_id)))
        ).all()
    )
    ranked = rank(facts, candidates, categories, co)
    return [(by_id[a.id], s) for a, s in ranked[:limit]]
