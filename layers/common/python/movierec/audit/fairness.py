"""Fairness audit statistics: quality per user group, and exposure across movies (pure).

**Users.** Are some groups served worse? Offline HR@K and NDCG@K per group (gender, age band,
occupation) from the evaluation harness's per-case ranks (:class:`movierec.evaluation.offline.Results`,
the same ranks and metric functions as ``movierec eval offline``), and online conversion per group
(:func:`movierec.evaluation.online.evaluate_online` run per user, so the definition of conversion is the
online evaluation's). Each figure has a 95% bootstrap interval that resamples USERS
(:func:`movierec.evaluation.metrics.bootstrap_ci`; a group without a single hit gets the rule of three,
``3 / cases``, as its upper bound, since resampling zeros proves nothing); the gap is best minus worst group among groups with
at least ``min_users`` users, and it is only meaningful when those two intervals do not overlap.

**Movies.** Who gets shown? Over every recommended slot: the share going to the top 1% / 10% most popular
movies (training popularity), the Gini coefficient of exposure over the whole catalog (0 = every movie
shown equally, 1 = one movie gets everything), coverage, and how often cold movies (fewer than
``cold_below`` training users: new to the catalog) are ever shown.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from movierec.evaluation import metrics
from movierec.evaluation.online import Request, Watch, evaluate_online
from movierec.models.audit import UserProfile

ATTRIBUTES = ("gender", "age", "occupation")
#: Age bands (lower bound inclusive), as the MovieLens 1M demographics use them.
AGE_BANDS = ((0, "<18"), (18, "18-24"), (25, "25-34"), (35, "35-44"), (45, "45-54"), (55, "55+"))


def age_band(age: int | None) -> str:
    if age is None:
        return "unknown"
    return [name for low, name in AGE_BANDS if age >= low][-1]


def group_of(profile: UserProfile | None, attribute: str) -> str:
    """The user's group for ``attribute``; ``no profile`` for users the user API does not know."""
    if profile is None:
        return "no profile"
    if attribute == "age":
        return age_band(profile.age)
    value = getattr(profile, attribute)
    return value if value else "unknown"


@dataclass(frozen=True)
class GroupFigure:
    attribute: str
    group: str
    users: int
    cases: int
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Gap:
    attribute: str
    best: GroupFigure
    worst: GroupFigure

    @property
    def size(self) -> float:
        return self.best.value - self.worst.value

    @property
    def separated(self) -> bool:
        """The two intervals do not overlap (the gap is more than noise at this sample size)."""
        return self.worst.high < self.best.low


def per_group(
    values: Sequence[float], users: Sequence[int], profiles: Mapping[int, UserProfile], attribute: str, seed: int = 0
) -> list[GroupFigure]:
    """Mean of per-case ``values`` per group of the cases' users, with a users-resampled 95% interval."""
    by_group: dict[str, tuple[list[float], list[int]]] = defaultdict(lambda: ([], []))
    for v, u in zip(values, users):
        vs, us = by_group[group_of(profiles.get(u), attribute)]
        vs.append(v)
        us.append(u)
    out = []
    for group, (vs, us) in sorted(by_group.items()):
        low, high = metrics.bootstrap_ci(vs, us, seed=seed)
        if all(v == 0 for v in vs):  # resampling zeros gives [0, 0]; the rule of three bounds the truth at 95%
            high = min(1.0, 3.0 / len(vs))
        out.append(GroupFigure(attribute, group, len(set(us)), len(vs), float(np.mean(vs)), low, high))
    return out


def gap(figures: Iterable[GroupFigure], min_users: int = 20) -> Gap | None:
    """Best and worst group with at least ``min_users`` users (profile-less users are no group)."""
    usable = [f for f in figures if f.users >= min_users and f.group not in ("no profile", "unknown")]
    if len(usable) < 2:
        return None
    return Gap(usable[0].attribute, max(usable, key=lambda f: f.value), min(usable, key=lambda f: f.value))


def offline_by_group(
    ranks: Sequence[metrics.Rank], users: Sequence[int], profiles: Mapping[int, UserProfile], k: int = 20
) -> dict[str, dict[str, list[GroupFigure]]]:
    """metric ("hit_rate", "ndcg") -> attribute -> figures per group, from per-case target ranks."""
    per_metric = {"hit_rate": metrics.hits(ranks, k), "ndcg": metrics.gains(ranks, k)}
    return {m: {a: per_group(v, users, profiles, a) for a in ATTRIBUTES} for m, v in per_metric.items()}


def online_by_group(
    requests: Sequence[Request], watches: Sequence[Watch], profiles: Mapping[int, UserProfile], window_h: float
) -> dict[str, list[GroupFigure]]:
    """attribute -> conversion per group: each user's answered requests, converted or not, by the online
    evaluation's own join (run per user)."""
    reqs: dict[int, list[Request]] = defaultdict(list)
    for r in requests:
        reqs[r.user_id].append(r)
    seen: dict[int, list[Watch]] = defaultdict(list)
    for w in watches:
        if w.user_id in reqs:
            seen[w.user_id].append(w)
    values: list[float] = []
    users: list[int] = []
    for user, rs in reqs.items():
        g = evaluate_online(rs, seen[user], window_h=window_h).overall
        values += [1.0] * g.converted + [0.0] * (g.answered - g.converted)
        users += [user] * g.answered
    return {a: per_group(values, users, profiles, a) for a in ATTRIBUTES}


# ---- exposure across movies ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Exposure:
    slots: int
    catalog: int
    coverage: float
    gini: float
    top1_share: float
    top10_share: float
    cold_movies: int
    cold_shown: int  #: cold movies shown at least once
    cold_slot_share: float
    #: exposure counts of every catalog movie, sorted ascending (the Lorenz curve's input)
    sorted_counts: tuple[int, ...]


def gini(counts: Sequence[float]) -> float:
    """Gini coefficient of non-negative counts (0 = equal, -> 1 = all on one)."""
    x = np.sort(np.asarray(counts, dtype=float))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * total))


def exposure(
    recommended: Iterable[Sequence[str]], popularity: Mapping[str, int], catalog: Sequence[str], k: int = 20,
    cold_below: int = 3,
) -> Exposure:
    """Exposure of the catalog's movies over every top-``k`` list; popularity = training users per movie."""
    shown: Counter[str] = Counter(m for recs in recommended for m in recs[:k])
    movies = list(dict.fromkeys([*catalog, *shown]))
    slots = sum(shown.values())
    by_pop = sorted(movies, key=lambda m: (-popularity.get(m, 0), m))

    def top_share(fraction: float) -> float:
        top = by_pop[: max(1, round(fraction * len(by_pop)))]
        return sum(shown[m] for m in top) / slots if slots else 0.0

    cold = [m for m in movies if popularity.get(m, 0) < cold_below]
    return Exposure(
        slots, len(movies), sum(1 for m in movies if shown[m]) / len(movies) if movies else 0.0,
        gini([shown[m] for m in movies]), top_share(0.01), top_share(0.10), len(cold),
        sum(1 for m in cold if shown[m]), sum(shown[m] for m in cold) / slots if slots else 0.0,
        tuple(sorted(shown[m] for m in movies)),
    )  # fmt: skip
