"""The one scoring core of evaluation and training: rank each test case, collect ranks, tune on validation.

:func:`evaluate` asks each :class:`~movierec.ranking.base.Ranker` for its top ``depth`` over the whole
catalog for every case of a :class:`~movierec.evaluation.split.Split` (the ranker excludes the history; a
returned history movie is counted in ``history_leaks`` and stays in the list, so a contract breach costs
the model, never helps it) — or, for a :data:`CaseRanker`, the ranker it picks for the case (a list per
demographic group, :mod:`~.cold`) — and returns :class:`Results`, from which every metric of
:mod:`movierec.evaluation.metrics` is computed, paired differences included.

:func:`choose_params` picks a :class:`ModelSpec`'s grid point on a validation split (cut from training
data only, :func:`movierec.evaluation.split.validation`), optionally within a time budget. ``movierec eval
offline`` (:mod:`~.offline`), ``movierec train``'s tuner and the gate (:mod:`movierec.training`) all score
through here, so "better" means the same thing in the report, in tuning and in promotion. Nothing here
keeps state between calls.

Usage::

    results = evaluate({"popular": PopularRanker.from_training(split.train, split.catalog)}, split, k_values=(10, 20))
    results.metrics("popular", 20)["hit_rate"]; results.paired("ease", "popular", 20)
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

from tqdm import tqdm

from movierec.evaluation import metrics
from movierec.evaluation.split import Case, Split
from movierec.models.cancel import checkpoint
from movierec.ranking.base import Ranker

#: Cut-offs of the tables; plots go to PLOT_DEPTH.
K_VALUES = (10, 20)
PLOT_DEPTH = 50
#: What hyper-parameters are chosen by, on the validation split.
SELECT_BY = ("ndcg", 20)
SEED = 0


@dataclass
class ModelResult:
    name: str
    #: Per case (in split order): 1-based rank of the target, None when not in the top ``depth``.
    ranks: list[metrics.Rank]
    #: Per case: the recommended movie ids, best first.
    recommended: list[list[str]]
    seconds: float
    history_leaks: int = 0


@dataclass
class Results:
    split: Split
    k_values: tuple[int, ...]
    depth: int
    models: dict[str, ModelResult]
    #: Training popularity percentile of every catalog movie (for "mean popularity percentile").
    percentiles: dict[str, float]
    seed: int = SEED
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Per model: every grid point tried on this protocol's validation split and its scores.
    tuning: dict[str, list["Trial"]] = field(default_factory=dict)

    def metrics(self, name: str, k: int) -> dict[str, float]:
        """Every metric of one model at cut-off ``k``, with 95% bootstrap CIs (users) of hit rate and NDCG."""
        m = self.models[name]
        users = [c.user_id for c in self.split.cases]
        low, high = metrics.bootstrap_ci(metrics.hits(m.ranks, k), users, seed=self.seed)
        n_low, n_high = metrics.bootstrap_ci(metrics.gains(m.ranks, k), users, seed=self.seed)
        return {
            "hit_rate": metrics.hit_rate(m.ranks, k),
            "hit_rate_low": low,
            "hit_rate_high": high,
            "ndcg": metrics.ndcg(m.ranks, k),
            "ndcg_low": n_low,
            "ndcg_high": n_high,
            "mrr": metrics.mrr(m.ranks, k),
            "coverage": metrics.coverage(m.recommended, len(self.split.catalog), k),
            "popularity_pct": metrics.mean_popularity_percentile(m.recommended, self.percentiles, k),
        }

    def subset(self, keep: Callable[[Case], bool], label: str) -> "Results":
        """The same answers on the cases ``keep`` accepts only (e.g. cold users with a movie), every
        metric and interval recomputed over them; ``label`` names the subset in the split's name."""
        idx = [i for i, case in enumerate(self.split.cases) if keep(case)]
        split = replace(self.split, name=f"{self.split.name}, {label}", cases=tuple(self.split.cases[i] for i in idx))
        models = {n: replace(m, ranks=[m.ranks[i] for i in idx], recommended=[m.recommended[i] for i in idx])
                  for n, m in self.models.items()}  # fmt: skip
        return replace(self, split=split, models=models)

    def paired(self, name: str, other: str, k: int) -> dict[str, float]:
        """``name`` minus ``other`` on the same cases: HR@k and NDCG@k differences with 95% bootstrap CIs
        over users (a user's draw carries both models' answers, so the interval is of the difference)."""
        a, b = self.models[name].ranks, self.models[other].ranks
        users = [c.user_id for c in self.split.cases]
        out: dict[str, float] = {}
        for key, per_case in (("hit_rate", metrics.hits), ("ndcg", metrics.gains)):
            diff = [x - y for x, y in zip(per_case(a, k), per_case(b, k))]
            low, high = metrics.bootstrap_ci(diff, users, seed=self.seed)
            out |= {key: sum(diff) / len(diff) if diff else 0.0, f"{key}_low": low, f"{key}_high": high}
        return out


#: A ranker chosen per test case: called with the case (its user), returns the ranker that answers it —
#: e.g. the popular list of the user's demographic group (:mod:`~.cold`), which a history alone cannot pick.
CaseRanker = Callable[[Case], Ranker]


def _per_case(ranker: Ranker | CaseRanker) -> CaseRanker:
    """A plain ranker answers every case; a :data:`CaseRanker` (no ``rank`` method) is already per case."""
    return (lambda case: ranker) if hasattr(ranker, "rank") else ranker  # type: ignore[return-value]


def evaluate(
    rankers: Mapping[str, Ranker | CaseRanker],
    split: Split,
    k_values: Sequence[int] = K_VALUES,
    depth: int | None = None,
    progress: bool = True,
    seed: int = SEED,
) -> Results:
    """Rank every case of ``split`` with every ranker (top ``depth``, default max K) and collect ranks."""
    depth = depth or max(k_values)
    models: dict[str, ModelResult] = {}
    for name, given in rankers.items():
        ranker_for = _per_case(given)
        ranks: list[metrics.Rank] = []
        recommended: list[list[str]] = []
        leaks = 0
        start = time.perf_counter()
        for case in tqdm(split.cases, desc=f"{split.name}: {name}", disable=not progress, leave=False):
            ids = [s.movie_id for s in ranker_for(case).rank(case.history, depth)][:depth]
            seen = {i.movie_id for i in case.history}
            leaks += sum(1 for m in ids if m in seen)
            ranks.append(metrics.rank_of(case.target, ids))
            recommended.append(ids)
        models[name] = ModelResult(name, ranks, recommended, time.perf_counter() - start, leaks)
    percentiles = metrics.popularity_percentiles(metrics.popularity_counts(split.train), split.catalog)
    return Results(split, tuple(k_values), depth, models, percentiles, seed)


Builder = Callable[..., Ranker | CaseRanker]


@dataclass(frozen=True)
class ModelSpec:
    """How to build one model from ``(train, catalog, **params)``, and the parameters to choose from."""

    build: Builder
    grid: tuple[dict[str, Any], ...] = ({},)
    #: A smaller grid for ``--quick`` (default: the full grid).
    quick_grid: tuple[dict[str, Any], ...] | None = None
    #: Validation coverage@20 a grid point needs to be chosen (when any point reaches it): a product floor
    #: on how much of the catalog the answers show, set for the served family only — the baselines are
    #: chosen by NDCG@20 alone, so a floor can only make the served ranker's comparison harder.
    min_coverage: float = 0.0
    #: A second stage: variants of the ``refine_top`` best grid points (by validation NDCG@20), scored after
    #: the grid — for knobs worth trying only where the rest is already good (ranker v2's long-tail places),
    #: which would multiply the grid if crossed with all of it.
    refine: Callable[[dict[str, Any]], tuple[dict[str, Any], ...]] | None = None
    refine_top: int = 3
    #: A last stage: variants of the chosen point for short histories (ranker v2's ``popular_below``), each
    #: scored with the chosen point on a split of 1-2-movie histories
    #: (:func:`~movierec.evaluation.split.short_validation`), the best there taken. Meant for knobs that act
    #: on short histories only, so the main choice, made without those histories, stays what it was.
    short: Callable[[dict[str, Any]], tuple[dict[str, Any], ...]] | None = None


#: What a :class:`Trial` was scored on: the validation split, or the short-history stage's split.
VALIDATION = "validation"
SHORT = "short histories"


@dataclass(frozen=True)
class Trial:
    """One grid point scored on a validation split."""

    params: dict[str, Any]
    #: NDCG@20 (:data:`SELECT_BY`): what selection maximises.
    score: float
    #: Catalog coverage@20 of the validation answers (histories of ``MIN_MOVIES - 1`` movies or more, as the
    #: leave-last-out test's: :func:`~movierec.evaluation.split.validation`): what ``ModelSpec.min_coverage``
    #: asks of a point.
    coverage: float
    #: The cases scored: :data:`VALIDATION`, or :data:`SHORT` for the short-history stage (its scores are on
    #: other cases, so they are never compared with the validation's).
    on: str = VALIDATION


def choose_params(
    name: str, spec: ModelSpec, val: Split, quick: bool = False, progress: bool = True,
    deadline: float | None = None, stop: threading.Event | None = None, short: Split | None = None,
) -> tuple[dict[str, Any], list[Trial]]:
    """The grid point with the best validation NDCG@20 (first wins ties) among those whose validation
    coverage@20 reaches ``spec.min_coverage`` (all points when none does), and every point's scores —
    the grid's, then ``spec.refine``'s variants of its ``refine_top`` best points. With a ``short``
    split of 1-2-movie histories (:func:`~movierec.evaluation.split.short_validation`) that has cases,
    ``spec.short``'s variants of that point are scored beside it there, and the best of them on ``short``
    is the choice; this stage runs even past ``deadline`` (a fit and a few hundred cases), as what a
    newcomer sees must always be chosen.

    ``val`` is a validation split: its cases are cut from training data, never a test target. With
    ``deadline`` (a ``time.monotonic()`` value) the search stops once it has passed, after at least the
    first point (grids list the defaults first), and the trail shows which points were tried; the grid
    leaves the refinement the time its points take at the grid's pace. ``stop`` cancels before any point
    (:class:`~movierec.models.cancel.Cancelled`): a search is minutes, a scheduled retrain's stop must not
    wait for it."""
    grid = (spec.quick_grid or spec.grid) if quick else spec.grid
    asks_short = spec.short is not None and short is not None and bool(short.cases)
    if len(grid) == 1 and spec.refine is None and not asks_short:
        return dict(grid[0]), []
    refined = spec.refine_top * len(spec.refine(dict(grid[0]))) if spec.refine is not None else 0
    scored: list[Trial] = []
    started = time.monotonic()
    for params in tqdm(grid, desc=f"tuning {name}", disable=not progress, leave=False):
        reserve = refined * (time.monotonic() - started) / max(len(scored), 1)
        if scored and deadline is not None and time.monotonic() > deadline - reserve:
            break
        scored.append(score_point(name, spec, val, params, stop))
    if spec.refine is not None:
        best_first = sorted(range(len(scored)), key=lambda i: (-scored[i].score, i))[: spec.refine_top]
        for params in [variant for i in best_first for variant in spec.refine(scored[i].params)]:
            if deadline is not None and time.monotonic() > deadline:
                break
            scored.append(score_point(name, spec, val, params, stop))
    eligible = [i for i, t in enumerate(scored) if t.coverage >= spec.min_coverage] or list(range(len(scored)))
    best = max(eligible, key=lambda i: (scored[i].score, -i))
    chosen = dict(scored[best].params)
    if asks_short and spec.short is not None and short is not None:
        answers = [replace(score_point(name, spec, short, p, stop), on=SHORT) for p in (chosen, *spec.short(chosen))]
        scored.extend(answers)
        chosen = dict(max(answers, key=lambda t: t.score).params)  # max keeps the first of equals: the main choice
    return chosen, scored


def score_point(name: str, spec: ModelSpec, val: Split, params: Mapping[str, Any],
                stop: threading.Event | None = None) -> Trial:  # fmt: skip
    """Build ``spec`` at ``params`` on ``val``'s training part and score it (:func:`trial`), unless
    ``stop`` is set first (:class:`~movierec.models.cancel.Cancelled`)."""
    checkpoint(stop, f"while tuning {name}")
    return trial(name, spec.build(val.train, val.catalog, **params), val, params)


def trial(name: str, ranker: Ranker | CaseRanker, val: Split, params: Mapping[str, Any]) -> Trial:
    """One grid point's validation scores (what :func:`choose_params` selects by)."""
    metric, k = SELECT_BY
    m = evaluate({name: ranker}, val, (k,), progress=False).metrics(name, k)
    return Trial(dict(params), m[metric], m["coverage"])
