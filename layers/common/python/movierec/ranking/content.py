"""Ranker v1: the starting design done right — neighbours of watched movies, by rating, similarity, popularity.

For a history of watched movies (seeds) the score of a candidate movie ``c`` is::

    content(c) = sum_i w_i * sim(seed_i, c) [c among seed_i's k nearest neighbours] / sum_i |w_i|
    score(c)   = content(c) + popularity_weight * pop(c)

with ``w = rating - 2.5`` (unrated counts as 3, so +0.5; a 5 gives +2.5; ratings 1-2 give negative
weights that push the seed's neighbours DOWN, below movies the user has no signal about) and ``pop`` the
catalog popularity, log-scaled to [0, 1]. Watched movies are excluded; ties are broken by row number, so
the same inputs always give the same answer.

The neighbour lists are exact (brute force at index build, see :mod:`movierec.index.neighbours`), so a
request is a gather + ``bincount`` over the seeds' lists: no vector search per watched movie, cost
independent of the catalog's search structure, the same candidates an exact per-seed search would find.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from movierec.index.loaded import MovieIndex
from movierec.models.ranking import Interaction, Scored
from movierec.ranking.scores import popularity_scores, scored_top

UNRATED = 3.0
NEUTRAL = 2.5


def seed_weight(rating: float | None) -> float:
    """How much a watched movie pulls its neighbours up (positive) or pushes them down (negative)."""
    return (UNRATED if rating is None else rating) - NEUTRAL


class ContentRanker:
    """Ranker v1 over one loaded index version (built once per version, then shared by all requests)."""

    name = "content-v1"

    def __init__(self, index: MovieIndex, popularity_weight: float = 0.1) -> None:
        self.index = index
        self.popularity_weight = popularity_weight
        self._row_of = index.row_of
        #: The popularity term of every row's score (read-only: each request copies it).
        self._pop = popularity_scores(index.popularity) * popularity_weight
        self._pop.setflags(write=False)

    @classmethod
    def from_index(cls, index: MovieIndex) -> "ContentRanker":
        return cls(index)

    def scores(self, history: Sequence[Interaction]) -> np.ndarray:
        """The score of every index row for this history (watched rows: -inf)."""
        rows, weights = [], []
        for item in history:
            row = self._row_of.get(item.movie_id)
            if row is not None:
                rows.append(row)
                weights.append(seed_weight(item.rating))
        n = len(self.index)
        scores = self._pop.copy()
        if rows:
            order = np.argsort(rows, kind="stable")  # history order must not change float sums
            seeds = np.asarray(rows, dtype=np.int64)[order]
            w = np.asarray(weights, dtype=np.float64)[order]
            norm = np.abs(w).sum()
            if norm > 0:
                contrib = (w[:, None] * self.index.nbr_sim[seeds]).ravel() / norm
                scores += np.bincount(self.index.nbr_idx[seeds].ravel(), weights=contrib, minlength=n)
            scores[seeds] = -np.inf
        return scores

    def rank(self, history: Sequence[Interaction], k: int) -> list[Scored]:
        return scored_top(self.index.ids, self.scores(history), k)
