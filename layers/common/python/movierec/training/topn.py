"""Per-movie top-N neighbour lists: the only part of a trained model that serving needs.

A dense item x item matrix of the 27k-movie course catalog would be ~3 GB; N neighbours per movie are
``27k x N x 8`` bytes (N = 100: 22 MB) and score a user with one gather + ``bincount`` over the history's
lists. Lists are padded with index -1 / weight 0; order is by weight desc, ties by column (deterministic).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix


def top_n_dense(weights: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` largest POSITIVE entries of each row of a dense matrix (negative weights only push
    down, and a pruned list that drops them loses little: checked in docs/evaluation.md)."""
    rows, cols = weights.shape
    kept = min(n, cols)
    part = np.argpartition(-weights, kept - 1, axis=1)[:, :kept]
    vals = np.take_along_axis(weights, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    idx = np.full((rows, n), -1, dtype=np.int32)
    w = np.zeros((rows, n), dtype=np.float32)
    idx[:, :kept] = np.take_along_axis(part, order, axis=1)
    w[:, :kept] = np.take_along_axis(vals, order, axis=1)
    idx[w <= 0] = -1
    w[w <= 0] = 0.0
    return idx, w


def top_n_sparse(matrix: csr_matrix, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` largest stored entries of each row of a sparse matrix (same layout as :func:`top_n_dense`)."""
    m = matrix.tocsr()
    idx = np.full((m.shape[0], n), -1, dtype=np.int32)
    w = np.zeros((m.shape[0], n), dtype=np.float32)
    for r in range(m.shape[0]):
        start, stop = m.indptr[r], m.indptr[r + 1]
        if start == stop:
            continue
        cols, vals = m.indices[start:stop], m.data[start:stop]
        order = np.lexsort((cols, -vals))[:n]
        idx[r, : len(order)], w[r, : len(order)] = cols[order], vals[order]
    return idx, w
