"""Ranker v2: learned neighbours of the user's recent movies, content similarity for cold movies.

For a history ``h_1 .. h_n`` in time order (``h_n`` most recent; position ``p = n - i`` counts back
from it, 0 = last) the score of candidate row ``c`` is::

    a_i    = exp(-p_i / tau) * g(rating_i)                       recency x rating weight of h_i
    ease   = sum_i a_i * B[h_i, c]                                EASE neighbours (cf_idx / cf_w)
    next   = sum_{i in last L} exp(-p_i / seq_tau) g_i T[h_i, c]  "watched next" (seq_idx / seq_w)
    collab = ease / max|ease| + beta * next / max next
    score  = collab + cold_weight * content(c) [c cold] + popularity_weight * pop(c)
    score  = pop(c)                                    when n < popular_below (a short history) or n = 0

``g(r) = low_weight`` when the user rated the movie ``<= low_rating``, else 1 (unrated = 1): a movie the
user disliked hardly pulls its neighbours. ``content(c)`` is the recency-weighted mean cosine similarity
of ``c`` to the last L movies (the index's content neighbour lists), given only to COLD candidates —
movies with too few interactions to have learned neighbours, such as new ones — so they can still be
recommended. When no history movie has learned neighbours, content ranks everything. Watched movies are
excluded; ties are broken by row number, so the same inputs give the same answer.

``long_tail`` (default 0) gives the last places of the answer (the first ``long_tail_end`` = 20 places,
the course's answer size, or all ``k`` when fewer are asked) to the best-scored movies outside the
``long_tail_from`` most watched (by the model's user counts) that the places before do not hold; each
keeps its score. Places after ``long_tail_end`` (an evaluation asks for 50) continue by score, so the
first 20 of a longer list are the 20-place answer. Why: the collaborative list is drawn from the same
few hundred popular movies for everyone (on the course stream its catalog coverage@20 stays near 0.05),
while the last places of a 20-place list add few hits. Spent on the user's best less-watched candidates
they widen what the service shows (validation coverage@20 0.11 at 2 places) for 3% of validation NDCG@20,
less than the history's content neighbours cost for the same coverage (docs/evaluation.md).

Cost per request: gathers of ``len(history) x N`` neighbour entries and three ``bincount`` over the
index rows — a few milliseconds for histories of hundreds of movies (see docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Mapping, Sequence

import numpy as np

from movierec.index.loaded import MovieIndex
from movierec.models.ranking import ANSWER_SIZE, Interaction, Scored
from movierec.ranking.scores import scored_top, top_rows

NAME = "collab-v2"


@dataclass(frozen=True)
class FoldIn:
    """How a history becomes scores (no refit needed to change). Defaults chosen on validation."""

    tau: float = 10.0
    last: int = 5
    seq_tau: float = 2.0
    beta: float = 1.0
    low_rating: float = 2.0
    low_weight: float = 0.2
    cold_weight: float = 1.0
    #: Popularity's share of a score: the default only breaks ties towards popular movies; a negative
    #: weight discounts them (the tuner's refinement tries it: on the course stream's validation split
    #: -0.2 widened coverage@20 from 0.06-0.08 to 0.09-0.11 for 0-3% of NDCG@20, docs/evaluation.md).
    popularity_weight: float = 1e-3
    #: A history with fewer index movies than this is ranked by popularity alone (the model's user counts):
    #: on the course stream's validation splits v2 lost to popular for 1-2 known movies (docs/evaluation.md).
    popular_below: int = 0
    #: The last places of a top-k list given to movies outside the ``long_tail_from`` most watched (above).
    long_tail: int = 0
    long_tail_from: int = 1000
    #: Where the long-tail places end: the answer size.
    long_tail_end: int = ANSWER_SIZE

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> "FoldIn":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def _fixed_column(index: MovieIndex, name: str, dtype: type, pad: float) -> np.ndarray:
    """A fixed-size-list column as a matrix; null rows (movies added to the index after training by an
    incremental update) become padding."""
    col = index.column(name).combine_chunks()
    out = np.full((len(col), col.type.list_size), pad, dtype=dtype)
    valid = col.is_valid()
    values = col.filter(valid).flatten().to_numpy(zero_copy_only=False)
    out[valid.to_numpy(zero_copy_only=False)] = values.reshape(-1, col.type.list_size)
    return out


@dataclass(frozen=True)
class Neighbours:
    """The learned model on an index's rows (see :func:`movierec.training.model.index_columns`)."""

    cf_count: np.ndarray
    cf_idx: np.ndarray
    cf_w: np.ndarray
    seq_idx: np.ndarray
    seq_w: np.ndarray

    @classmethod
    def from_index(cls, index: MovieIndex) -> "Neighbours":
        count = index.column("cf_count").combine_chunks().fill_null(0).to_numpy().astype(np.int32)
        return cls(count, *(_fixed_column(index, name, dt, pad) for name, dt, pad in (
            ("cf_idx", np.int32, -1), ("cf_w", np.float32, 0), ("seq_idx", np.int32, -1), ("seq_w", np.float32, 0))))


def _spread(rows: np.ndarray, weights: np.ndarray, idx: np.ndarray, w: np.ndarray, n: int) -> np.ndarray:
    """sum_i weights_i * (row i's neighbour list), as a dense score vector over ``n`` rows."""
    lists, vals = idx[rows], w[rows] * weights[:, None]
    keep = lists >= 0
    return np.bincount(lists[keep], weights=vals[keep].astype(np.float64), minlength=n)


def _unit(v: np.ndarray) -> np.ndarray:
    top = np.abs(v).max() if len(v) else 0.0
    return v / top if top > 0 else v


class CollabRanker:
    """Ranker v2 over one loaded index version that carries a trained model."""

    name = NAME

    def __init__(self, index: MovieIndex, model: Neighbours, params: FoldIn = FoldIn()) -> None:
        self.index = index
        self.model = model
        self.params = params
        self._row_of = index.row_of
        self._cold = model.cf_count == 0
        pop = np.log1p(model.cf_count.astype(np.float64))
        self._pop = pop / pop.max() if pop.max() > 0 else pop
        watched_most = np.argsort(-model.cf_count, kind="stable")[: params.long_tail_from]
        self._most_watched = np.zeros(len(model.cf_count), dtype=bool)
        self._most_watched[watched_most] = True

    @classmethod
    def from_index(cls, index: MovieIndex) -> "CollabRanker":
        """The ranker the manifest describes (fold-in parameters recorded by the training job)."""
        training = index.manifest.build.get("training", {})
        return cls(index, Neighbours.from_index(index), FoldIn.from_dict(training.get("fold_in", {})))

    def _weights(self, history: Sequence[Interaction]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Known history rows in time order (stable: ties keep the caller's order), positions from the
        end, and rating weights."""
        known = [h for h in history if h.movie_id in self._row_of]
        known.sort(key=lambda h: h.last_seen)
        rows = np.array([self._row_of[h.movie_id] for h in known], dtype=np.int64)
        back = np.arange(len(rows) - 1, -1, -1, dtype=np.float64)
        p = self.params
        g = np.array([p.low_weight if h.rating is not None and h.rating <= p.low_rating else 1.0 for h in known])
        return rows, back, g

    def scores(self, history: Sequence[Interaction]) -> np.ndarray:
        """The score of every index row for this history (watched rows: -inf)."""
        p, m, n = self.params, self.model, len(self.index)
        rows, back, g = self._weights(history)
        if len(rows) < p.popular_below:
            scores = self._pop.copy()
            scores[rows] = -np.inf
            return scores
        if len(rows) == 0:  # nothing to go on: the popular list (a discount would reverse it)
            return self._pop.copy()
        scores = self._pop * p.popularity_weight
        recent = slice(max(0, len(rows) - p.last), None)
        near = np.exp(-back[recent] / p.seq_tau) * g[recent]
        content = _spread(rows[recent], near, self.index.nbr_idx, self.index.nbr_sim, n) / max(near.sum(), 1e-9)
        warm = ~self._cold[rows]
        if warm.any():
            ease = _spread(rows[warm], np.exp(-back[warm] / p.tau) * g[warm], m.cf_idx, m.cf_w, n)
            nxt = _spread(rows[recent], near, m.seq_idx, m.seq_w, n)
            for part in (ease, nxt):
                part[rows] = 0.0  # watched rows must not set the scale of the candidates' scores
            scores = scores + _unit(ease) + p.beta * _unit(nxt) + p.cold_weight * content * self._cold
        else:
            scores = scores + content
        scores[rows] = -np.inf
        return scores

    def rank(self, history: Sequence[Interaction], k: int) -> list[Scored]:
        scores = self.scores(history)
        end = min(k, self.params.long_tail_end)
        tail = min(self.params.long_tail, end)
        if not tail:
            return scored_top(self.index.ids, scores, k)
        head = top_rows(scores, end - tail)
        rest = np.where(self._most_watched, -np.inf, scores)
        rest[head] = -np.inf
        taken = np.concatenate([head, top_rows(rest, tail)])
        if len(taken) < k:  # the places after the answer, or too few long-tail candidates: by score
            others = scores.copy()
            others[taken] = -np.inf
            taken = np.concatenate([taken, top_rows(others, k - len(taken))])
        return [Scored(self.index.ids[row], float(scores[row])) for row in taken]
