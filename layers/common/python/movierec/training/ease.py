"""EASE (Embarrassingly Shallow Autoencoder, Steck 2019): item-item weights in closed form.

With ``G = X^T X`` (co-occurrence of the binary user x item matrix) and ``P = (G + lambda I)^-1``::

    B = -P / diag(P)   (column j divided by P_jj),   diag(B) = 0

and a user's scores are ``x_u B``. There is no library for it that we would trust more than these few
lines, so it is written here and checked against a hand-computed case (tests/test_training_ease.py).
``P`` comes from a Cholesky factorisation (``G + lambda I`` is symmetric positive definite), a third of
the work of a general inverse.

:class:`EaseRanker` is EASE exactly as published (binary history, full dense weights): the baseline that
ranker v2 must beat in the offline comparison.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.linalg import lapack

from movierec.models.ranking import Interaction, Scored
from movierec.ranking.scores import scored_top
from movierec.ranking.vocabulary import Train, Vocabulary, user_item_matrix, vocabulary


def ease_weights(gram: np.ndarray, lam: float) -> np.ndarray:
    """The EASE weight matrix ``B`` (float32, zero diagonal) of a Gram matrix ``X^T X``."""
    if lam <= 0:
        raise ValueError(f"lambda must be positive, got {lam}")
    a = np.array(gram, dtype=np.float32, order="F", copy=True)
    a[np.diag_indices_from(a)] += np.float32(lam)
    chol, info = lapack.spotrf(a, lower=False, overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky factorisation failed (info={info})")
    p, info = lapack.spotri(chol, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"inverse from Cholesky failed (info={info})")
    p = np.triu(p) + np.triu(p, 1).T  # potri fills the upper triangle only
    b = p / -np.diag(p)
    np.fill_diagonal(b, 0.0)
    return np.ascontiguousarray(b, dtype=np.float32)


def fit_ease(train: Train, lam: float, min_count: int = 3, max_items: int = 10_000) -> tuple[Vocabulary, np.ndarray]:
    """Vocabulary and ``B`` fitted on ``train``."""
    vocab = vocabulary(train, min_count, max_items)
    x = user_item_matrix(train, vocab)
    gram = (x.T @ x).toarray()
    return vocab, ease_weights(gram, lam)


class EaseRanker:
    """Plain EASE: ``x_u B`` for the binary history, every vocabulary movie ranked, history excluded."""

    def __init__(self, vocab: Vocabulary, weights: np.ndarray, name: str = "ease") -> None:
        self.name = name
        self._vocab = vocab
        self._b = weights

    @classmethod
    def fit(cls, train: Train, catalog: Sequence[str] = (), lam: float = 100.0, min_count: int = 3) -> "EaseRanker":
        """Fitted on ``train`` (``catalog`` is unused: EASE can only rank movies it has weights for)."""
        return cls(*fit_ease(train, lam, min_count))

    def rank(self, history: Sequence[Interaction], k: int) -> list[Scored]:
        pos = self._vocab.position
        rows = sorted({pos[i.movie_id] for i in history if i.movie_id in pos})
        if not rows:
            return []
        scores = self._b[rows].sum(axis=0, dtype=np.float64)
        scores[rows] = -np.inf
        return scored_top(self._vocab.items, scores, k)
