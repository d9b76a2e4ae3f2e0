"""Offline evaluation of "activities for you" on the demo generator's sign-ups.

The generator (`gongchuang.volunteer.demo.synthetic` + `simulate`) draws volunteers to
activities by distance, interests, skills and their circle of friends. The first 80% of the year
trains the model (its weights are fitted here by `recommend.fit`); each volunteer's sign-ups in
the last 20% are held out. For every volunteer with held-out sign-ups we rank the activities of
that period and report precision@10 and recall@10 against two baselines run on the same split:
"nearest first" and "most popular".

    python bench/volunteer_recommend.py [--volunteers 1500] [--activities 400] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gongchuang.volunteer import recommend  # noqa: E402
from gongchuang.volunteer.demo import SimActivity, SimVolunteer, simulate, synthetic  # noqa: E402

K = 10


def facts(person: SimVolunteer, history: list[int]) -> recommend.VolunteerFacts:
    return recommend.VolunteerFacts(
        person_id=person.index,
        lat=person.lat,
        lng=person.lng,
        interests=set(person.interests),
        skills=set(person.skills),
        availability=set(person.availability),
        history=history,
    )


def activity_facts(event: SimActivity) -> recommend.ActivityFacts:
    band = "weekend" if event.day % 7 in (5, 6) else "weekday_day"
    return recommend.ActivityFacts(
        event.index, event.category, event.lat, event.lng, set(event.skills_wanted), {band}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--volunteers", type=int, default=1500)
    parser.add_argument("--activities", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    people, events = synthetic(rng, args.volunteers, args.activities, circles=30)
    signups = simulate(rng, people, events)
    cutoff = int(0.8 * len(events))  # events are in time order
    train: dict[int, list[int]] = defaultdict(list)
    test: dict[int, set[int]] = defaultdict(set)
    for person_index, event_index in signups:
        (train[person_index].append if event_index < cutoff else test[person_index].add)(
            event_index
        )
    categories = {e.index: e.category for e in events}
    all_facts = [activity_facts(e) for e in events]
    candidates = all_facts[cutoff:]

    # What the live system sees when it recommends: everyone's sign-ups so far, except the
    # held-out ones of the volunteer being served.
    everyone = {p: train.get(p, []) + sorted(test.get(p, set())) for p in set(train) | set(test)}
    co_all = recommend.CoOccurrence(everyone.values())

    def feature_rows(person_index: int, rows: list[recommend.ActivityFacts]) -> np.ndarray:
        """Features as the live system computes them, with this volunteer's held-out sign-ups
        taken out of the co-occurrence and popularity counts."""
        held = test.get(person_index, set())
        joined = set(everyone.get(person_index, []))
        history = set(train[person_index])
        matrix = recommend.features(
            facts(people[person_index], train[person_index]),
            rows,
            categories,
            recommend.CoOccurrence([]),
        )

        def count(activity: int) -> int:
            return co_all.count.get(activity, 0) - (activity in held)

        top = max(co_all.count.values(), default=1)
        for i, row in enumerate(rows):
            total = 0.0
            for mine in history:
                both = co_all.pairs[mine].get(row.id, 0) - (mine in joined and row.id in held)
                if both > 0 and count(mine) > 0 and count(row.id) > 0:
                    total += both / (count(mine) * count(row.id)) ** 0.5
            matrix[i, 4] = total / len(history) if history else 0.0
            matrix[i, 5] = np.log1p(max(0, count(row.id))) / np.log1p(top)
        return matrix

    # Fit on the training period: each training sign-up (the rest of that volunteer's history
    # as what the model knew) against 8 activities of the period they did not join.
    train_rng = random.Random(args.seed + 1)
    blocks, labels = [], []
    for person_index, history in list(train.items()):
        if len(history) < 2:
            continue
        for target in history:
            negatives = [n for n in train_rng.sample(range(cutoff), 8) if n not in history]
            rows = [all_facts[target]] + [all_facts[n] for n in negatives]
            train[person_index] = [h for h in history if h != target]
            blocks.append(feature_rows(person_index, rows))
            labels += [1] + [0] * len(negatives)
        train[person_index] = history
    weights, bias = recommend.fit(np.vstack(blocks), np.array(labels, dtype=float))

    evaluated = [p for p, held in test.items() if held and train.get(p)]
    results = {
        "model (fitted)": [],
        "model (default weights)": [],
        "nearest first": [],
        "most popular": [],
    }
    for person_index in evaluated:
        held = test[person_index]
        matrix = feature_rows(person_index, candidates)
        rankings = {
            "model (fitted)": np.argsort(-recommend.score(matrix, weights, bias), kind="stable"),
            "model (default weights)": np.argsort(-recommend.score(matrix), kind="stable"),
            "nearest first": np.argsort(-matrix[:, 0], kind="stable"),
            "most popular": np.argsort(-matrix[:, 5], kind="stable"),
        }
        for name, order in rankings.items():
            top = {candidates[i].id for i in order[:K]}
            hits = len(top & held)
            results[name].append((hits / K, hits / len(held)))

    print(
        f"{len(people):,} volunteers, {len(events):,} activities, {len(signups):,} sign-ups; "
        f"{len(evaluated):,} volunteers with held-out sign-ups among {len(candidates)} activities"
    )
    print(f"{'':26s} precision@{K}  recall@{K}")
    figures = {}
    for name, pairs in results.items():
        precision = float(np.mean([p for p, _ in pairs]))
        recall = float(np.mean([r for _, r in pairs]))
        figures[name] = (precision, recall)
        print(f"  {name:24s} {precision:10.3f}  {recall:9.3f}")
    best_baseline = max(figures["nearest first"][0], figures["most popular"][0])
    print(
        f"  ratio fitted model / best baseline (precision): "
        f"{figures['model (fitted)'][0] / best_baseline:.2f}x"
    )
    print(
        "  fitted weights: "
        + ", ".join(f"{n} {w:.2f}" for n, w in zip(recommend.FEATURES, weights, strict=True))
        + f", bias {bias:.2f}"
    )


if __name__ == "__main__":
    main()
