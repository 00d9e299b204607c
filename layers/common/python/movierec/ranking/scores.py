"""Score-vector helpers every score-based ranker shares: top-k rows, scored answers, popularity scaling.

They belong to no single ranker (v1, v2, EASE and the popularity fallback all use them), so they live
here rather than in one ranker's module.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from movierec.models.ranking import Scored


def popularity_scores(popularity: np.ndarray) -> np.ndarray:
    """Raw popularity (heavy-tailed, 1e-5 .. 500) -> [0, 1] by log1p and max-scaling."""
    logged = np.log1p(np.clip(popularity, 0.0, None))
    top = logged.max() if len(logged) else 0.0
    return (logged / top if top > 0 else logged).astype(np.float64)


def top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the ``k`` highest finite scores, best first, ties by row number (deterministic)."""
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    finite = np.flatnonzero(np.isfinite(scores))
    if len(finite) > k:
        # Keep every row tied with the k-th score so the tie-break below, not argpartition, decides.
        kth = np.partition(scores[finite], len(finite) - k)[len(finite) - k]
        finite = finite[scores[finite] >= kth]
    order = np.lexsort((finite, -scores[finite]))
    return finite[order][:k]


def scored_top(ids: Sequence[str], scores: np.ndarray, k: int) -> list[Scored]:
    """The ``k`` best rows of a score vector as :class:`Scored` movies (what every score-based ranker returns)."""
    return [Scored(ids[row], float(scores[row])) for row in top_rows(scores, k)]
