"""Baseline rankers a skeptic expects beside ours, all behind :class:`movierec.ranking.base.Ranker`.

- :class:`RandomRanker` — uniform over the catalog (deterministic per history and seed): the floor.
- :class:`~movierec.ranking.popular.PopularRanker` (``from_training``) — most popular = number of users
  with the movie in their TRAINING history (the serving fallback's class, fed from training data).
- :class:`MarkovRanker` — a first-order Markov chain: how often movie ``j`` came directly after the
  user's most recent movie in training histories; the sequence baseline a "next movie" model must beat.
- :class:`ImplicitRanker` — a fitted model of the ``implicit`` library scoring a history it never saw:
  :func:`item_knn` (cosine item-item neighbours) and :func:`als` (alternating least squares, the user
  vector folded in from the history at request time, ``recalculate_user=True``).

Every ranker is fitted on ``split.train`` only and ranks the WHOLE catalog with the history excluded.
Interactions are binary (rated = 1): the test asks "what will the user watch next", not "how much will
they like it". Reproducible to the digit: ALS takes ``random_state`` and a fixed ``num_threads``, and
BLAS runs single-threaded (:class:`BlasLimit`), so float sums happen in one order.

Usage::

    rankers = {"popular": PopularRanker.from_training(split.train, split.catalog),
               "markov": MarkovRanker.fit(split.train, split.catalog),
               "als": als(split.train, split.catalog, factors=64, seed=0)}
"""

from __future__ import annotations

import random
import warnings
from contextlib import contextmanager
from typing import Iterator, Mapping, Sequence

import numpy as np
from scipy.sparse import csr_matrix

from movierec.models.ranking import Interaction, Scored
from movierec.ranking.popular import popularity_counts
from movierec.ranking.scores import scored_top
from movierec.ranking.vocabulary import Train, Vocabulary, user_item_matrix

#: Threads for implicit's fitting loops; fixed so a run on another machine computes the same numbers
#: (each user's / item's solve is independent, so the result does not depend on the split of work).
NUM_THREADS = 2


class BlasLimit:
    """BLAS in one thread: implicit recommends it for ALS, and it keeps float results run-to-run stable.

    threadpoolctl's discovery of the loaded BLAS libraries is slow (it would dominate a per-user
    ``rank``), so one object does it once and is kept by the ranker that needs it.
    """

    def __init__(self) -> None:
        from threadpoolctl import ThreadpoolController

        self._controller = ThreadpoolController()

    @contextmanager
    def single_threaded(self) -> Iterator[None]:
        with self._controller.limit(limits=1, user_api="blas"):
            yield


def catalog_matrix(train: Train, catalog: Sequence[str]) -> tuple[csr_matrix, dict[str, int]]:
    """Binary users x catalog matrix of the training histories, and the movie -> column index."""
    vocab = Vocabulary(tuple(catalog), np.zeros(len(catalog), dtype=np.int64))
    return user_item_matrix(train, vocab), vocab.position


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


class MarkovRanker:
    """First-order Markov chain over the catalog: next-movie counts of the most recent known movie.

    ``score(j) = count(last -> j) + popularity(j) / (max popularity + 1)``: the popularity term is below 1,
    so it only orders movies with equal transition counts (and ranks everything after the user's
    last movie's successors). ``last`` is the most recent history movie that has any successor in
    training; with none, the list is plain popularity. With ``last > 1`` (tuned on validation) the
    successor counts of the ``last`` most recent such movies are summed, the p-th most recent weighted
    ``1 / p`` (still first-order transitions; only the query looks further back).
    """

    def __init__(self, transitions: csr_matrix, popularity: np.ndarray, catalog: Sequence[str],
                 name: str = "markov", last: int = 1) -> None:  # fmt: skip
        self.name = name
        self._t = transitions
        self._pop = popularity / (popularity.max() + 1.0) if len(popularity) else popularity
        self._catalog = list(catalog)
        self._column = {m: j for j, m in enumerate(self._catalog)}
        self._last = max(1, last)

    @classmethod
    def fit(cls, train: Train, catalog: Sequence[str], name: str = "markov", last: int = 1) -> "MarkovRanker":
        column = {m: j for j, m in enumerate(catalog)}
        src: list[int] = []
        dst: list[int] = []
        for history in train.values():
            cols = [column[i.movie_id] for i in history if i.movie_id in column]
            src.extend(cols[:-1])
            dst.extend(cols[1:])
        n = len(catalog)
        t = csr_matrix((np.ones(len(src), dtype=np.float64), (src, dst)), shape=(n, n))  # duplicates summed
        t.setdiag(0.0)
        t.eliminate_zeros()
        counts = popularity_counts(train)
        return cls(t, np.array([counts.get(m, 0) for m in catalog], dtype=np.float64), catalog, name, last)

    def rank(self, history: Sequence[Interaction], k: int) -> list[Scored]:
        known = [self._column[i.movie_id] for i in sorted(history, key=lambda i: i.last_seen) if i.movie_id in self._column]
        scores = self._pop.copy()
        used = 0
        for col in reversed(known):
            start, stop = self._t.indptr[col], self._t.indptr[col + 1]
            if stop > start:
                used += 1
                scores[self._t.indices[start:stop]] += self._t.data[start:stop] / used
                if used == self._last:
                    break
        scores[known] = -np.inf
        return scored_top(self._catalog, scores, k)


class ImplicitRanker:
    """Scores a history with a fitted ``implicit`` model; the history becomes a one-row user matrix."""

    def __init__(self, model, catalog: Sequence[str], column: Mapping[str, int], name: str,
                 blas: BlasLimit | None = None) -> None:  # fmt: skip
        self.name = name
        self._blas = blas or BlasLimit()
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
        with self._blas.single_threaded():
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

    matrix, column = catalog_matrix(train, catalog)
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

    matrix, column = catalog_matrix(train, catalog)
    blas = BlasLimit()
    with blas.single_threaded():  # also silences implicit's warning about a multi-threaded BLAS
        model = AlternatingLeastSquares(
            factors=factors,
            regularization=regularization,
            alpha=alpha,
            iterations=iterations,
            random_state=seed,
            num_threads=NUM_THREADS,
        )
        model.fit(matrix, show_progress=False)
    return ImplicitRanker(model, catalog, column, name, blas)
