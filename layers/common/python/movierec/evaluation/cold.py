"""Cold users (issue 14, item 5): what to show a user with 0-2 movies, measured against the global popular list.

A cold user here has 0-2 movies (the issue's definition; the evaluation protocols ask users with 3 or more).
Serving answers a user none of whose movies the index knows with the global popular list (and pads a
short answer with it); a user with a known movie gets the main ranker. This module measures, on the
global-time protocol of :mod:`~.split` (one cut ``T``: everything before it is known, the future is
asked), whether a list the data supports beats that global list for cold users:

- ``popular`` — the baseline, as the code builds it (:meth:`PopularRanker.from_training`: training users
  per movie);
- ``trending`` — the same count over the last ``days`` days only (:func:`trending`): the stream's taste
  moves (new releases), and a cold user's first movie is more likely what everybody watches now;
- ``watched`` — the same count over watches only, a rating alone not counted (:func:`watched`): in a live
  stream a newcomer's first events are watches, and what people watch need not be what they rate;
- ``openers`` — the same count over each user's ``first`` earliest movies only (:func:`openers`): a cold
  case asks one of a user's first movies, and what people start with need not be what long histories
  hold (``first`` from 1 to ``MAX_PRIOR`` + 1 on validation);
- ``demo-<grouping>`` — the popular list of the user's demographic group (age band, occupation, gender
  from the course ``/user/`` records, :func:`demographic`); a user without a profile, or in a group of
  fewer than ``min_size`` training users, gets the global list (a small group's counts are noise);
- ``blend`` — trending plus the best demographic list, each scaled to its top count (:func:`blend`);
- whatever the caller adds (``extra``): ``bench/cold_users.py --served`` adds ranker v2 as serving uses
  it for a cold user (:class:`AsServed`: the main ranker when a history movie is in its index, else the
  popular list), so "does the main ranker beat popular for 1-2 known movies" is measured, not assumed.

Every list breaks ties by global popularity, then catalog order, so a sparse group or window is padded
with the global chart instead of arbitrary movies. All builders read training histories only.

**Cold cases** (:func:`cold_split`): a user with 0-2 movies before ``T`` is cold; each of their first
movies at or after ``T`` is a case while their history is still 0-2 movies long (a user with none before
``T`` gives up to 3 cases, one with 2 gives 1). A user with 3 or more movies before ``T`` is not cold.

**Tuning never reads a test target** (:func:`run_cold`): the knobs (``days``, ``first``, ``min_size``) are chosen by
validation NDCG@20 on a second cut ``V`` computed from the log truncated at ``T`` (:func:`before`), so
every validation target is before ``T`` and the test cases are never looked at; the blend is fixed by
those choices. Scoring, CIs and tuning are :mod:`~.scoring`'s: the same code as ``movierec eval offline``.

Usage::

    run = run_cold(load_stream(tie_seed=TIE_SEED), read_profiles())
    run.test.metrics("trending", 20)["hit_rate"]; run.test.paired("trending", "popular", 20)
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

from movierec.evaluation.interactions import InteractionLog
from movierec.evaluation.scoring import K_VALUES, ModelSpec, Results, Trial, choose_params, evaluate
from movierec.evaluation.split import AFTER, Case, History, Split, cut_time
from movierec.models.audit import UserProfile
from movierec.models.ranking import Interaction, Scored
from movierec.ranking.base import Ranker
from movierec.ranking.popular import PopularRanker, popularity_counts
from movierec.ranking.vocabulary import Train

DAY = 86400.0
#: A user with at most this many movies is cold (issue 14; leave-last-out asks users with 3 or more).
MAX_PRIOR = 2
#: Trending windows tried on validation (days before the newest training interaction).
TREND_DAYS = (1.0, 3.0, 7.0, 14.0, 30.0, 90.0, 180.0, 365.0, 730.0)
#: How many of each user's earliest movies the ``openers`` list counts, tried on validation: a cold case asks
#: a user's first to (MAX_PRIOR + 1)th movie.
OPENER_COUNTS = tuple(range(1, MAX_PRIOR + 2))
#: Smallest demographic group (training users) that gets its own list, tried on validation.
MIN_GROUP = (10, 30, 100, 300, 1000)
#: Lower bounds of the age bands after the first (under 18, 18-24, 25-34, 35-44, 45-54, 55+).
AGE_BANDS = (18, 25, 35, 45, 55)


def age_band(age: int | None) -> str | None:
    """``"25-34"`` and the like; None for an unknown age."""
    if age is None:
        return None
    i = bisect_right(AGE_BANDS, age)
    if i == 0:
        return f"<{AGE_BANDS[0]}"
    if i == len(AGE_BANDS):
        return f"{AGE_BANDS[-1]}+"
    return f"{AGE_BANDS[i - 1]}-{AGE_BANDS[i] - 1}"


#: How a profile is grouped, by the name the candidates carry (``demo-age`` ...).
GROUPINGS: dict[str, Callable[[UserProfile], str | None]] = {
    "age": lambda p: age_band(p.age),
    "occupation": lambda p: p.occupation,
    "gender": lambda p: p.gender,
}


def cold_split(log: InteractionLog, cut: float, max_prior: int = MAX_PRIOR) -> Split:
    """Train on everything before ``cut``; a case for each movie at or after it asked while the user's
    history is still at most ``max_prior`` movies long (users with more before ``cut`` are not cold)."""
    train: dict[int, History] = {}
    cases: list[Case] = []
    for user_id, history in log.users.items():
        known = tuple(i for i in history if i.last_seen < cut)  # time-ordered: the prefix before the cut
        train[user_id] = known
        if len(known) <= max_prior:
            cases.extend(Case(user_id, history[:i], history[i].movie_id)
                         for i in range(len(known), min(len(history), max_prior + 1)))  # fmt: skip
    return Split(name=f"cold users (<= {max_prior} movies) at T={cut:.0f}", train=train, cases=tuple(cases),
                 catalog=log.catalog)  # fmt: skip


def before(log: InteractionLog, cut: float) -> InteractionLog:
    """The log as it was known at ``cut``: every interaction at or after it dropped (the catalog kept)."""
    return replace(log, users={u: tuple(i for i in h if i.last_seen < cut) for u, h in log.users.items()})


def ranked_by(catalog: Sequence[str], keys: Sequence[Mapping[str, float]], name: str) -> PopularRanker:
    """The catalog by ``keys[0]`` (higher first), ties by the next key, then catalog order (stable sort)."""
    order = sorted(catalog, key=lambda m: tuple(-key.get(m, 0) for key in keys))
    return PopularRanker([Scored(m, float(keys[0].get(m, 0))) for m in order], name)


def trending_counts(train: Train, days: float) -> dict[str, int]:
    """Training users per movie over the ``days`` before the newest training interaction.

    The window ends at the newest interaction the training data holds (the cut, up to the gap before the
    first event after it), so the list is a function of the training data alone."""
    newest = max((i.last_seen for h in train.values() for i in h), default=0.0)
    start = newest - days * DAY
    return popularity_counts({u: [i for i in h if i.last_seen >= start] for u, h in train.items()})


def trending(train: Train, catalog: Sequence[str], days: float) -> PopularRanker:
    """Recent popularity: by :func:`trending_counts`, ties by all-time popularity."""
    return ranked_by(catalog, [trending_counts(train, days), popularity_counts(train)], "trending")


def watched(train: Train, catalog: Sequence[str]) -> PopularRanker:
    """Training users per movie counting watched movies only (``watch_count`` > 0), ties by all-time
    popularity (so on data without watches, such as MovieLens ratings, it is the popular list)."""
    watches = popularity_counts({u: [i for i in h if i.watch_count > 0] for u, h in train.items()})
    return ranked_by(catalog, [watches, popularity_counts(train)], "watched")


def openers(train: Train, catalog: Sequence[str], first: int) -> PopularRanker:
    """Training users per movie counting each user's ``first`` earliest movies only, ties by all-time
    popularity. Earliest by time; equal times keep the history's order (the source's seeded tie order)."""
    starts = {u: sorted(h, key=lambda i: i.last_seen)[:first] for u, h in train.items()}
    return ranked_by(catalog, [popularity_counts(starts), popularity_counts(train)], "openers")


@dataclass(frozen=True)
class GroupLists:
    """Per case (a :data:`~.scoring.CaseRanker`): the list of the user's group, else ``fallback``."""

    group_of: Mapping[int, str]
    lists: Mapping[str, Ranker]
    fallback: Ranker

    def __call__(self, case: Case) -> Ranker:
        group = self.group_of.get(case.user_id)
        return self.lists[group] if group in self.lists else self.fallback


@dataclass(frozen=True)
class AsServed:
    """Per case (a :data:`~.scoring.CaseRanker`), what serving answers a cold user: ``main`` when one of
    the history's movies is in ``known`` (the main ranker's index, in the log's ids), else ``fallback``
    (the popular list)."""

    main: Ranker
    fallback: Ranker
    known: frozenset[str]

    def __call__(self, case: Case) -> Ranker:
        return self.main if any(i.movie_id in self.known for i in case.history) else self.fallback


def as_served(main: ModelSpec, known: frozenset[str]) -> ModelSpec:
    """``main`` (its grid kept, tuned on the cold validation cut like every candidate) wrapped as served."""

    def build(train: Train, catalog: Sequence[str], **params: Any) -> AsServed:
        return AsServed(main.build(train, catalog, **params), PopularRanker.from_training(train, catalog), known)

    return ModelSpec(build=build, grid=main.grid, quick_grid=main.quick_grid)


def groups_of(profiles: Mapping[int, UserProfile], grouping: str) -> dict[int, str]:
    """user id -> group under ``grouping`` (users whose field is unknown are left out)."""
    key = GROUPINGS[grouping]
    return {u: g for u, p in profiles.items() if (g := key(p)) is not None}


def group_counts(train: Train, group_of: Mapping[int, str], min_size: int) -> dict[str, dict[str, int]]:
    """Per group of at least ``min_size`` users with a training movie: training users per movie."""
    members: dict[str, dict[int, Sequence[Interaction]]] = {}
    for user_id, history in train.items():
        if history and user_id in group_of:
            members.setdefault(group_of[user_id], {})[user_id] = history
    return {g: popularity_counts(h) for g, h in members.items() if len(h) >= min_size}


def demographic(train: Train, catalog: Sequence[str], profiles: Mapping[int, UserProfile], grouping: str,
                min_size: int) -> GroupLists:  # fmt: skip
    """Each group's popular list (ties by global popularity); small groups and unknown users: global."""
    overall = popularity_counts(train)
    group_of = groups_of(profiles, grouping)
    lists = {g: ranked_by(catalog, [c, overall], f"demo-{grouping}") for g, c in group_counts(train, group_of, min_size).items()}
    return GroupLists(group_of, lists, PopularRanker.from_training(train, catalog, f"demo-{grouping}"))


def _scaled(counts: Mapping[str, int]) -> dict[str, float]:
    top = max(counts.values(), default=0) or 1
    return {m: c / top for m, c in counts.items()}


def blend(train: Train, catalog: Sequence[str], profiles: Mapping[int, UserProfile], grouping: str,
          min_size: int, days: float) -> GroupLists:  # fmt: skip
    """Trending + demographic, each count divided by its list's top count and summed (no weight to tune);
    a small group or an unknown user blends trending with the global counts instead."""
    overall = popularity_counts(train)
    recent = _scaled(trending_counts(train, days))

    def mixed(counts: Mapping[str, int]) -> PopularRanker:
        part = _scaled(counts)
        return ranked_by(catalog, [{m: recent.get(m, 0.0) + part.get(m, 0.0) for m in recent.keys() | part.keys()}, overall], "blend")

    group_of = groups_of(profiles, grouping)
    return GroupLists(group_of, {g: mixed(c) for g, c in group_counts(train, group_of, min_size).items()}, mixed(overall))


def cold_specs(profiles: Mapping[int, UserProfile] | None) -> dict[str, ModelSpec]:
    """The candidates and their validation grids; the demographic ones only where there are profiles."""
    specs = {
        "popular": ModelSpec(build=lambda train, catalog: PopularRanker.from_training(train, catalog)),
        "trending": ModelSpec(build=lambda train, catalog, days: trending(train, catalog, days),
                              grid=tuple({"days": d} for d in TREND_DAYS)),
        "watched": ModelSpec(build=watched),
        "openers": ModelSpec(build=openers, grid=tuple({"first": n} for n in OPENER_COUNTS)),
    }
    if profiles:
        for grouping in GROUPINGS:
            specs[f"demo-{grouping}"] = ModelSpec(
                build=lambda train, catalog, min_size, grouping=grouping: demographic(train, catalog, profiles, grouping, min_size),
                grid=tuple({"min_size": n} for n in MIN_GROUP),
            )  # fmt: skip
    return specs


@dataclass
class ColdRun:
    """What :func:`run_cold` measured: the test and validation results of every candidate with its choice."""

    test: Results
    validation: Results
    test_cut: float
    validation_cut: float
    #: Per candidate: the chosen parameters (validation NDCG@20).
    params: dict[str, dict[str, Any]]
    #: Per candidate: every grid point tried on validation and its scores.
    tuning: dict[str, list[Trial]]


def tune(val: Split, specs: Mapping[str, ModelSpec]) -> tuple[dict[str, dict[str, Any]], dict[str, list[Trial]]]:
    """Every candidate's grid point by validation NDCG@20, and the blend's from the winners: trending's
    ``days`` and the best demographic grouping with its ``min_size`` (none without profiles)."""
    chosen: dict[str, dict[str, Any]] = {}
    trail: dict[str, list[Trial]] = {}
    for name, spec in specs.items():
        chosen[name], trail[name] = choose_params(name, spec, val, progress=False)
    demos = [n for n in specs if n.startswith("demo-")]
    if demos:
        best = max(demos, key=lambda n: max(t.score for t in trail[n]))
        chosen["blend"] = {"grouping": best.removeprefix("demo-"), **chosen[best], **chosen["trending"]}
    return chosen, trail


def run_cold(log: InteractionLog, profiles: Mapping[int, UserProfile] | None = None, after: float = AFTER,
             extra: Mapping[str, ModelSpec] | None = None) -> ColdRun:  # fmt: skip
    """Cut ``T`` (``after`` of all interactions at or after it), tune on a cut ``V`` of the log truncated at
    ``T`` (the same share after ``V``), then fit every candidate (and ``extra``'s) on the training data
    before ``T`` and score the cold cases at ``T``, paired with ``popular``. Pure: no file, no print."""
    test_cut = cut_time(log, after)
    known = before(log, test_cut)
    validation_cut = cut_time(known, after)
    val = cold_split(known, validation_cut)
    specs = cold_specs(profiles) | dict(extra or {})
    if profiles:
        specs["blend"] = ModelSpec(build=lambda train, catalog, **p: blend(train, catalog, profiles, **p))
    chosen, trail = tune(val, {n: s for n, s in specs.items() if n != "blend"})

    def fitted(split: Split) -> dict[str, Ranker | GroupLists]:
        return {name: spec.build(split.train, split.catalog, **chosen[name]) for name, spec in specs.items()}

    test = cold_split(log, test_cut)
    return ColdRun(
        test=evaluate(fitted(test), test, K_VALUES, progress=False),
        validation=evaluate(fitted(val), val, K_VALUES, progress=False),
        test_cut=test_cut, validation_cut=validation_cut, params=chosen, tuning=trail,
    )  # fmt: skip
