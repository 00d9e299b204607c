"""Baseline rankers a skeptic expects beside ours, all behind :class:`movierec.ranking.base.Ranker`.

- :class:`RandomRanker` — uniform over the catalog (deterministic per history and seed): the floor.
- :class:`PopularRanker` — most popular = number of users with the movie in their TRAINING history.
- :class:`ImplicitRanker` — a fitted model of the ``implicit`` library scoring a history it never saw:
  :func:`item_knn` (cosine item-item neighbours) and :func:`als` (alternating least squares, the user
  vector folded in from the history at request time, ``recalculate_user=True``).

Every ranker is fitted on ``split.train`` only and ranks the WHOLE catalog with the history excluded.
Interactions are binary (rated = 1): the test asks "what will the user watch next", not "how much will
they like it". Reproducible to the digit: ALS takes ``random_state`` and a fixed ``num_threads``, and
BLAS runs single-threaded (:func:`single_threaded_blas`), so float sums happen in one order.

Usage::

    rankers = {"popular": PopularRanker(split.train, split.catalog),
               "als": als(split.train, split.catalog, factors=64, seed=0)}
"""

from __future__ import annotations

import random
import warnings
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator, Mapping, Sequence

import numpy as np
from scipy.sparse import csr_matrix

from movierec.evaluation.interactions import movie_order
from movierec.evaluation.metrics import popularity_counts
from movierec.models.ranking import Interaction, Scored

Train = Mapping[int, Sequence[Interaction]]

#: Threads for implicit's fitting loops; fixed so a run on another machine computes the same numbers
#: (each user's / item's solve is independent, so the result does not depend on the split of work).
NUM_THREADS = 2


@lru_cache(maxsize=1)
def _threadpools():
    """threadpoolctl's view of the loaded BLAS libraries; discovering them is slow, so it is done once."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS in one thread: implicit recommends it for ALS, and it keeps float results run-to-run stable."""
    with _threadpools().limit(limits=1, user_api="blas"):
        yield


class RandomRanker:
    """Uniformly random movies; the same history and seed always give the same list."""

    def __init__(self, catalog: Sequence[str], seed: int = 0, name: str = "random") -> None:
        self.name = name
        self._catalog = list(catalog)
        self._seed = seed

    def rank(self, history: Sequence[Interaction], k: int) -> list[Scored]:
        seen = {i.movie_id for i in history}
        # A str seed is hashed with SHA-512 by random.Random: stable across processes (unlike hash()).
        rng = random.Random(f"{self._seed}:{','.join(sorted(seen))}")
        picks = rng.sample(self._catalog, min(len(self._catalog), k + len(seen)))
        out = [m for m in picks if m not in seen][:k]
        return [Scored(m, float(k - i)) for i, m in enumerate(out)]


class PopularRanker:
    """The most popular movies the user has not seen: counts of users per movie in training."""

    def __init__(self, train: Train, catalog: Sequence[str], name: str = "popular") -> None:
        self.name = name
        counts = popularity_counts(train)
        self._order = [(m, float(counts.get(m, 0))) for m in sorted(catalog, key=lambda m: (-counts.get(m, 0), movie_order(m)))]

    def rank(self, history: Sequence[Interaction], k: int) -> list[Scored]:
        seen = {i.movie_id for i in history}
        out: list[Scored] = []
        for movie_id, count in self._order:
            if movie_id not in seen:
                out.append(Scored(movie_id, count))
                if len(out) == k:
                    break
        return out


def user_item_matrix(train: Train, catalog: Sequence[str]) -> tuple[csr_matrix, dict[str, int]]:
    """Binary users x catalog matrix of the training histories, and the movie -> column index."""
    column = {m: j for j, m in enumerate(catalog)}
    rows, cols = [], []
    for r, history in enumerate(train.values()):
        for item in history:
            j = column.get(item.movie_id)
            if j is not None:
                rows.append(r)
                cols.append(j)
    data = np.ones(len(rows), dtype=np.float32)
    matrix = csr_matrix((data, (rows, cols)), shape=(len(train), len(catalog)), dtype=np.float32)
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix, column


class ImplicitRanker:
    """Scores a history with a fitted ``implicit`` model; the history becomes a one-row user matrix."""

    def __init__(self, model, catalog: Sequence[str], column: Mapping[str, int], name: str) -> None:
        self.name = name
        # One user per call: waking a thread pool costs more than the work (30x slower measured on 2
        # busy cores), so ranking runs in the calling thread.
        model.num_threads = 1
        self._model = model
        self._catalog = list(catalog)
        self._column = column

    def _row(self, history: Sequence[Interaction]) -> csr_matrix:
        cols = sorted({self._column[i.movie_id] for i in history if i.movie_id in self._column})
        data = np.ones(len(cols), dtype=np.float32)
        return csr_matrix((data, (np.zeros(len(cols), dtype=np.int32), cols)), shape=(1, len(self._catalog)))

    def rank(self, history: Sequence[Interaction], k: int) -> list[Scored]:
        row = self._row(history)
        if row.nnz == 0:
            return []  # nothing known to fold in; the caller's fallback (if any) decides
        with single_threaded_blas():
            ids, scores = self._model.recommend(
                0, row, N=k, filter_already_liked_items=True, recalculate_user=True
            )
        seen = {i.movie_id for i in history}
        return [
            Scored(self._catalog[j], float(s))
            for j, s in zip(ids.tolist(), scores.tolist())
            if np.isfinite(s) and self._catalog[j] not in seen
        ]


def item_knn(train: Train, catalog: Sequence[str], neighbours: int = 50, name: str = "itemknn") -> ImplicitRanker:
    """Cosine item-item kNN (``implicit.nearest_neighbours.CosineRecommender``) fitted on ``train``."""
    from implicit.nearest_neighbours import CosineRecommender
    from implicit.utils import ParameterWarning

    matrix, column = user_item_matrix(train, catalog)
    model = CosineRecommender(K=neighbours, num_threads=NUM_THREADS)
    with warnings.catch_warnings():
        # CosineRecommender normalises into a COO matrix itself and then warns about its own conversion.
        warnings.simplefilter("ignore", ParameterWarning)
        model.fit(matrix, show_progress=False)
    return ImplicitRanker(model, catalog, column, name)


def als(
    train: Train,
    catalog: Sequence[str],
    factors: int = 64,
    regularization: float = 0.05,
    alpha: float = 1.0,
    iterations: int = 15,
    seed: int = 0,
    name: str = "als",
) -> ImplicitRanker:
    """Implicit ALS (``implicit.cpu.als``) fitted on ``train`` with a fixed seed and thread count."""
    from implicit.cpu.als import AlternatingLeastSquares

    matrix, column = user_item_matrix(train, catalog)
    with single_threaded_blas():  # also silences implicit's warning about a multi-threaded BLAS
        model = AlternatingLeastSquares(
            factors=factors,
            regularization=regularization,
            alpha=alpha,
            iterations=iterations,
            random_state=seed,
            num_threads=NUM_THREADS,
        )
        model.fit(matrix, show_progress=False)
    return ImplicitRanker(model, catalog, column, name)
