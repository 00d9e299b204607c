"""Offline evaluation: every model, the same splits, the same scoring code (:mod:`~.scoring`), one run.

:func:`run_offline` is ``movierec eval offline``: for each protocol of :mod:`~.split` it chooses each
model's hyper-parameters on the validation split cut from that protocol's training histories (never a
test target) by NDCG@20, fits every model on the protocol's ``train``, evaluates them side by side and
returns the results; the caller writes ``reports/offline.md`` and the PNG plots (:mod:`~.report`), so
computing never depends on reporting.

A model enters the comparison as a :class:`ModelSpec` (how to build it from training histories, and the
parameter grid to choose from), so a new ranker is one dictionary entry::

    specs = default_specs() | {"ease": ModelSpec(build=fit_ease, grid=({"lam": 100}, {"lam": 500}))}
    run = run_offline(load_movielens(), specs)

or, directly::

    results = evaluate({"popular": PopularRanker.from_training(split.train, split.catalog)}, split, k_values=(10, 20))
    results.metrics("popular", 20)["hit_rate"]
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from movierec.evaluation import baselines
from movierec.evaluation.interactions import InteractionLog
from movierec.evaluation.scoring import K_VALUES, PLOT_DEPTH, SEED, ModelSpec, Results, Trial, choose_params, evaluate
from movierec.evaluation.split import DEFAULT_PROTOCOLS, PROTOCOLS, short_validation, validation
from movierec.ranking.popular import PopularRanker

__all__ = ["ModelSpec", "OfflineRun", "Results", "default_specs", "evaluate", "run_offline"]


#: The Markov chain's query depth: successors of the last 1 (first-order, the default) .. 5 known movies.
MARKOV_GRID = tuple({"last": n} for n in (1, 2, 3, 5))


def default_specs() -> dict[str, ModelSpec]:
    """The baselines: random, most popular, first-order Markov chain, item-kNN and ALS (``implicit``)."""
    als_grid = tuple(
        {"factors": f, "regularization": r, "alpha": a, "seed": SEED}
        for f in (32, 64, 128)
        for r in (0.01, 0.1)
        for a in (1.0, 5.0)
    )
    return {
        "random": ModelSpec(build=lambda train, catalog, **p: baselines.RandomRanker(catalog, seed=SEED)),
        "popular": ModelSpec(build=lambda train, catalog, **p: PopularRanker.from_training(train, catalog)),
        "markov": ModelSpec(build=lambda train, catalog, **p: baselines.MarkovRanker.fit(train, catalog, **p),
                            grid=MARKOV_GRID),
        "itemknn": ModelSpec(
            build=lambda train, catalog, **p: baselines.item_knn(train, catalog, **p),
            grid=tuple({"neighbours": n} for n in (10, 20, 50, 100, 200)),
            quick_grid=({"neighbours": 20}, {"neighbours": 100}),
        ),
        "als": ModelSpec(
            build=lambda train, catalog, **p: baselines.als(train, catalog, **p),
            grid=als_grid,
            quick_grid=({"factors": 64, "regularization": 0.01, "alpha": 1.0, "seed": SEED},
                        {"factors": 64, "regularization": 0.1, "alpha": 5.0, "seed": SEED}),
        ),
    }


@dataclass
class OfflineRun:
    """Everything ``movierec eval offline`` measured: results per protocol (each with its tuning trail)."""

    source: str
    results: list[Results]
    seconds: float
    #: The model the system serves: the report's paired differences are this model minus each other.
    served: str | None = None
    protocols: tuple[str, ...] = DEFAULT_PROTOCOLS
    #: Model -> the validation coverage@20 its grid point had to reach (``ModelSpec.min_coverage``), if any.
    coverage_floors: dict[str, float] = field(default_factory=dict)


def run_offline(
    log: InteractionLog,
    specs: Mapping[str, ModelSpec] | None = None,
    quick: bool = False,
    progress: bool = True,
    protocols: Sequence[str] = DEFAULT_PROTOCOLS,
    served: str | None = None,
) -> OfflineRun:
    """Per protocol: tune every model on the validation split cut from THAT protocol's training data (a
    split's training data never holds its test targets; another protocol's might), fit on the training
    data, evaluate side by side. The results; no file is written."""
    start = time.perf_counter()
    specs = dict(specs if specs is not None else default_specs())
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown:
        raise ValueError(f"unknown protocol(s) {', '.join(unknown)}; known: {', '.join(PROTOCOLS)}")
    results = []
    for protocol in protocols:
        split = PROTOCOLS[protocol](log)
        val, short = validation(split), short_validation(split)
        chosen: dict[str, dict[str, Any]] = {}
        tuning: dict[str, list[Trial]] = {}
        for name, spec in specs.items():
            chosen[name], tuning[name] = choose_params(name, spec, val, quick, progress, short=short)
        rankers = {name: spec.build(split.train, split.catalog, **chosen[name]) for name, spec in specs.items()}
        result = evaluate(rankers, split, K_VALUES, depth=PLOT_DEPTH, progress=progress)
        result.params, result.tuning = chosen, tuning
        results.append(result)
    floors = {name: spec.min_coverage for name, spec in specs.items() if spec.min_coverage}
    return OfflineRun(log.source, results, time.perf_counter() - start, served, tuple(protocols), floors)

