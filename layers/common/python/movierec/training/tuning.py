"""``movierec train``'s tuner: a validation split cut from its own training data, a bounded and
time-boxed grid search over every model family, and the choice it records in the manifest.

:func:`tune` takes TRAINING HISTORIES only (a mapping of user -> interactions, never a split with test
cases), cuts each user's last training movie off as the validation target
(:func:`movierec.evaluation.split.validation`), and scores every grid point of every family on it with
the evaluation's own scoring code (NDCG@20, :func:`movierec.evaluation.scoring.choose_params`; ranker v2
among the points whose validation coverage@20 reaches its floor, ``Settings.min_coverage``). The
search is time-boxed: the families share ``budget_s`` (each gets an equal part of what is left when its
turn comes, and at least its first grid point — grids list the defaults first).

The served family (ranker v2, whose grid holds its variants, an EASE-equivalent among them) is what
training publishes; the baselines (popular, Markov, dense EASE, ALS) cannot be served as they are, but
are tuned all the same: the best of them on validation is what the gate then makes the candidate beat on
the fresh holdout (:mod:`~.gate`). :class:`Tuning` is the record (chosen parameters, every family's grid
and scores, the best family overall, whether the budget cut the search short).

Usage::

    specs = train_specs(index)
    tuning = tune(holdout.train, catalog, specs, budget_s=240)
    tuning.params, tuning.best_baseline, tuning.to_dict()
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from movierec.evaluation import baselines
from movierec.evaluation.offline import MARKOV_GRID
from movierec.evaluation.scoring import VALIDATION, ModelSpec, Trial, choose_params, score_point
from movierec.evaluation.split import Split, short_validation, validation
from movierec.index.loaded import MovieIndex
from movierec.ranking.collab import NAME
from movierec.ranking.popular import PopularRanker
from movierec.ranking.vocabulary import Train
from movierec.training.families import ease_spec, v2_spec

SEED = 0
ALS_GRID = ({"factors": 64, "regularization": 0.01, "alpha": 1.0, "seed": SEED},
            {"factors": 128, "regularization": 0.1, "alpha": 5.0, "seed": SEED})  # fmt: skip


def train_specs(index: MovieIndex, prior: Train | None = None, min_coverage: float = 0.0,
                side: Mapping[str, Sequence[str]] | None = None) -> dict[str, ModelSpec]:  # fmt: skip
    """The families training tunes: the baselines first (cheap), then ranker v2 over ``index`` (each of
    its grid points without and with ``prior``, when there is one, at each weight of the index's side
    features ``side``; chosen under ``min_coverage``)."""
    return {
        "popular": ModelSpec(build=lambda train, catalog, **p: PopularRanker.from_training(train, catalog)),
        "markov": ModelSpec(build=lambda train, catalog, **p: baselines.MarkovRanker.fit(train, catalog, **p), grid=MARKOV_GRID),
        "ease": ease_spec(),
        "als": ModelSpec(build=lambda train, catalog, **p: baselines.als(train, catalog, **p), grid=ALS_GRID),
        NAME: v2_spec(index, prior=prior, min_coverage=min_coverage, side=side),
    }


@dataclass(frozen=True)
class Tuning:
    """What the tuner chose and everything it tried (the manifest's ``training.tuning``)."""

    #: The served family's chosen grid point.
    params: dict[str, Any]
    #: The family with the best validation NDCG@20 overall (may be a baseline that cannot be served).
    best_family: str
    #: The best baseline on validation and its parameters: what the gate makes the candidate beat.
    best_baseline: str
    baseline_params: dict[str, Any]
    #: family -> every grid point tried and its validation NDCG@20 and coverage@20.
    grid: dict[str, list[Trial]]
    #: family -> its best validation NDCG@20.
    validation: dict[str, float]
    validation_cases: int
    budget_s: float
    seconds: float
    #: family -> grid points not tried because the budget ran out.
    skipped: dict[str, int]
    #: family -> the validation coverage@20 its chosen point had to reach (``ModelSpec.min_coverage``), if any.
    min_coverage: dict[str, float]

    def to_dict(self) -> dict[str, object]:
        return {
            "selected_by": "validation ndcg@20",
            "min_coverage": self.min_coverage,
            "served_family": NAME,
            "params": self.params,
            "best_family": self.best_family,
            "best_baseline": {"name": self.best_baseline, "params": self.baseline_params},
            "validation": {"cases": self.validation_cases, "ndcg@20": self.validation},
            "grid": {name: [{"params": t.params, "ndcg@20": round(t.score, 6), "coverage@20": round(t.coverage, 6)}
                            | ({"on": t.on} if t.on != VALIDATION else {}) for t in trail]
                     for name, trail in self.grid.items()},  # fmt: skip
            "budget_s": self.budget_s,
            "seconds": round(self.seconds, 2),
            "skipped": self.skipped,
        }


def tune(train: Train, catalog: Sequence[str], specs: Mapping[str, ModelSpec], budget_s: float,
         served: str = NAME, stop: threading.Event | None = None) -> Tuning:  # fmt: skip
    """Tune every family of ``specs`` on a validation split of ``train`` within ``budget_s`` seconds;
    ``stop`` cancels before any grid point (:class:`~movierec.models.cancel.Cancelled`)."""
    started = time.monotonic()
    data = Split(name="training data", train=train, cases=(), catalog=tuple(catalog))
    val, short = validation(data), short_validation(data)
    grid: dict[str, list[Trial]] = {}
    chosen: dict[str, dict[str, Any]] = {}
    skipped: dict[str, int] = {}
    names = list(specs)
    for i, name in enumerate(names):
        spec = specs[name]
        left = budget_s - (time.monotonic() - started)
        deadline = time.monotonic() + max(0.0, left) / (len(names) - i)
        params, trail = choose_params(name, spec, val, progress=False, deadline=deadline, stop=stop, short=short)
        if not trail:  # a single grid point: score it too, the family comparison needs every score
            trail = [score_point(name, spec, val, params, stop)]
        chosen[name], grid[name] = params, trail
        skipped[name] = len(spec.grid) - sum(1 for t in trail if t.on == VALIDATION and t.params in spec.grid)
    best = {name: max(t.score for t in trail if t.on == VALIDATION) for name, trail in grid.items()}
    baselines_only = [n for n in names if n != served]
    best_baseline = max(baselines_only, key=lambda n: best[n]) if baselines_only else ""
    return Tuning(
        params=chosen.get(served, {}), best_family=max(best, key=best.__getitem__), best_baseline=best_baseline,
        baseline_params=chosen.get(best_baseline, {}), grid=grid, validation=best, validation_cases=len(val.cases),
        budget_s=budget_s, seconds=time.monotonic() - started, skipped={k: v for k, v in skipped.items() if v},
        min_coverage={name: spec.min_coverage for name, spec in specs.items() if spec.min_coverage},
    )  # fmt: skip
