"""EASE and ranker v2 as models of the offline comparison (:mod:`movierec.evaluation.offline`).

- ``ease``: plain EASE (:class:`~movierec.training.ease.EaseRanker`), lambda chosen on validation — the
  strongest baseline we know on this protocol.
- ``collab-v2``: ranker v2 exactly as served — trained by :func:`~movierec.training.model.fit_collab`,
  laid onto the MovieLens-catalog index version the evaluation builds with the API's index code, scored
  by :class:`~movierec.ranking.collab.CollabRanker` (with the index's content neighbours for cold movies),
  ids translated by :class:`~movierec.evaluation.served.IdTranslatingRanker` like the served v1.

The tuning grid varies fold-in parameters that need no refit, so fits are cached per (training data,
fit parameters): one EASE inversion per lambda, not per grid point.

Usage::

    specs = default_specs() | served_specs() | v2_specs()
    run_offline(load_movielens(), specs)
"""

from __future__ import annotations

from typing import Any, Sequence

from movierec.config import Settings
from movierec.evaluation.offline import ModelSpec
from movierec.evaluation.served import IdTranslatingRanker, movielens_index
from movierec.ranking.collab import CollabRanker, FoldIn
from movierec.training.ease import EaseRanker
from movierec.training.job import ranker_for
from movierec.training.model import CollabModel, FitParams, fit_collab, translate
from movierec.ranking.vocabulary import Train

EASE_GRID = tuple({"lam": lam} for lam in (30.0, 100.0, 300.0, 1000.0))
V2_GRID = tuple(
    {"lam": lam, "tau": tau, "beta": beta}
    for lam in (100.0, 300.0)
    for tau in (5.0, 10.0, 20.0)
    for beta in (0.5, 1.0)
)

_FITS: list[tuple[Train, FitParams, CollabModel]] = []


def _fit_cached(train: Train, params: FitParams, to_index: dict[str, str]) -> CollabModel:
    """A fit per (training data object, parameters); the last four are kept (grid search reuses them)."""
    for seen, p, model in _FITS:
        if seen is train and p == params:
            return model
    model = fit_collab(translate(train, to_index), params)
    _FITS.append((train, params, model))
    del _FITS[:-4]
    return model


def _split_params(params: dict[str, Any]) -> tuple[FitParams, FoldIn]:
    fit_names = set(FitParams.__dataclass_fields__)
    fit = FitParams(**{k: v for k, v in params.items() if k in fit_names})
    return fit, FoldIn.from_dict({k: v for k, v in params.items() if k not in fit_names})


def v2_specs(settings: Settings | None = None, progress: bool = True) -> dict[str, ModelSpec]:
    """``ease`` and ``collab-v2`` as offline models (the MovieLens index is built once, then cached)."""
    index, to_index = movielens_index(settings, progress)

    def build_v2(train: Train, catalog: Sequence[str], **params: Any) -> IdTranslatingRanker:
        fit, fold = _split_params(params)
        model = _fit_cached(train, fit, to_index)
        return IdTranslatingRanker(ranker_for(index, model, fold), to_index)

    return {
        "ease": ModelSpec(build=lambda train, catalog, **p: EaseRanker.fit(train, catalog, **p), grid=EASE_GRID,
                          quick_grid=({"lam": 100.0}, {"lam": 300.0})),
        CollabRanker.name: ModelSpec(build=build_v2, grid=V2_GRID,
                                     quick_grid=tuple(g for g in V2_GRID if g["lam"] == 300.0 and g["beta"] == 1.0)),
    }
