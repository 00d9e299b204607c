"""Ranking metrics over test cases, each from the target's 1-based rank (None = not recommended).

With one target per case:

- hit rate@K = share of cases whose target is in the top K;
- NDCG@K = mean of ``1 / log2(rank + 1)`` when rank <= K, else 0 (the ideal DCG of one relevant item is 1);
- MRR@K = mean of ``1 / rank`` when rank <= K, else 0;
- catalog coverage@K = distinct movies in all top-K lists / catalog size;
- mean popularity percentile@K = mean, over every recommended (case, movie) pair in the top K, of the
  movie's training popularity percentile (:func:`popularity_percentiles`): 100 = the most popular movie,
  ~50 = a typical one. A high value means the model mostly echoes the charts.

:func:`bootstrap_ci` resamples USERS (not cases: a user's cases are correlated) with a fixed seed.

Usage::

    ranks = [rank_of(case.target, recommended) for ...]
    hit_rate(ranks, 20), ndcg(ranks, 20), mrr(ranks, 20)
    bootstrap_ci(hits_per_case, user_of_case, seed=0)   # (low, high) at 95%
"""

from __future__ import annotations

import math
from typing import Hashable, Iterable, Mapping, Sequence

import numpy as np

# The popularity percentile is computed on the same counts the popularity baseline ranks by.
from movierec.ranking.popular import popularity_counts  # noqa: F401  (part of this module's API)

Rank = int | None


def rank_of(target: str, recommended: Sequence[str]) -> Rank:
    """1-based position of ``target`` in ``recommended``, None when absent."""
    try:
        return recommended.index(target) + 1
    except ValueError:
        return None


def hits(ranks: Sequence[Rank], k: int) -> list[float]:
    """Per-case 1.0 / 0.0: target within the top ``k``."""
    return [1.0 if r is not None and r <= k else 0.0 for r in ranks]


def gains(ranks: Sequence[Rank], k: int) -> list[float]:
    """Per-case NDCG@k with a single relevant item."""
    return [1.0 / math.log2(r + 1) if r is not None and r <= k else 0.0 for r in ranks]


def reciprocal_ranks(ranks: Sequence[Rank], k: int) -> list[float]:
    """Per-case reciprocal rank, 0 beyond ``k``."""
    return [1.0 / r if r is not None and r <= k else 0.0 for r in ranks]


def _mean(values: Sequence[float]) -> float:
    return float(sum(values) / len(values)) if values else 0.0


def hit_rate(ranks: Sequence[Rank], k: int) -> float:
    return _mean(hits(ranks, k))


def ndcg(ranks: Sequence[Rank], k: int) -> float:
    return _mean(gains(ranks, k))


def mrr(ranks: Sequence[Rank], k: int) -> float:
    return _mean(reciprocal_ranks(ranks, k))


def coverage(recommended: Iterable[Sequence[str]], catalog_size: int, k: int) -> float:
    """Distinct movies appearing in any top-``k`` list, as a share of the catalog."""
    distinct = {m for recs in recommended for m in recs[:k]}
    return len(distinct) / catalog_size if catalog_size else 0.0


def popularity_percentiles(counts: Mapping[str, int], catalog: Sequence[str]) -> dict[str, float]:
    """Percentile of each catalog movie's popularity, ties at their mid-point: 100 * (below + equal/2) / n.

    Movies never seen in training have count 0 and share the lowest percentile.
    """
    values = np.array([counts.get(m, 0) for m in catalog])
    order = np.sort(values)
    below = np.searchsorted(order, values, side="left")
    equal = np.searchsorted(order, values, side="right") - below
    pct = 100.0 * (below + equal / 2.0) / len(values)
    return dict(zip(catalog, pct.tolist()))


def mean_popularity_percentile(
    recommended: Iterable[Sequence[str]], percentiles: Mapping[str, float], k: int
) -> float:
    """Mean popularity percentile over every recommended (list, movie) pair in the top ``k``."""
    values = [percentiles.get(m, 0.0) for recs in recommended for m in recs[:k]]
    return _mean(values)


def bootstrap_ci(
    values: Sequence[float],
    groups: Sequence[Hashable],
    *,
    seed: int = 0,
    n_boot: int = 1000,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``values``, resampling whole ``groups`` (users).

    Each bootstrap sample draws as many users as there are, with replacement, and takes the mean over all
    of the drawn users' cases; the same seed gives the same interval to the digit.
    """
    if not values:
        return (0.0, 0.0)
    index = {g: i for i, g in enumerate(dict.fromkeys(groups))}
    g = np.array([index[x] for x in groups])
    sums = np.bincount(g, weights=np.asarray(values, dtype=float), minlength=len(index))
    counts = np.bincount(g, minlength=len(index)).astype(float)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(index), size=(n_boot, len(index)))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)
